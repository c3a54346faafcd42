import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import {
  createTestEnv,
  insertConnectors,
  SHORT_CALLS,
  untilIntentsSettleable,
  type TestEnv,
} from '../harness/env.js';
import { handMadeDeployment, prefectApi } from '../harness/prefect-api.js';
import { startProxy, type FaultProxy, type FaultRule } from '../harness/proxy.js';

// `sync ID…` and `retry`: a connector in backoff (an hour of it) is
// reconciled now — by the leading worker when one runs (the CLI waits for
// its outcome), by the CLI itself under the lock when none does, and by the
// CLI again when the leader goes away while it waits.

let env: TestEnv;
let proxy: FaultProxy;
let worker: WorkerProcess | undefined;
/** The connector of the sync request a timed-out CLI leaves open for the next leader. */
let leftOpen = '';

const LEADER_KEY = 'connector-sync:leader:connector_sync';
const createsFail: FaultRule[] = [
  {
    fault: { kind: 'status', status: 503 },
    match: (method, path) => method === 'POST' && path === '/deployments/',
  },
];

beforeAll(async () => {
  // No retries, short calls (a refused create's intent settles after ~2 s),
  // and a failed connector waits an hour before it is tried again.
  env = await createTestEnv({
    config: {
      prefect: { ...SHORT_CALLS, retries: 0 },
      reconcile: { backoff: { baseSeconds: 3600 } },
    },
  });
  proxy = await startProxy(env.apiUrl, []);
});
afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  await proxy?.close();
  await env?.cleanup();
});

const viaProxy = (): Record<string, string> => ({ PREFECT_API_URL: proxy.url });

async function deploymentOf(id: string): Promise<Record<string, any> | undefined> {
  const all = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
  return all.find((d) => (d.tags as string[]).includes(`connector-${id}`));
}

async function stateOf(id: string): Promise<{ status: string; backoff_left_s: number | null }> {
  const [row] = await env.sql<{ status: string; backoff_left_s: number | null }>(
    `SELECT status, extract(epoch FROM next_attempt_at - now())::float8 AS backoff_left_s
       FROM connector_sync.connector_state WHERE connector_id = $1`,
    [id],
  );
  return row!;
}

/** A connector whose create Prefect refused with 503: failed, in an hour of backoff. */
async function failedConnector(name: string, hour: number): Promise<string> {
  proxy.setFaults(createsFail);
  const [id] = (await insertConnectors(env, [{ name, schedule: `0 ${hour} * * *` }])) as [string];
  if (worker) {
    await env.sql(`SELECT pg_notify('connector_sync_wakeup', $1)`, [id]);
    await worker.waitForLog(
      (l) =>
        l.msg === 'pass finished' && (l.connectors as string[] | undefined)?.includes(id) === true,
    );
  } else {
    expect((await env.cli(['run', '--once'], viaProxy())).code).toBe(1);
  }
  const state = await stateOf(id);
  expect(state.status).toBe('failed');
  expect(state.backoff_left_s).toBeGreaterThan(30 * 60);
  await proxy.clearFaults();
  // The refused create may have landed, for all the pass knows: once its
  // intent is old enough, the next pass settles it (it did not) and creates.
  await untilIntentsSettleable(env.db, env.config);
  return id;
}

/** Holds the reconcile lock the way a leading worker does, on a connection of its own. */
async function holdLeaderLock(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: env.databaseUrl });
  await client.connect();
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [LEADER_KEY]);
  return client;
}

describe('sync without a worker', () => {
  it('takes the lock and runs the targeted pass itself, backoff or not', async () => {
    const id = await failedConnector('no-worker', 1);
    const sync = await env.cli(['sync', id], viaProxy());
    expect(sync.code).toBe(0);
    expect(sync.stdout).toMatch(new RegExp(`^\\+ create +connector-${id}`, 'm'));
    expect(sync.stderr).not.toContain('a worker leads');
    expect(await deploymentOf(id)).toBeDefined();
    expect((await stateOf(id)).status).toBe('synced');
    const [pass] = await env.sql<{ kind: string }>(
      `SELECT kind FROM connector_sync.passes ORDER BY started_at DESC LIMIT 1`,
    );
    expect(pass!.kind).toBe('targeted');
  });

  it('refuses bad usage with exit 64 and says why', async () => {
    const none = await env.cli(['sync']);
    expect(none.code).toBe(64);
    expect(none.stderr).toContain("missing required argument 'id'");
    const badTimeout = await env.cli(['sync', '1', '--timeout', '-3']);
    expect(badTimeout.code).toBe(64);
    expect(badTimeout.stderr).toContain('expected a number of seconds > 0');
    const badStatus = await env.cli(['retry', '--status', 'synced']);
    expect(badStatus.code).toBe(64);
  });
});

describe('sync of an id that names no connector', () => {
  it('says so on one line and exits 64, changing nothing; a deleted row it knew is still synced', async () => {
    const passesBefore = await env.sql(`SELECT id FROM connector_sync.passes`);
    const none = await env.cli(['sync', '999999'], viaProxy());
    expect(none.code).toBe(64);
    expect(none.stderr.trim().split('\n')).toEqual([
      `connector-sync: no connector 999999: not a row of cai_connectors, and never reconciled (\`connector-sync status\` lists the connectors)`,
    ]);
    expect(await env.sql(`SELECT id FROM connector_sync.passes`)).toHaveLength(passesBefore.length);

    const [known] = (await insertConnectors(env, [
      { name: 'known-then-gone', schedule: '0 5 * * *' },
    ])) as [string];
    expect((await env.cli(['sync', known], viaProxy())).code).toBe(0);
    await env.sql(`DELETE FROM cai_connectors WHERE id = $1`, [known]);
    const gone = await env.cli(['sync', known, '999998'], viaProxy());
    expect(gone.code).toBe(64);
    expect(gone.stderr).toContain('no connector 999998:');
    const deleted = await env.cli(['sync', known], viaProxy());
    expect(deleted.code).toBe(0);
    expect(await deploymentOf(known)).toBeUndefined();
  });
});

describe('sync while another process holds the lock', () => {
  it('waits, and runs the pass itself once the leader goes away', async () => {
    const id = await failedConnector('leader-leaves', 2);
    const leader = await holdLeaderLock();
    const sync = env.cli(['sync', id, '--timeout', '60'], viaProxy());
    // The request is written; nobody serves it while the lock is held.
    let requests: { id: string; finished_at: Date | null }[] = [];
    for (let i = 0; i < 100 && requests.length === 0; i++) {
      requests = await env.sql(
        `SELECT id::text, finished_at FROM connector_sync.sync_requests WHERE $1 = ANY(connector_ids)`,
        [id],
      );
      if (requests.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(requests).toHaveLength(1);
    expect(requests[0]!.finished_at).toBeNull();
    await leader.end();
    const result = await sync;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^\\+ create +connector-${id}`, 'm'));
    const [served] = await env.sql<{ pass_id: string | null; exit_code: number }>(
      `SELECT pass_id, (outcome->>'exitCode')::int AS exit_code
         FROM connector_sync.sync_requests WHERE id = $1`,
      [requests[0]!.id],
    );
    expect(served!.pass_id).not.toBeNull();
    expect(served!.exit_code).toBe(0);
  });

  it('gives up after --timeout with exit 69, the request left open', async () => {
    [leftOpen] = (await insertConnectors(env, [{ name: 'left-open', schedule: '0 6 * * *' }])) as [
      string,
    ];
    const leader = await holdLeaderLock();
    try {
      const result = await env.cli(['sync', leftOpen, '--timeout', '1.5']);
      expect(result.code).toBe(69);
      expect(result.stderr).toContain('has not reconciled connectors of sync request');
      expect(result.stderr).toContain('within 1.5s (--timeout)');
    } finally {
      await leader.end();
    }
  });
});

describe('sync and retry against a running worker', () => {
  it('hands a connector in backoff to the leader, which reconciles it at once; exit 0', async () => {
    worker = await startWorker(env, { ...viaProxy(), CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
    await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 60_000);
    const id = await failedConnector('with-worker', 3);
    // A plain wake-up leaves it to its backoff.
    const before = worker.logs.length;
    await env.sql(`SELECT pg_notify('connector_sync_wakeup', $1)`, [id]);
    await worker.waitForLog((l) => l.msg === 'pass finished' && worker!.logs.indexOf(l) >= before);
    expect(await deploymentOf(id)).toBeUndefined();

    const sync = await env.cli(['sync', id, '--timeout', '30']);
    expect(sync.code).toBe(0);
    expect(sync.stdout).toMatch(new RegExp(`^\\+ create +connector-${id}`, 'm'));
    const served = await worker.waitForLog(
      (l) => l.msg === 'sync requests served' && (l.connectors as string[]).includes(id),
    );
    expect(served.connectors).toEqual([id]);
    // The request the timed-out CLI left open was served when this worker took the lead.
    const [left] = await env.sql<{ open: number }>(
      `SELECT count(*)::int AS open FROM connector_sync.sync_requests WHERE finished_at IS NULL`,
    );
    expect(left!.open).toBe(0);
    expect(worker.logs.find((l) => l.msg === 'sync requests served')!.connectors).toEqual([
      leftOpen,
    ]);
    expect(await deploymentOf(id)).toBeDefined();
    expect((await stateOf(id)).status).toBe('synced');
  });

  it('retry --status conflict: tries the conflicting connectors again and tells how they end', async () => {
    const [id] = (await insertConnectors(env, [{ name: 'taken', schedule: '0 4 * * *' }])) as [
      string,
    ];
    const squatter = await handMadeDeployment(env.apiUrl, env.flowName, `connector-${id}`);
    await env.sql(`SELECT pg_notify('connector_sync_wakeup', $1)`, [id]);
    await worker!.waitForLog(
      (l) =>
        l.msg === 'pass finished' && (l.connectors as string[] | undefined)?.includes(id) === true,
    );
    expect((await stateOf(id)).status).toBe('conflict');

    const still = await env.cli(['retry', '--status', 'conflict', '--json']);
    expect(still.code).toBe(1);
    const json = JSON.parse(still.stdout);
    expect(json.connectors).toEqual([id]);
    expect(json.problems.map((p: any) => [p.connector_id, p.status])).toEqual([[id, 'conflict']]);

    expect((await prefectApi(env.apiUrl).call('DELETE', `/deployments/${squatter}`)).status).toBe(
      204,
    );
    const retried = await env.cli(['retry']);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(new RegExp(`^\\+ create +connector-${id}`, 'm'));
    expect((await stateOf(id)).status).toBe('synced');
    const nothing = await env.cli(['retry']);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toBe('No connector is failed, invalid or conflict: nothing to retry.\n');
  });
});
