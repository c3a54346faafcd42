import type pg from 'pg';
import type { IdKind, SourceRow } from '../core/types.js';
import { quoteIdent, quoteQualified, type Queryable } from './pool.js';

// Reads connectors by column name from source.table (a table or a view).
// Optional columns may be absent; the worker never changes the table's schema.

const INTEGER_TYPES = new Set([20, 21, 23]); // int8, int2, int4
type OptionalColumn =
  'schedule' | 'timezone' | 'is_active' | 'parameters' | 'deleted_at' | 'prefect_deployment_id';

export interface SourceSnapshot {
  rows: SourceRow[];
  idKind: IdKind;
  hasDeploymentIdColumn: boolean;
}

export class SourceError extends Error {}

/** Reads every connector, or only those whose id (as text) is in `onlyIds`. */
export async function readSource(
  db: Queryable,
  table: string,
  onlyIds?: string[],
): Promise<SourceSnapshot> {
  const name = quoteQualified(table);
  let fields: pg.FieldDef[];
  try {
    fields = (await db.query(`SELECT * FROM ${name} LIMIT 0`)).fields;
  } catch (error) {
    if (isPgError(error) && error.code === '42P01') {
      throw new SourceError(`source table "${table}" does not exist (source.table)`);
    }
    throw error;
  }
  const columns = new Map(fields.map((f) => [f.name, f.dataTypeID]));
  const missing = ['id', 'name'].filter((c) => !columns.has(c));
  if (missing.length > 0) {
    throw new SourceError(
      `source table "${table}" lacks required column(s): ${missing.join(', ')}; expose them through a view`,
    );
  }
  const has = (column: OptionalColumn): boolean => columns.has(column);
  const select = [
    'id::text AS id',
    'name',
    has('schedule') ? 'schedule' : 'NULL AS schedule',
    has('timezone') ? 'timezone' : 'NULL AS timezone',
    has('is_active') ? 'is_active' : 'NULL AS is_active',
    // As text, so size, NUL bytes and non-object values are judged exactly as stored.
    has('parameters') ? 'parameters::text AS parameters' : 'NULL AS parameters',
    has('deleted_at') ? 'deleted_at IS NOT NULL AS deleted' : 'false AS deleted',
    has('prefect_deployment_id')
      ? 'prefect_deployment_id::text AS prefect_deployment_id'
      : 'NULL AS prefect_deployment_id',
  ];
  const result = await db.query<{
    id: string | null;
    name: unknown;
    schedule: unknown;
    timezone: unknown;
    is_active: unknown;
    parameters: unknown;
    deleted: boolean | null;
    prefect_deployment_id: string | null;
  }>(
    `SELECT ${select.join(', ')} FROM ${name}${onlyIds ? ' WHERE id::text = ANY($1::text[])' : ''} ORDER BY 1`,
    onlyIds ? [onlyIds] : [],
  );
  const rows: SourceRow[] = result.rows
    .filter((r) => r.id !== null)
    .map((r) => ({
      id: r.id ?? '',
      name: r.name,
      schedule: r.schedule,
      timezone: r.timezone,
      isActive: r.is_active,
      parameters: r.parameters,
      deleted: r.deleted === true,
      prefectDeploymentId: r.prefect_deployment_id,
    }));
  return {
    rows,
    idKind: INTEGER_TYPES.has(columns.get('id') ?? 0) ? 'number' : 'string',
    hasDeploymentIdColumn: has('prefect_deployment_id'),
  };
}

/** The one write the worker makes to the source: the deployment id of a connector. */
export async function writeBackDeploymentId(
  db: Queryable,
  table: string,
  connectorId: string,
  deploymentId: string | null,
): Promise<void> {
  await db.query(
    `UPDATE ${quoteQualified(table)} SET ${quoteIdent('prefect_deployment_id')} = $1
      WHERE id = $2 AND prefect_deployment_id IS DISTINCT FROM $1`,
    [deploymentId, connectorId],
  );
}

export function isPgError(error: unknown): error is Error & { code: string } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string';
}
