import type pg from 'pg';
import type { SourceRow, SourceSnapshot } from '../domain/types.js';
import { ConfigurationError } from '../domain/errors.js';
import { quoteIdent, quoteQualified, type Queryable } from './pool.js';

// Reads connectors by column name from source.table (a table or a view).
// Optional columns may be absent; the worker never changes the table's schema.

const INTEGER_TYPES = new Set([20, 21, 23]); // int8, int2, int4
type OptionalColumn =
  | 'schedule'
  | 'timezone'
  | 'is_active'
  | 'parameters'
  | 'deleted_at'
  | 'prefect_deployment_id'
  | 'work_pool_name'
  | 'work_queue_name'
  | 'job_variables'
  | 'tags'
  | 'concurrency_limit';

/** The source table is not there or lacks a required column: a configuration problem. */
export class SourceError extends ConfigurationError {
  constructor(message: string) {
    super([message]);
    this.name = 'SourceError';
  }
}

/**
 * The columns a pass reads, by name: how each is selected when the table has
 * it, and what stands in for it when it does not (only id and name are required).
 */
const SOURCE_COLUMNS: { column: OptionalColumn; present: string; absent: string }[] = [
  { column: 'schedule', present: 'schedule', absent: 'NULL AS schedule' },
  { column: 'timezone', present: 'timezone', absent: 'NULL AS timezone' },
  { column: 'is_active', present: 'is_active', absent: 'NULL AS is_active' },
  // As text, so size, NUL bytes and non-object values are judged exactly as stored.
  { column: 'parameters', present: 'parameters::text AS parameters', absent: 'NULL AS parameters' },
  {
    column: 'deleted_at',
    present: 'deleted_at IS NOT NULL AS deleted',
    absent: 'false AS deleted',
  },
  {
    column: 'prefect_deployment_id',
    present: 'prefect_deployment_id::text AS prefect_deployment_id',
    absent: 'NULL AS prefect_deployment_id',
  },
  // Per-connector settings (docs/concepts/connectors-and-deployments.md, "Per-connector settings"): each optional.
  { column: 'work_pool_name', present: 'work_pool_name', absent: 'NULL AS work_pool_name' },
  { column: 'work_queue_name', present: 'work_queue_name', absent: 'NULL AS work_queue_name' },
  {
    column: 'job_variables',
    present: 'job_variables::text AS job_variables',
    absent: 'NULL AS job_variables',
  },
  // text[] comes as an array; as text a jsonb array parses the same way.
  { column: 'tags', present: 'to_jsonb(tags)::text AS tags', absent: 'NULL AS tags' },
  // As text: a bigint past 2^53 must not round quietly.
  {
    column: 'concurrency_limit',
    present: 'concurrency_limit::text AS concurrency_limit',
    absent: 'NULL AS concurrency_limit',
  },
];

interface SourceRecord {
  id: string | null;
  name: unknown;
  schedule: unknown;
  timezone: unknown;
  is_active: unknown;
  parameters: unknown;
  deleted: boolean | null;
  prefect_deployment_id: string | null;
  work_pool_name: unknown;
  work_queue_name: unknown;
  job_variables: unknown;
  tags: unknown;
  concurrency_limit: unknown;
}

/** Reads every connector, or only those whose id (as text) is in `onlyIds`. */
export async function readSource(
  db: Queryable,
  table: string,
  onlyIds?: string[],
): Promise<SourceSnapshot> {
  const columns = await sourceColumns(db, table);
  const select = [
    'id::text AS id',
    'name',
    ...SOURCE_COLUMNS.map((c) => (columns.has(c.column) ? c.present : c.absent)),
  ];
  const result = await db.query<SourceRecord>(
    `SELECT ${select.join(', ')} FROM ${quoteQualified(table)}${onlyIds ? ' WHERE id::text = ANY($1::text[])' : ''} ORDER BY 1`,
    onlyIds ? [onlyIds] : [],
  );
  return {
    rows: result.rows.filter((r) => r.id !== null).map(sourceRow),
    idKind: INTEGER_TYPES.has(columns.get('id') ?? 0) ? 'number' : 'string',
    hasDeploymentIdColumn: columns.has('prefect_deployment_id'),
  };
}

/** The source's columns (name → type oid); a missing table or required column is a SourceError. */
async function sourceColumns(db: Queryable, table: string): Promise<Map<string, number>> {
  let fields: pg.FieldDef[];
  try {
    fields = (await db.query(`SELECT * FROM ${quoteQualified(table)} LIMIT 0`)).fields;
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
  return columns;
}

function sourceRow(r: SourceRecord): SourceRow {
  return {
    id: r.id ?? '',
    name: r.name,
    schedule: r.schedule,
    timezone: r.timezone,
    isActive: r.is_active,
    parameters: r.parameters,
    deleted: r.deleted === true,
    prefectDeploymentId: r.prefect_deployment_id,
    workPoolName: r.work_pool_name,
    workQueueName: r.work_queue_name,
    jobVariables: r.job_variables,
    tags: r.tags,
    concurrencyLimit: r.concurrency_limit,
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
