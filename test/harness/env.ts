import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { settleAfterMs } from '../../src/domain/settle.js';
import { migrate } from '../../src/postgres/migrate.js';
import { runPass } from '../../src/pass/run.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { REPO } from '../../scripts/prefect-server.ts';
import type { PassResult } from '../../src/pass/result.js';

const PG = 'postgres://postgres@127.0.0.1:5432';

/** The compiled CLI the tests run as a real process. */
export const CLI = join(REPO, 'dist/cli/bin.js');

/** The environment of a CLI process pointed at this test's database and Prefect (and nothing inherited but PATH and HOME). */
export function cliEnv(env: TestEnv, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    DATABASE_URL: env.databaseUrl,
    PREFECT_API_URL: env.apiUrl,
    CONNECTOR_SYNC_CONFIG: env.configFile,
    ...extra,
  };
}

/** A private world for one test: its own database, managed tag and flow name on the shared Prefect server. */
export interface TestEnv {
  id: string;
  apiUrl: string;
  databaseUrl: string;
  tag: string;
  flowName: string;
  /** Configuration file content (YAML object) the CLI gets. */
  configFile: string;
  config: Config;
  db: pg.Pool;
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    params?: unknown[],
  ): Promise<R[]>;
  /** A pass in this process, with a silent logger. */
  pass(
    options?: Partial<{ dryRun: boolean; allowMassDelete: boolean }>,
    config?: Config,
  ): Promise<PassResult>;
  runtime(config?: Config): Runtime;
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>;
  withConfig(overrides: Record<string, unknown>): Config;
  cleanup(): Promise<void>;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestEnvOptions {
  /** Extra configuration (merged over the test defaults). */
  config?: Record<string, unknown>;
  /** Create the reference cai_connectors table (default true). */
  referenceTable?: boolean;
  apiUrl?: string;
  /** Apply the worker's migrations (default true); false leaves no worker schema at all. */
  migrate?: boolean;
  /**
   * Record this environment's installation in Prefect up front (default true).
   * False when its workers use another Postgres: theirs is the installation.
   */
  registerInstallation?: boolean;
}

export async function createTestEnv(options: TestEnvOptions = {}): Promise<TestEnv> {
  const id = randomBytes(4).toString('hex');
  const apiUrl = options.apiUrl ?? inject('prefectApiUrl');
  const database = `cs_t_${id}`;
  const admin = new pg.Client({ connectionString: `${PG}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const databaseUrl = `${PG}/${database}`;
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  db.on('error', () => undefined);
  if (options.referenceTable !== false) {
    await db.query(readFileSync(join(REPO, 'sql/reference/cai_connectors.sql'), 'utf8'));
  }
  const tag = `managed-by:cs-test-${id}`;
  const flowName = `cs_test_flow_${id}`;
  const fileConfig = deepMerge(
    {
      deployment: { flowName, entrypoint: 'flows/dlt_pipeline_flow.py:run_connector_pipeline' },
      ownership: { managedTag: tag },
      // The delete budget and the source check (on by default) would hold the
      // deletes tests of other behaviour make in quick succession, or of a
      // table's last row; delete-safety.test.ts tests them at their defaults.
      reconcile: {
        lockWaitSeconds: 5,
        deleteBudget: { limit: 1_000_000, window: '1h' },
        sourceShrinkLimit: 'off',
        // Re-creating runs after an update is one more call when a run is due
        // soon: off, so call counts do not depend on the time of day;
        // scheduled-runs.test.ts tests it on.
        rescheduleWithinSeconds: 0,
      },
      // A release goes to the whole fleet in one pass, as before releases had
      // waves (a release in waves triggers runs and waits for a worker):
      // releases.test.ts tests the waves.
      rollout: { waves: ['100%'], verify: 'none' },
      // A run --once against a Prefect made to fail waits this long for the
      // sinks before it exits (10 s by default); tests of publishing set their own.
      events: { publish: { flushSeconds: 2 } },
    },
    options.config ?? {},
  );
  const dir = mkdtempSync(join(tmpdir(), 'cs-test-'));
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, stringify(fileConfig));
  const env = { DATABASE_URL: databaseUrl, PREFECT_API_URL: apiUrl };

  const build = (overrides: Record<string, unknown> = {}): Config => {
    const result = loadConfig({ env: { ...env }, configFile, overrides: flatten(overrides) });
    if (!result.ok) throw new Error(result.errors.join('\n'));
    return result.config;
  };
  const config = build();
  if (options.migrate !== false) await migrate(db, config.database.schema);
  const silent = pino({ level: 'silent' });
  // Each environment is an installation of its own (its own managed tag): it
  // records its source in Prefect here, once, as its first run would — so a
  // test that counts or faults the writes through a proxy sees only the
  // deployments' (installations.test.ts lets its installations do it).
  const ownTag = (fileConfig.ownership as { managedTag?: string } | undefined)?.managedTag === tag;
  if (ownTag && options.migrate !== false && options.registerInstallation !== false)
    await registerInstallation({
      ...config,
      prefect: { ...config.prefect, apiUrl: inject('prefectApiUrl') },
    });

  const testEnv: TestEnv = {
    id,
    apiUrl,
    databaseUrl,
    tag,
    flowName,
    configFile,
    config,
    db,
    sql: async (text, params) => (await db.query(text, params)).rows,
    runtime: (cfg = config) => createRuntime(cfg, silent),
    pass: async (opts = {}, cfg = config) => {
      const rt = createRuntime(cfg, silent);
      try {
        return await runPass(rt, {
          dryRun: opts.dryRun ?? false,
          allowMassDelete: opts.allowMassDelete ?? false,
        });
      } finally {
        await rt.close();
      }
    },
    cli: (args, extraEnv = {}) =>
      runCli(args, { ...env, CONNECTOR_SYNC_CONFIG: configFile, LOG_LEVEL: 'warn', ...extraEnv }),
    withConfig: (overrides) => build(overrides),
    cleanup: async () => {
      await db.end();
      const a = new pg.Client({ connectionString: `${PG}/postgres` });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await a.end();
    },
  };
  return testEnv;
}

/** `timeoutMs`: the process is killed after it (a command that should have exited but runs on). */
export function runCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 0,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO, 'dist/cli/bin.js'), ...args],
      {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Prefect settings for tests that kill a worker and expect the next passes to
 * settle its open intents: an intent is settled only once no call of ours can
 * still land (core/settle.ts), here 4 × 2 s + 250 ms = 8.25 s after it was written.
 */
/**
 * SQL: the events of changes made to deployments (one per change that took
 * effect), not those about a connector's problems or a pass.
 */
export const CHANGE_EVENTS = "action IN ('created', 'updated', 'paused', 'resumed', 'deleted')";

export const SHORT_CALLS = {
  timeoutMs: 2_000,
  retries: 1,
  retryMinDelayMs: 100,
  retryMaxDelayMs: 250,
};

/**
 * Waits (by the database's clock) until every open intent is old enough to be
 * settled under `config`; returns how long it waited (0 when none was open).
 */
export async function untilIntentsSettleable(
  db: { query: pg.Pool['query'] },
  config: Pick<Config, 'prefect' | 'database'>,
): Promise<number> {
  const { rows } = await db.query<{ wait_ms: number | null }>(
    `SELECT ceil(extract(epoch FROM max(created_at) - clock_timestamp()) * 1000 + $1)::int AS wait_ms
       FROM ${pg.escapeIdentifier(config.database.schema)}.intents`,
    [settleAfterMs(config.prefect)],
  );
  const waitMs = Math.max(0, (rows[0]?.wait_ms ?? 0) + 50);
  if (rows[0]?.wait_ms === null || rows[0]?.wait_ms === undefined) return 0;
  await new Promise((r) => setTimeout(r, waitMs));
  return waitMs;
}

/** Inserts connectors into the reference table; returns their ids. */
export async function insertConnectors(
  env: TestEnv,
  rows: {
    name: string;
    schedule?: string | null;
    timezone?: string | null;
    is_active?: boolean;
    parameters?: unknown;
  }[],
): Promise<string[]> {
  const ids: string[] = [];
  for (const row of rows) {
    const [inserted] = await env.sql<{ id: string }>(
      `INSERT INTO cai_connectors (name, schedule, timezone, is_active, parameters) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
      [
        row.name,
        row.schedule ?? null,
        row.timezone ?? null,
        row.is_active ?? true,
        JSON.stringify(row.parameters ?? {}),
      ],
    );
    ids.push(inserted!.id);
  }
  return ids;
}

function flatten(value: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v))
      Object.assign(out, flatten(v as Record<string, unknown>, key));
    else out[key] = v;
  }
  return out;
}

function deepMerge(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const existing = out[k];
    out[k] =
      existing &&
      typeof existing === 'object' &&
      !Array.isArray(existing) &&
      v &&
      typeof v === 'object' &&
      !Array.isArray(v)
        ? deepMerge(existing as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/**
 * The description connector-sync gives a connector's deployment: its name, and
 * a line saying who keeps it (docs/concepts/connectors-and-deployments.md).
 */
export function descriptionOf(name: string, id: string, table = 'cai_connectors'): string {
  return `${name}\n\nManaged by connector-sync from row ${id} of ${table}: edits made in Prefect are reverted.`;
}

/** A row of the reference cai_connectors table, as pg returns it. */
export interface ConnectorRecord {
  id: string;
  name: string;
  schedule: string | null;
  timezone: string | null;
  is_active: boolean;
  parameters: Record<string, unknown>;
  deleted_at: Date | null;
  prefect_deployment_id: string | null;
}

/** A CLI's --json output, one object a line. */
export function jsonLines<T = Record<string, any>>(stdout: string): T[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

async function registerInstallation(config: Config): Promise<void> {
  const rt = createRuntime(config, pino({ level: 'silent' }));
  try {
    await rt.installation.ensure(true);
  } finally {
    await rt.close();
  }
}
