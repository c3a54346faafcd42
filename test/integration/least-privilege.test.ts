import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readMigrations } from '../../src/postgres/migrate.js';
import { createTestEnv, insertConnectors, runCli, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';

// The database roles docs/guides/security.md promises are enough, as real roles on
// the real Postgres: only `migrate` (and `run` on a schema that is behind)
// does DDL; `status`, `events` and `plan` only read; a schema that does not
// exist is one line and exit 64, never created by anything but `migrate`.
// Roles are cluster-wide: each gets the test's id and is dropped at the end.

const SCHEMA = 'connector_sync';
const envs: TestEnv[] = [];
const roles: string[] = [];

afterAll(async () => {
  // The databases go first, so the roles own nothing any more when they are dropped.
  for (const env of envs) await env.cleanup();
  if (roles.length === 0) return;
  const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  try {
    for (const role of roles) await admin.query(`DROP ROLE IF EXISTS ${role}`);
  } finally {
    await admin.end();
  }
});

async function newEnv(options: Parameters<typeof createTestEnv>[0] = {}): Promise<TestEnv> {
  const env = await createTestEnv(options);
  envs.push(env);
  return env;
}

/** A login role (trust auth on 127.0.0.1) with no privileges beyond PUBLIC's. */
async function createRole(env: TestEnv, kind: string): Promise<{ name: string; url: string }> {
  const name = `cs_${kind}_${env.id}`;
  await env.sql(`CREATE ROLE ${name} LOGIN`);
  roles.push(name);
  return { name, url: env.databaseUrl.replace('postgres@', `${name}@`) };
}

/** The test's config file with some keys changed, as a new file. */
function configFileWith(env: TestEnv, overrides: Record<string, unknown>): string {
  const base = parse(readFileSync(env.configFile, 'utf8')) as Record<string, unknown>;
  const file = join(mkdtempSync(join(tmpdir(), 'cs-priv-')), 'config.yaml');
  writeFileSync(file, stringify({ ...base, ...overrides }));
  return file;
}

/** Everything the commands could create or change, in the database and in Prefect. */
async function snapshot(env: TestEnv): Promise<unknown> {
  const [db] = await env.sql(
    `SELECT json_build_object(
       'schemas', (SELECT json_agg(nspname ORDER BY nspname) FROM pg_namespace),
       'relations', (SELECT json_agg(relname ORDER BY relname) FROM pg_class
                      WHERE relnamespace = '${SCHEMA}'::regnamespace),
       'migrations', (SELECT json_agg(m ORDER BY id) FROM ${SCHEMA}.migrations m),
       'states', (SELECT json_agg(s ORDER BY connector_id) FROM ${SCHEMA}.connector_state s),
       'events', (SELECT json_agg(e ORDER BY seq) FROM ${SCHEMA}.events e),
       'intents', (SELECT count(*) FROM ${SCHEMA}.intents),
       'source', (SELECT json_agg(c ORDER BY id) FROM cai_connectors c)) AS all`,
  );
  const deployments = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
  return {
    db: db!.all,
    prefect: deployments.map((d) => [d.id, d.updated]).sort(),
  };
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('a role that owns the schema but may not CREATE in the database', () => {
  let env: TestEnv;
  let owner: { name: string; url: string };
  beforeAll(async () => {
    env = await newEnv({ migrate: false });
    owner = await createRole(env, 'owner');
    // What a DBA hands over: an empty schema the role owns, and the source table.
    await env.sql(`CREATE SCHEMA ${SCHEMA} AUTHORIZATION ${owner.name}`);
    await env.sql(
      `GRANT SELECT, UPDATE (prefect_deployment_id) ON cai_connectors TO ${owner.name}`,
    );
    await insertConnectors(env, [{ name: 'least', schedule: '0 2 * * *' }]);
  });

  it('has no CREATE on the database (the case docs/guides/security.md promises)', async () => {
    const [row] = await env.sql(
      `SELECT has_database_privilege($1, current_database(), 'CREATE') AS create,
              has_schema_privilege($1, $2, 'CREATE') AS in_schema`,
      [owner.name, SCHEMA],
    );
    expect(row).toEqual({ create: false, in_schema: true });
  });

  it('`run --once` upgrades the empty schema and reconciles: exit 0', async () => {
    const run = await env.cli(['run', '--once'], { DATABASE_URL: owner.url });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await env.sql(`SELECT action FROM ${SCHEMA}.events`)).toEqual([{ action: 'created' }]);
    const [row] = await env.sql<{ prefect_deployment_id: string | null }>(
      `SELECT prefect_deployment_id FROM cai_connectors`,
    );
    expect(row!.prefect_deployment_id).toMatch(/^[0-9a-f-]{36}$/); // the write-back grant is enough
    const [owned] = await env.sql(
      `SELECT count(*)::int AS n FROM pg_class
        WHERE relnamespace = '${SCHEMA}'::regnamespace AND relowner = $1::regrole`,
      [owner.name],
    );
    expect(owned!.n).toBeGreaterThan(0);
  });

  it('`migrate` on the current schema does nothing and says so; on an empty one it applies', async () => {
    const current = await env.cli(['migrate'], { DATABASE_URL: owner.url });
    expect(current).toMatchObject({ code: 0, stdout: 'Schema is current.\n', stderr: '' });

    await env.sql(`CREATE SCHEMA cs_spare AUTHORIZATION ${owner.name}`);
    const file = configFileWith(env, { database: { schema: 'cs_spare' } });
    const applied = await env.cli(['migrate'], {
      DATABASE_URL: owner.url,
      CONNECTOR_SYNC_CONFIG: file,
    });
    const all = readMigrations().map((m) => m.name);
    expect(applied).toMatchObject({ code: 0, stdout: `Applied: ${all.join(', ')}\n`, stderr: '' });
  });

  it('a role that may not upgrade a schema that is behind: one line, exit 64', async () => {
    const stranger = await createRole(env, 'stranger');
    await env.sql(`CREATE SCHEMA cs_behind`);
    await env.sql(`GRANT USAGE ON SCHEMA cs_behind TO ${stranger.name}`);
    const file = configFileWith(env, { database: { schema: 'cs_behind' } });
    const run = await env.cli(['run', '--once'], {
      DATABASE_URL: stranger.url,
      CONNECTOR_SYNC_CONFIG: file,
    });
    expect(run.code).toBe(64);
    expect(oneLine(run.stderr)).toMatch(
      new RegExp(
        `^connector-sync: schema "cs_behind" in database "${env.databaseUrl.split('/').pop()}" is at version 0, this release needs \\d+, and role "${stranger.name}" may not upgrade it \\(permission denied for schema cs_behind\\); run \`connector-sync migrate\` with a role that owns the schema$`,
      ),
    );
    expect(
      await env.sql(`SELECT relname FROM pg_class WHERE relnamespace = 'cs_behind'::regnamespace`),
    ).toEqual([]);
  });
});

describe('a read-only role: status, events and plan read and change nothing', () => {
  let env: TestEnv;
  let reader: { name: string; url: string };
  beforeAll(async () => {
    env = await newEnv();
    const [a] = await insertConnectors(env, [
      { name: 'ro-a', schedule: '0 3 * * *' },
      { name: 'ro-b' },
    ]);
    await env.pass();
    // A change pending, so plan has something to show (and must not apply).
    await env.sql(`UPDATE cai_connectors SET schedule = '0 4 * * *' WHERE id = $1`, [a]);
    reader = await createRole(env, 'reader');
    await env.sql(`GRANT USAGE ON SCHEMA ${SCHEMA} TO ${reader.name}`);
    await env.sql(`GRANT SELECT ON ALL TABLES IN SCHEMA ${SCHEMA} TO ${reader.name}`);
    await env.sql(`GRANT SELECT ON cai_connectors TO ${reader.name}`);
  });

  it('works with USAGE on the schema and SELECT on its tables and the source', async () => {
    const before = await snapshot(env);
    const as = { DATABASE_URL: reader.url };

    const status = await env.cli(['status', '--json'], as);
    expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(status.stdout).connectors).toHaveLength(2);

    const events = await env.cli(['events', '--json'], as);
    expect({ code: events.code, stderr: events.stderr }).toEqual({ code: 0, stderr: '' });
    expect(events.stdout.trim().split('\n')).toHaveLength(2);

    const plan = await env.cli(['plan', '--json'], as);
    expect({ code: plan.code, stderr: plan.stderr }).toEqual({ code: 2, stderr: '' });
    expect(JSON.parse(plan.stdout).summary).toMatchObject({ update: 1, unchanged: 1 });
    expect((await env.cli(['plan'], as)).code).toBe(2);

    expect(await snapshot(env)).toEqual(before);
  });
});

describe('a mistyped database.schema', () => {
  let env: TestEnv;
  let file: string;
  beforeAll(async () => {
    env = await newEnv();
    await insertConnectors(env, [{ name: 'typo' }]);
    file = configFileWith(env, { database: { schema: 'connector_synk' } });
  });

  it.each([[['run', '--once']], [['run']], [['status']], [['plan']], [['events']]])(
    '%j: one line, exit 64, and no schema of that name afterwards',
    async (args) => {
      const result = await runCli(
        args,
        {
          DATABASE_URL: env.databaseUrl,
          PREFECT_API_URL: env.apiUrl,
          CONNECTOR_SYNC_CONFIG: file,
          LOG_LEVEL: 'warn',
          PORT: '0',
        },
        60_000,
      );
      expect(result.code).toBe(64);
      const database = env.databaseUrl.split('/').pop();
      expect(oneLine(result.stderr)).toBe(
        `connector-sync: schema "connector_synk" does not exist in database "${database}" (database.schema); run \`connector-sync migrate\` to create it — or fix a typo`,
      );
      expect(
        await env.sql(`SELECT nspname FROM pg_namespace WHERE nspname = 'connector_synk'`),
      ).toEqual([]);
      expect(result.stdout).toBe('');
    },
  );
});
