import type pg from 'pg';
import type { CheckedRunHealth, RunHealth, RunHealthVerdict } from '../domain/run-health.js';
import { quoteIdent, withTransaction, type Queryable } from './pool.js';

// <schema>.run_health: each managed deployment's run health as the last full
// pass read it (domain/run-health.ts). Written whole, read by status, the ops
// API and the console.

interface RunHealthRecord {
  connector_id: string;
  deployment_id: string;
  readiness: string | null;
  health: RunHealthVerdict;
  last_run_state: string | null;
  last_run_state_type: string | null;
  last_run_at: Date | null;
  runs_late: number;
  failed_runs: number;
  runs_considered: number;
  checked_at: Date;
}

/** Replaces every row with a full pass's reading, in one transaction (one row a connector). */
export async function replaceRunHealth(
  pool: pg.Pool,
  schema: string,
  rows: RunHealth[],
  checkedAt: Date,
): Promise<void> {
  const records = [...new Map(rows.map((r) => [r.connectorId, toRecord(r, checkedAt)])).values()];
  const s = quoteIdent(schema);
  await withTransaction(pool, async (client) => {
    await client.query(`DELETE FROM ${s}.run_health`);
    if (records.length === 0) return;
    await client.query(
      `INSERT INTO ${s}.run_health
         (connector_id, deployment_id, readiness, health, last_run_state, last_run_state_type,
          last_run_at, runs_late, failed_runs, runs_considered, checked_at)
       SELECT connector_id, deployment_id, readiness, health, last_run_state, last_run_state_type,
              last_run_at, runs_late, failed_runs, runs_considered, checked_at
         FROM jsonb_to_recordset($1::jsonb) AS x(connector_id text, deployment_id uuid,
              readiness text, health text, last_run_state text, last_run_state_type text,
              last_run_at timestamptz, runs_late integer, failed_runs integer,
              runs_considered integer, checked_at timestamptz)`,
      [JSON.stringify(records)],
    );
  });
}

/** Run health by connector id: every connector's, or those of `ids`. */
export async function loadRunHealth(
  db: Queryable,
  schema: string,
  ids?: readonly string[],
): Promise<Map<string, CheckedRunHealth>> {
  const result = await db.query<RunHealthRecord>(
    `SELECT connector_id, deployment_id, readiness, health, last_run_state, last_run_state_type,
            last_run_at, runs_late, failed_runs, runs_considered, checked_at
       FROM ${quoteIdent(schema)}.run_health
      ${ids ? 'WHERE connector_id = ANY($1::text[])' : ''}`,
    ids ? [ids] : [],
  );
  return new Map(result.rows.map((r) => [r.connector_id, fromRecord(r)]));
}

function toRecord(r: RunHealth, checkedAt: Date): RunHealthRecord {
  return {
    connector_id: r.connectorId,
    deployment_id: r.deploymentId,
    readiness: r.readiness,
    health: r.health,
    last_run_state: r.lastRunState,
    last_run_state_type: r.lastRunStateType,
    last_run_at: r.lastRunAt,
    runs_late: r.runsLate,
    failed_runs: r.failedRuns,
    runs_considered: r.runsConsidered,
    checked_at: checkedAt,
  };
}

function fromRecord(r: RunHealthRecord): CheckedRunHealth {
  return {
    connectorId: r.connector_id,
    deploymentId: r.deployment_id,
    readiness: r.readiness,
    health: r.health,
    lastRunState: r.last_run_state,
    lastRunStateType: r.last_run_state_type,
    lastRunAt: r.last_run_at,
    runsLate: r.runs_late,
    failedRuns: r.failed_runs,
    runsConsidered: r.runs_considered,
    checkedAt: r.checked_at,
  };
}
