import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  ensureWorkPool,
  startPrefectServer,
  type PrefectServer,
} from '../../scripts/prefect-server.ts';
import { runPass } from '../../src/pass/run.js';
import { createTestEnv, insertConnectors, type CliResult, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';

// Real Prefect servers with protection turned on, one at a time (the machine
// has two cores): HTTP basic auth, then CSRF tokens. Both share the main test
// server's (already migrated) Prefect database.

const AUTH_STRING = 'admin:s3cret-pass';
const base64 = (text: string): string => Buffer.from(text).toString('base64');

/** Neither the password nor any encoding of it a client would send shows anywhere. */
function expectNoSecret(result: CliResult, authString: string): void {
  const password = authString.slice(authString.indexOf(':') + 1);
  const output = `${result.stdout}\n${result.stderr}`;
  for (const secret of [password, base64(authString), base64(password)])
    expect(output, `output contains the secret ${JSON.stringify(secret)}`).not.toContain(secret);
}

describe('Prefect with basic auth (PREFECT_SERVER_API_AUTH_STRING)', () => {
  let server: PrefectServer;
  let env: TestEnv;
  let ids: string[];
  const authorization = { authorization: `Basic ${base64(AUTH_STRING)}` };

  beforeAll(async () => {
    server = await startPrefectServer({
      database: inject('prefectDatabase'),
      env: { PREFECT_SERVER_API_AUTH_STRING: AUTH_STRING },
    });
    await ensureWorkPool(server.apiUrl, 'default', authorization);
    env = await createTestEnv({ apiUrl: server.apiUrl });
    ids = await insertConnectors(env, [
      { name: 'Auth One', schedule: '0 1 * * *', parameters: { source: 'a' } },
      { name: 'Auth Two', schedule: '0 2 * * *', timezone: 'Europe/Berlin' },
      { name: 'Auth Three', schedule: null },
    ]);
  });
  afterAll(async () => {
    await env?.cleanup();
    await server?.stop();
  });

  it('the server really wants credentials: a read without them is refused with 401', async () => {
    const response = await fetch(`${server.apiUrl}/work_pools/default`);
    expect(response.status).toBe(401);
    const withAuth = await fetch(`${server.apiUrl}/work_pools/default`, { headers: authorization });
    expect(withAuth.status).toBe(200);
  });

  it('without PREFECT_API_AUTH_STRING the run exits 64, says so, and writes nothing', async () => {
    const result = await env.cli(['run', '--once', '--json'], { LOG_LEVEL: 'debug' });
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/credentials/i);
    expectNoSecret(result, AUTH_STRING);
    const api = prefectApi(server.apiUrl, { headers: authorization });
    expect(await api.deploymentsByTag(env.tag)).toEqual([]);
  });

  it('with a wrong auth string the run exits 64 and prints neither password', async () => {
    const wrong = 'admin:wr0ng-pass-7Q';
    const result = await env.cli(['run', '--once', '--json'], {
      PREFECT_API_AUTH_STRING: wrong,
      LOG_LEVEL: 'debug',
    });
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/credentials/i);
    expectNoSecret(result, wrong);
    expectNoSecret(result, AUTH_STRING);
    const api = prefectApi(server.apiUrl, { headers: authorization });
    expect(await api.deploymentsByTag(env.tag)).toEqual([]);
  });

  it('with the right auth string the run exits 0 and creates every deployment', async () => {
    const result = await env.cli(['run', '--once', '--json'], {
      PREFECT_API_AUTH_STRING: AUTH_STRING,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expectNoSecret(result, AUTH_STRING);
    expect(JSON.parse(result.stdout).summary).toMatchObject({ create: 3, failed: 0, invalid: 0 });

    const api = prefectApi(server.apiUrl, { headers: authorization });
    const deployments = await api.deploymentsByTag(env.tag);
    expect(deployments.map((d) => d.name).sort()).toEqual(
      ids.map((id) => `connector-${id}`).sort(),
    );
    const first = deployments.find((d) => d.name === `connector-${ids[0]}`)!;
    expect(first.parameters).toEqual({ source: 'a', connector_id: Number(ids[0]) });
    expect(first.schedules[0].schedule.cron).toBe('0 1 * * *');
  });

  it('a debug-level run with the right auth string logs no secret either', async () => {
    const result = await env.cli(['run', '--once', '--json'], {
      PREFECT_API_AUTH_STRING: AUTH_STRING,
      LOG_LEVEL: 'debug',
    });
    expect(result.code).toBe(0);
    expectNoSecret(result, AUTH_STRING);
    const calls = JSON.parse(result.stdout).prefect_calls;
    expect(calls.writes).toBe(0);
    // Basic auth without CSRF protection: no token is ever asked for.
    expect(calls.byRoute).not.toHaveProperty('GET /csrf-token');
  });
});

describe('Prefect with CSRF protection (PREFECT_SERVER_CSRF_PROTECTION_ENABLED)', () => {
  let server: PrefectServer;
  let env: TestEnv;
  let ids: string[];
  let csrf: Record<string, string>;

  /** Headers of a fresh CSRF token for a client of the test's own. */
  async function csrfHeaders(apiUrl: string, client: string): Promise<Record<string, string>> {
    const response = await fetch(`${apiUrl}/csrf-token?client=${client}`);
    expect(response.status).toBe(200);
    const { token } = (await response.json()) as { token: string };
    return { 'Prefect-Csrf-Token': token, 'Prefect-Csrf-Client': client };
  }

  beforeAll(async () => {
    server = await startPrefectServer({
      database: inject('prefectDatabase'),
      env: { PREFECT_SERVER_CSRF_PROTECTION_ENABLED: 'true' },
    });
    csrf = await csrfHeaders(server.apiUrl, `cs-test-${Date.now()}`);
    await ensureWorkPool(server.apiUrl, 'default', csrf);
    env = await createTestEnv({ apiUrl: server.apiUrl });
    ids = await insertConnectors(env, [
      { name: 'Csrf One', schedule: '0 3 * * *', parameters: { n: 1 } },
      { name: 'Csrf Two', schedule: '30 4 * * 1', timezone: 'America/New_York' },
      { name: 'Csrf Three', schedule: '0 5 * * *', is_active: false },
    ]);
  });
  afterAll(async () => {
    await env?.cleanup();
    await server?.stop();
  });

  it('the server really enforces CSRF: even a read-only /filter POST without the headers gets 403', async () => {
    const response = await fetch(`${server.apiUrl}/deployments/filter`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ limit: 1 }),
    });
    expect(response.status).toBe(403);
    // The text the client recognises as a CSRF refusal (src/prefect/http.ts).
    expect(await response.json()).toEqual({ detail: 'Missing CSRF token.' });
    const withToken = await fetch(`${server.apiUrl}/deployments/filter`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...csrf },
      body: JSON.stringify({ limit: 1 }),
    });
    expect(withToken.status).toBe(200);
  });

  it('a full reconcile exits 0 and creates every deployment', async () => {
    const result = await env.cli(['run', '--once', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout);
    expect(output.summary).toMatchObject({ create: 3, failed: 0, invalid: 0 });

    const api = prefectApi(server.apiUrl, { headers: csrf });
    const deployments = await api.deploymentsByTag(env.tag);
    expect(deployments.map((d) => d.name).sort()).toEqual(
      ids.map((id) => `connector-${id}`).sort(),
    );
    expect(deployments.find((d) => d.name === `connector-${ids[2]}`)!.paused).toBe(true);
  });

  it('a second run makes zero writes', async () => {
    const result = await env.cli(['run', '--once', '--json']);
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout);
    expect(output.summary).toMatchObject({ create: 0, update: 0, delete: 0, unchanged: 3 });
    expect(output.prefect_calls.writes).toBe(0);
    // A new process learns that protection is on from the real server's 403 to its
    // first POST (the listing): one token fetch, then that listing again with the token.
    // Then the run-health read (a POST too, with the token by now).
    expect(output.prefect_calls.byRoute).toEqual({
      'GET /flows/name/{name}': 1,
      'POST /deployments/paginate': 2,
      'GET /csrf-token': 1,
      'POST /flow_runs/filter': 1,
    });
  });

  it('a schedule change is applied as one update', async () => {
    await env.sql(`UPDATE cai_connectors SET schedule = '45 6 * * *' WHERE id = $1`, [ids[0]]);
    const result = await env.cli(['run', '--once', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout);
    expect(output.summary).toMatchObject({ create: 0, update: 1, delete: 0, unchanged: 2 });
    expect(output.prefect_calls.writes).toBe(1);

    const api = prefectApi(server.apiUrl, { headers: csrf });
    const deployment = (await api.deploymentsByTag(env.tag)).find(
      (d) => d.name === `connector-${ids[0]}`,
    )!;
    expect(deployment.schedules).toHaveLength(1);
    expect(deployment.schedules[0].schedule.cron).toBe('45 6 * * *');
    const events = await env.sql(
      `SELECT action FROM connector_sync.events WHERE connector_id = $1 ORDER BY id`,
      [ids[0]],
    );
    expect(events.map((e) => e.action)).toEqual(['created', 'updated']);
  });

  it('an expired token is refreshed once and the call retried', async () => {
    const rt = env.runtime();
    try {
      const http = rt.prefect.http;
      const clientId: string = (http as any).clientId;
      const first = await runPass(rt, { dryRun: false, allowMassDelete: false });
      expect(first.failures).toEqual([]);
      // Learned from the first refused POST: one fetch for the whole pass.
      expect(http.counts.byRoute['GET /csrf-token']).toBe(1);

      // Expire this client's token in Prefect's own table, as an hour's wait would.
      const prefectDb = new pg.Client({
        connectionString: `postgres://postgres@127.0.0.1:5432/${inject('prefectDatabase')}`,
      });
      await prefectDb.connect();
      try {
        const expired = await prefectDb.query(
          `UPDATE csrf_token SET expiration = now() - interval '1 second' WHERE client = $1`,
          [clientId],
        );
        expect(expired.rowCount).toBe(1);
      } finally {
        await prefectDb.end();
      }

      await env.sql(`UPDATE cai_connectors SET schedule = '50 6 * * *' WHERE id = $1`, [ids[0]]);
      const second = await runPass(rt, { dryRun: false, allowMassDelete: false });
      expect(second.aborted).toBeNull();
      expect(second.failures).toEqual([]);
      expect(second.applied).toHaveLength(1);
      expect(http.counts.byRoute['GET /csrf-token']).toBe(2);
      const api = prefectApi(server.apiUrl, { headers: csrf });
      const deployment = (await api.deploymentsByTag(env.tag)).find(
        (d) => d.name === `connector-${ids[0]}`,
      )!;
      expect(deployment.schedules[0].schedule.cron).toBe('50 6 * * *');
    } finally {
      await rt.close();
    }
  });
});
