import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/prefect-server.ts';
import { startWorker } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type CliResult, type TestEnv } from '../harness/env.js';
import { follow, ids, stop, type Follower } from '../harness/follower.js';

// `events --follow` against passes run by other processes, and the promise
// that no secret (database password, API key, auth string, or its Basic
// encoding) ever reaches any output of any command.

describe('events --follow', () => {
  let env: TestEnv;
  const followers: Follower[] = [];
  beforeEach(async () => {
    env = await createTestEnv();
  });
  afterEach(async () => {
    for (const f of followers.splice(0)) if (f.child.exitCode === null) f.child.kill('SIGKILL');
    await env?.cleanup();
  });

  it('prints what exists, then what a pass in another process writes; --connector/--action filter; SIGINT exits 0', async () => {
    const cids = await insertConnectors(env, [
      { name: 'a', schedule: '0 1 * * *' },
      { name: 'b', schedule: '0 2 * * *' },
      { name: 'c', schedule: '0 3 * * *' },
    ]);
    expect((await env.cli(['run', '--once'])).code).toBe(0);

    const all = follow(env);
    const one = follow(env, ['--connector', cids[1]!]);
    const updates = follow(env, ['--action', 'updated']);
    followers.push(all, one, updates);
    await all.waitFor(3);
    await one.waitFor(1);
    expect(all.events().map((e) => e.action)).toEqual(['created', 'created', 'created']);
    expect(one.events()).toMatchObject([{ action: 'created', connector_id: cids[1] }]);
    // The --action follower has nothing to show yet; give its LISTEN time to be in place.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(updates.events()).toEqual([]);

    // Another process's pass: two updates.
    await env.sql(`UPDATE cai_connectors SET schedule = '30 1 * * *' WHERE id = $1`, [cids[0]]);
    await env.sql(`UPDATE cai_connectors SET schedule = '30 2 * * *' WHERE id = $1`, [cids[1]]);
    const started = performance.now();
    const printed = all.waitFor(5, 30_000).then(() => performance.now());
    const run = await env.cli(['run', '--once']);
    const ended = performance.now();
    expect(run.code).toBe(0);
    const printedAt = await printed;
    expect(printedAt - ended).toBeLessThan(3_000); // within a few seconds of the pass (usually before its process exits)
    await one.waitFor(2, 5_000);
    await updates.waitFor(2, 5_000);
    console.log(
      `events --follow: run --once took ${(ended - started).toFixed(0)} ms; its events were printed ${(printedAt - started).toFixed(0)} ms after it started`,
    );

    // And a failure event from a third run.
    await env.sql(`UPDATE cai_connectors SET timezone = 'Mars/Olympus' WHERE id = $1`, [cids[2]]);
    expect((await env.cli(['run', '--once'])).code).toBe(1);
    await all.waitFor(6, 5_000);
    // Nothing late, nothing doubled.
    await new Promise((r) => setTimeout(r, 1_500));

    const stored = await env.sql(
      `SELECT id, connector_id, action FROM connector_sync.events ORDER BY seq`,
    );
    // Printed in commit order (seq), which need not be id order; once each.
    expect(ids(all.events())).toEqual(stored.map((r) => r.id));
    expect(all.events().map((e) => e.action)).toEqual([
      'created',
      'created',
      'created',
      'updated',
      'updated',
      'failed',
    ]);
    expect(ids(one.events())).toEqual(
      stored.filter((r) => r.connector_id === cids[1]).map((r) => r.id),
    );
    expect(one.events().every((e) => e.connector_id === cids[1])).toBe(true);
    expect(ids(updates.events())).toEqual(
      stored.filter((r) => r.action === 'updated').map((r) => r.id),
    );
    const failed = all.events().at(-1)!;
    expect(failed).toMatchObject({ action: 'failed', connector_id: cids[2] });
    expect(failed.payload.message).toMatch(/Mars\/Olympus/);

    for (const f of [all, one, updates]) {
      expect(await stop(f)).toEqual({ code: 0, signal: null });
      expect(new Set(ids(f.events())).size).toBe(f.events().length);
      expect(f.stderr()).toBe('');
    }
  }, 90_000);

  it('followers started while a pass writes a burst print every event exactly once', async () => {
    await insertConnectors(
      env,
      Array.from({ length: 30 }, (_, i) => ({ name: `burst-${i}`, schedule: `${i} 5 * * *` })),
    );
    const running = env.cli(['run', '--once']);
    // Staggered starts: before, during and (likely) after the first events are confirmed.
    for (const delay of [0, 150, 400, 800, 1_500]) {
      await new Promise((r) => setTimeout(r, delay === 0 ? 0 : 150));
      followers.push(follow(env));
    }
    expect((await running).code).toBe(0);
    const stored = (await env.sql(`SELECT id FROM connector_sync.events ORDER BY seq`)).map(
      (r) => r.id,
    );
    expect(stored).toHaveLength(30);
    for (const f of followers) await f.waitFor(30, 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    for (const [i, f] of followers.entries()) {
      const seen = ids(f.events());
      expect(new Set(seen).size, `follower ${i}: an event printed twice`).toBe(seen.length);
      expect(seen, `follower ${i}`).toEqual(stored);
      expect(await stop(f)).toEqual({ code: 0, signal: null });
    }
  }, 90_000);
});

describe('no secret in any output', () => {
  const DB_PASSWORD = 'Sup3rS3cret-db';
  const API_KEY = 'pk_live_key_12345678';
  const AUTH_STRING = 'admin:AuthPa55word';
  const SECRETS = [
    DB_PASSWORD,
    API_KEY,
    AUTH_STRING,
    'AuthPa55word',
    Buffer.from(AUTH_STRING).toString('base64'),
    Buffer.from(DB_PASSWORD).toString('base64'),
    Buffer.from(API_KEY).toString('base64'),
  ];

  let env: TestEnv;
  let secretDbUrl: string;
  let withKey: Record<string, string>;
  let withAuth: Record<string, string>;
  let withBoth: Record<string, string>;

  beforeAll(async () => {
    env = await createTestEnv();
    await insertConnectors(env, [
      { name: 'secret-a', schedule: '0 1 * * *' },
      { name: 'secret-b', schedule: '0 2 * * *', is_active: false },
    ]);
    secretDbUrl = `postgres://postgres:${DB_PASSWORD}@127.0.0.1:5432${new URL(env.databaseUrl).pathname}`;
    const base = { DATABASE_URL: secretDbUrl, LOG_LEVEL: 'trace' };
    withKey = { ...base, PREFECT_API_KEY: API_KEY };
    withAuth = { ...base, PREFECT_API_AUTH_STRING: AUTH_STRING };
    withBoth = { ...withKey, PREFECT_API_AUTH_STRING: AUTH_STRING };
  });
  afterAll(async () => env?.cleanup());

  function expectClean(label: string, text: string): void {
    // Soft: every place a secret shows up is reported, not only the first.
    for (const secret of SECRETS)
      expect
        .soft(
          text.includes(secret),
          `${label}: output contains ${JSON.stringify(secret)}:\n${text}`,
        )
        .toBe(false);
  }

  async function cli(
    label: string,
    args: string[],
    extra: Record<string, string>,
  ): Promise<CliResult> {
    const result = await env.cli(args, extra);
    expectClean(label, `${result.stdout}\n${result.stderr}`);
    return result;
  }

  it('successful runs, plan, status and events (key, auth string, both; json and pretty logs)', async () => {
    expect((await cli('run --once (key)', ['run', '--once'], withKey)).code).toBe(0);
    // Something to fail, so error messages are printed too.
    await insertConnectors(env, [
      { name: 'secret-bad', schedule: '0 1 * * *', timezone: 'Nowhere/Land' },
    ]);
    const failing = await cli('run --once (auth, pretty)', ['run', '--once'], {
      ...withAuth,
      LOG_FORMAT: 'pretty',
    });
    expect(failing.code).toBe(1);
    expect(
      (await cli('run --once --json (both)', ['run', '--once', '--json'], withBoth)).code,
    ).toBe(1);
    const plan = await cli('plan --json', ['plan', '--json'], withKey);
    expect(plan.code).toBe(1);
    expect(JSON.parse(plan.stdout).summary.invalid).toBe(1);
    expect((await cli('plan', ['plan'], withAuth)).code).toBe(1);
    expect((await cli('status', ['status'], withKey)).code).toBe(0);
    expect((await cli('status --json', ['status', '--json'], withAuth)).code).toBe(0);
    const events = await cli('events', ['events'], withBoth);
    expect(events.code).toBe(0);
    expect(events.stdout).toMatch(/created/);
    expect((await cli('events --json', ['events', '--json'], withKey)).code).toBe(0);
    expect((await cli('migrate', ['migrate'], withAuth)).code).toBe(0);
    expect((await cli('--help', ['--help'], withBoth)).code).toBe(0);
  }, 120_000);

  it('Prefect unreachable: exit 69, with the key and with the auth string', async () => {
    const url = `http://127.0.0.1:${await freePort()}/api`;
    for (const [label, extra] of [
      ['key', withKey],
      ['auth string', withAuth],
    ] as const) {
      const result = await cli(`run --once, Prefect unreachable (${label})`, ['run', '--once'], {
        ...extra,
        PREFECT_API_URL: url,
      });
      expect(result.code, result.stderr).toBe(69);
    }
  }, 120_000);

  it('Prefect answering 401 / 503 with the Authorization header echoed: exit 64 / 69', async () => {
    let status = 401;
    const fake = http.createServer((req, res) => {
      // A gateway that echoes what it refused: the client must still print no credential.
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          detail: `rejected ${String(req.headers.authorization)} for ${req.method} ${req.url}`,
        }),
      );
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}/api`;
    try {
      for (const [label, extra] of [
        ['key', withKey],
        ['auth string', withAuth],
      ] as const) {
        status = 401;
        const refused = await cli(`run --once, Prefect 401 (${label})`, ['run', '--once'], {
          ...extra,
          PREFECT_API_URL: url,
        });
        expect(refused.code, refused.stderr).toBe(64);
        status = 503;
        const down = await cli(`run --once, Prefect 503 (${label})`, ['run', '--once'], {
          ...extra,
          PREFECT_API_URL: url,
        });
        expect(down.code, down.stderr).toBe(69);
      }
    } finally {
      fake.closeAllConnections();
      await new Promise<void>((resolve) => fake.close(() => resolve()));
    }
  }, 120_000);

  it('Postgres unreachable with the password in the URL: exit 69 from every command', async () => {
    const unreachable = `postgres://postgres:${DB_PASSWORD}@127.0.0.1:${await freePort()}/nowhere`;
    for (const args of [['run', '--once'], ['plan', '--json'], ['status'], ['events'], ['run']]) {
      const result = await cli(`${args.join(' ')}, Postgres unreachable`, args, {
        ...withBoth,
        DATABASE_URL: unreachable,
      });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(69);
    }
  }, 120_000);

  it('bad configuration: exit 64, secrets in the environment', async () => {
    const result = await cli('bad LOG_LEVEL', ['run', '--once'], {
      ...withBoth,
      LOG_LEVEL: 'loud',
    });
    expect(result.code).toBe(64);
    const badCron = await cli('bad schedule', ['run'], {
      ...withAuth,
      CONNECTOR_SYNC_SCHEDULE: 'every minute',
    });
    expect(badCron.code).toBe(64);
  });

  it('bad configuration file that holds the secrets (config/default.yaml documents database.url and prefect.apiKey): exit 64', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-secret-config-'));
    // Well-formed YAML, wrong values: the messages name keys, never values.
    const wrongValues = join(dir, 'wrong-values.yaml');
    writeFileSync(
      wrongValues,
      [
        'database:',
        `  url: ${secretDbUrl}`,
        'prefect:',
        `  apiUrl: ${env.apiUrl}`,
        `  apiKey: ${API_KEY}`,
        `  authString: ${AUTH_STRING}`,
        '  timeoutMs: 5',
        'reconcile:',
        '  concurrency: 0',
        '',
      ].join('\n'),
    );
    const wrong = await cli(
      'config file with wrong values',
      ['run', '--once', '--config', wrongValues],
      {
        LOG_LEVEL: 'trace',
      },
    );
    expect(wrong.code).toBe(64);

    // A YAML syntax error on the lines that hold the secrets.
    const broken = join(dir, 'broken.yaml');
    writeFileSync(
      broken,
      [
        'database:',
        `  url: ${secretDbUrl}`,
        `   schema: connector_sync`,
        'prefect:',
        `  apiKey: "${API_KEY}`,
        '',
      ].join('\n'),
    );
    const syntax = await cli('config file with a YAML syntax error', ['plan', '--config', broken], {
      LOG_LEVEL: 'trace',
    });
    expect(syntax.code).toBe(64);
  });

  it('a per-connector Prefect error that echoes the credentials: run output, status, events and the ops API stay clean', async () => {
    // A relay to the real Prefect that refuses one connector's create with a
    // 400 quoting the Authorization header back (as some gateways do).
    const [victim] = await insertConnectors(env, [{ name: 'echo-victim', schedule: '0 7 * * *' }]);
    const target = new URL(env.apiUrl);
    const relay = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (
          req.method === 'POST' &&
          req.url === '/api/deployments/' &&
          body.toString().includes(`"connector-${victim}"`)
        ) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ detail: `refused, credentials ${req.headers.authorization}` }));
          return;
        }
        const upstream = http.request(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: `${target.pathname}${(req.url ?? '/').replace(/^\/api/, '')}`,
            headers: { ...req.headers, host: target.host },
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', () => {
          res.writeHead(502);
          res.end();
        });
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}/api`;
    try {
      for (const [label, extra] of [
        ['key', withKey],
        ['auth string', withAuth],
      ] as const) {
        const run = await cli(`run --once, echoed credentials (${label})`, ['run', '--once'], {
          ...extra,
          PREFECT_API_URL: relayUrl,
        });
        expect(run.code, run.stderr).toBe(1);
        expect(run.stdout).toMatch(new RegExp(`connector ${victim}`));
        // The error was recorded: it is shown by status and events, and served by the ops API.
        await cli(`status, echoed credentials (${label})`, ['status'], extra);
        await cli(`status --json, echoed credentials (${label})`, ['status', '--json'], extra);
        await cli(`events, echoed credentials (${label})`, ['events', '--limit', '1000'], extra);
        await cli(`events --json, echoed credentials (${label})`, ['events', '--json'], extra);
        const stored = await env.sql(
          `SELECT last_error FROM connector_sync.connector_state WHERE connector_id = $1`,
          [victim],
        );
        expectClean(`connector_state.last_error (${label})`, JSON.stringify(stored));
        const failures = await env.sql(
          `SELECT payload FROM connector_sync.events WHERE connector_id = $1 AND action = 'failed'`,
          [victim],
        );
        expect(failures.length).toBeGreaterThan(0);
        expectClean(`events.payload (${label})`, JSON.stringify(failures));
      }
      // The long-running worker meets the same refusal; its logs and ops API serve the record.
      const worker = await startWorker(env, {
        ...withKey,
        PREFECT_API_URL: relayUrl,
        CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *',
      });
      try {
        await worker.waitForLog((l) => l.msg === 'pass finished', 60_000);
        for (const path of [
          `/api/connectors?status=failed`,
          `/api/events?connector=${victim}`,
          '/api/events?action=failed',
        ]) {
          const response = await fetch(`${worker.baseUrl}${path}`);
          expect(response.status).toBe(200);
          expectClean(`worker GET ${path}, echoed credentials`, await response.text());
        }
      } finally {
        worker.kill('SIGTERM');
        await worker.exited;
      }
      expectClean('worker (run) logs, echoed credentials', worker.output());
    } finally {
      relay.closeAllConnections();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
      // Leave the environment as it was for the tests after this one (events may be pruned).
      await env.sql(`DELETE FROM cai_connectors WHERE id = $1`, [victim]);
      await env.sql(`DELETE FROM connector_sync.events WHERE connector_id = $1`, [victim]);
      await env.sql(`DELETE FROM connector_sync.connector_state WHERE connector_id = $1`, [victim]);
    }
  }, 120_000);

  it('the long-running worker (trace logs, ops endpoints) and events --follow, stopped by signals', async () => {
    const worker = await startWorker(env, { ...withBoth, CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
    const bodies: string[] = [];
    try {
      await worker.waitForLog((l) => l.msg === 'pass finished', 60_000);
      for (const path of ['/healthz', '/readyz', '/metrics', '/api/events', '/api/connectors']) {
        const response = await fetch(`${worker.baseUrl}${path}`);
        bodies.push(`${path}: ${await response.text()}`);
      }
      const follower = follow(env, [], withBoth);
      await follower.waitFor(1);
      expect(await stop(follower)).toEqual({ code: 0, signal: null });
      expectClean('events --follow', `${follower.stdout()}\n${follower.stderr()}`);
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.logs.some((l) => l.msg === 'worker stopped')).toBe(true);
    expectClean('worker (run)', worker.output());
    expectClean('worker ops endpoints', bodies.join('\n'));

    // A worker whose passes fail (Prefect unreachable) logs its errors: still no secret.
    const failing = await startWorker(env, {
      ...withBoth,
      PREFECT_API_URL: `http://127.0.0.1:${await freePort()}/api`,
      CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *',
    });
    try {
      await failing.waitForLog((l) => l.msg === 'pass failed', 60_000);
      const ready = await fetch(`${failing.baseUrl}/readyz`);
      expectClean('failing worker /readyz', await ready.text());
    } finally {
      failing.kill('SIGTERM');
    }
    expect(await failing.exited).toEqual({ code: 0, signal: null });
    expectClean('worker (run), Prefect unreachable', failing.output());
  }, 150_000);
});
