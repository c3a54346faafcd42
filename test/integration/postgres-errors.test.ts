import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/prefect-server.ts';
import { createTestEnv, runCli, type CliResult, type TestEnv } from '../harness/env.js';

// Postgres mistakes (and an ops port already taken) through the real CLI and
// the real server (which has no SSL): each is one line on stderr naming what
// was tried — host, port, database, user, never the password — and what to
// check, with exit 64 (configuration) or 69 (unreachable).

const PASSWORD = 'pw-Sekr1t-77';
let env: TestEnv;
let database: string;
beforeAll(async () => {
  env = await createTestEnv();
  database = env.databaseUrl.split('/').pop()!;
});
afterAll(async () => env?.cleanup());

function run(args: string[], extra: Record<string, string>): Promise<CliResult> {
  return runCli(
    args,
    {
      DATABASE_URL: env.databaseUrl,
      PREFECT_API_URL: env.apiUrl,
      CONNECTOR_SYNC_CONFIG: env.configFile,
      LOG_LEVEL: 'warn',
      PORT: '0',
      ...extra,
    },
    60_000,
  );
}

/** The one line that is not a (JSON) log line; nothing on stderr holds the password. */
function theLine(result: CliResult): string {
  expect(result.stderr).not.toContain(PASSWORD);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trim().split('\n');
  const said = lines.filter((line) => {
    try {
      return typeof (JSON.parse(line) as { level?: unknown }).level !== 'number';
    } catch {
      return true;
    }
  });
  expect(said).toHaveLength(1);
  return said[0]!;
}

function expectTarget(line: string, target: { port?: number; db?: string; user?: string }): void {
  expect(line).toContain(
    `host 127.0.0.1, port ${target.port ?? 5432}, database "${target.db ?? database}", user "${target.user ?? 'postgres'}"`,
  );
}

const COMMANDS: [string, string[]][] = [
  ['run --once', ['run', '--once']],
  ['status', ['status']],
];

describe.each(COMMANDS)('%s', (_, args) => {
  it('an unknown role: exit 64, names it and says to check the user', async () => {
    const user = `cs_norole_${env.id}`;
    const result = await run(args, {
      DATABASE_URL: `postgres://${user}:${PASSWORD}@127.0.0.1:5432/${database}`,
    });
    expect(result.code).toBe(64);
    const line = theLine(result);
    expectTarget(line, { user });
    expect(line).toContain(`role "${user}" does not exist`);
    expect(line).toContain('check the user in DATABASE_URL');
  });

  it('a database that does not exist: exit 64', async () => {
    const db = `cs_missing_${env.id}`;
    const result = await run(args, {
      DATABASE_URL: `postgres://postgres:${PASSWORD}@127.0.0.1:5432/${db}`,
    });
    expect(result.code).toBe(64);
    const line = theLine(result);
    expectTarget(line, { db });
    expect(line).toContain(
      `database "${db}" does not exist; check the database name in DATABASE_URL`,
    );
  });

  it('sslmode=require against a server without SSL: exit 64, says what to change', async () => {
    const result = await run(args, {
      DATABASE_URL: `postgres://postgres:${PASSWORD}@127.0.0.1:5432/${database}?sslmode=require`,
    });
    expect(result.code).toBe(64);
    const line = theLine(result);
    expectTarget(line, {});
    expect(line).toMatch(/does not support SSL.*sslmode/);
  });

  it('a malformed URL: one line from the configuration check, exit 64', async () => {
    const result = await run(args, {
      // An unencoded "#" would end the URL's authority early (the port would read "pw"): named as such.
      DATABASE_URL: `postgres://postgres:pw#${PASSWORD}@127.0.0.1:5432/${database}`,
    });
    expect(result.code).toBe(64);
    const line = theLine(result);
    expect(line).toBe(
      'connector-sync: invalid configuration: database.url (DATABASE_URL): the user or password holds a raw "#": percent-encode it as %23',
    );
    expect(line).not.toContain('pw#');
  });

  it('nothing listening on the port: exit 69, names where it tried', async () => {
    const port = await freePort();
    const result = await run(args, {
      DATABASE_URL: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`,
    });
    expect(result.code).toBe(69);
    const line = theLine(result);
    expect(line).toMatch(/^connector-sync: Postgres is unavailable/);
    expectTarget(line, { port });
    expect(line).toContain('ECONNREFUSED');
  });
});

describe('the long-running worker', () => {
  let holder: Server;
  let port: number;
  beforeAll(async () => {
    // Held on every interface, where the worker binds by default.
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, resolve));
    port = (holder.address() as AddressInfo).port;
  });
  afterAll(async () => new Promise<void>((resolve) => holder.close(() => resolve())));

  it('an ops port already in use: one line naming the port, exit 64', async () => {
    const result = await run(['run'], { PORT: String(port) });
    expect(result.code).toBe(64);
    expect(theLine(result)).toBe(
      `connector-sync: the ops HTTP server cannot listen on port ${port} on every interface (http.host / http.port, env HOST / PORT): the address is already in use; choose another PORT or stop what holds it`,
    );
  });

  it('the same with http.host: names the address', async () => {
    const result = await run(['run'], { PORT: String(port), HOST: '127.0.0.1' });
    expect(result.code).toBe(64);
    expect(theLine(result)).toContain(`cannot listen on 127.0.0.1:${port} `);
  });
});
