import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { shippedViews } from '../harness/monitoring.js';
import { handMadeDeployment } from '../harness/prefect-api.js';

// The dashboard views of migration 004 (docs/guides/operating.md, "Dashboard") after real passes
// (`run --once`) against the real Prefect: the numbers they give are the tables' numbers, and
// a read-only role granted only the views reads them and not the tables.

const S = 'connector_sync';
let env: TestEnv;
let ids: string[];
const roles: string[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  ids = await insertConnectors(
    env,
    Array.from({ length: 4 }, (_, i) => ({ name: `view-${i}`, schedule: `${i} 8 * * *` })),
  );
  await insertConnectors(env, [
    { name: 'bad timezone', schedule: '0 1 * * *', timezone: 'Mars/X' },
  ]);
  const [taken] = await insertConnectors(env, [{ name: 'taken', schedule: '0 2 * * *' }]);
  await handMadeDeployment(env.apiUrl, env.flowName, `connector-${taken}`);
  // run --once, not a pass in this process: only a real command records its pass.
  const first = await env.cli(['run', '--once', '--json']);
  expect(first.code, first.stderr).toBe(1); // problems: the invalid and the conflicting row
  expect(JSON.parse(first.stdout).problems).toHaveLength(2);
});

afterAll(async () => {
  await env?.cleanup();
  const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  for (const role of roles) await admin.query(`DROP ROLE IF EXISTS ${role}`);
  await admin.end();
});

/** The rows of a query as plain objects, sorted by their JSON for comparing. */
async function rowsOf(sql: string): Promise<Record<string, unknown>[]> {
  const rows = await env.sql(sql);
  return rows
    .map((r) => ({ ...r }))
    .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

async function changesByAction(): Promise<Record<string, number>> {
  const rows = await env.sql<{ action: string; changes: number }>(
    `SELECT action, sum(changes)::int AS changes FROM ${S}.changes_per_hour GROUP BY action`,
  );
  return Object.fromEntries(rows.map((r) => [r.action, r.changes]));
}

describe('the dashboard views after real passes', () => {
  it('status_counts: connectors by status, as the state table has them', async () => {
    expect(await rowsOf(`SELECT status, connectors FROM ${S}.status_counts`)).toEqual([
      { status: 'conflict', connectors: 1 },
      { status: 'invalid', connectors: 1 },
      { status: 'synced', connectors: 4 },
    ]);
  });

  it('connector_problems: the invalid and the conflicting connector, with their problem', async () => {
    const problems = await env.sql(
      `SELECT status, last_error FROM ${S}.connector_problems ORDER BY status`,
    );
    expect(problems).toEqual([
      { status: 'conflict', last_error: expect.stringContaining('managed tag') },
      { status: 'invalid', last_error: expect.stringContaining('Mars/X') },
    ]);
  });

  it('changes_per_hour and passes_per_hour count the events and passes, in whole UTC hours', async () => {
    expect(await changesByAction()).toEqual({ created: 4 });
    const passes = await env.sql(
      `SELECT kind, result, passes, avg_duration_ms, max_duration_ms,
              extract(epoch FROM hour)::bigint % 3600 AS past_the_hour
         FROM ${S}.passes_per_hour`,
    );
    expect(passes).toEqual([
      {
        kind: 'full',
        result: 'problems',
        passes: 1,
        avg_duration_ms: expect.any(Number),
        max_duration_ms: expect.any(Number),
        past_the_hour: '0',
      },
    ]);
    const hours = await env.sql(
      `SELECT DISTINCT extract(epoch FROM hour)::bigint % 3600 AS past_the_hour FROM ${S}.changes_per_hour`,
    );
    expect(hours).toEqual([{ past_the_hour: '0' }]);

    // A pause and a delete: two more changes; the problem events are not changes.
    await env.sql(`UPDATE cai_connectors SET is_active = false WHERE id = $1`, [ids[0]]);
    await env.sql(`DELETE FROM cai_connectors WHERE id = $1`, [ids[1]]);
    const second = await env.cli(['run', '--once']);
    expect(second.code, second.stderr).toBe(1);
    expect(await changesByAction()).toEqual({ created: 4, paused: 1, deleted: 1 });
    const [total] = await env.sql<{ passes: number }>(
      `SELECT sum(passes)::int AS passes FROM ${S}.passes_per_hour`,
    );
    expect(total!.passes).toBe(2);
    expect(await rowsOf(`SELECT status, connectors FROM ${S}.status_counts`)).toEqual(
      await rowsOf(
        `SELECT status, count(*)::int AS connectors FROM ${S}.connector_state GROUP BY status`,
      ),
    );
  });

  it('a dashboard role with SELECT on the views only reads them, not the tables', async () => {
    const role = `cs_dashboard_${env.id}`;
    await env.sql(`CREATE ROLE ${role} LOGIN`);
    roles.push(role);
    const views = shippedViews();
    expect(views.sort()).toEqual(
      ['changes_per_hour', 'connector_problems', 'passes_per_hour', 'status_counts'].sort(),
    );
    await env.sql(`GRANT USAGE ON SCHEMA ${S} TO ${role}`);
    await env.sql(`GRANT SELECT ON ${views.map((v) => `${S}.${v}`).join(', ')} TO ${role}`);
    const db = new pg.Client({
      connectionString: env.databaseUrl.replace('postgres@', `${role}@`),
    });
    await db.connect();
    try {
      for (const view of views) {
        const { rows } = await db.query(`SELECT * FROM ${S}.${view}`);
        expect(rows.length, view).toBeGreaterThan(0);
      }
      for (const table of ['events', 'connector_state', 'passes'])
        await expect(db.query(`SELECT 1 FROM ${S}.${table} LIMIT 1`)).rejects.toMatchObject({
          code: '42501',
        });
    } finally {
      await db.end();
    }
  });
});
