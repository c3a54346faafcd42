import { PrefectClient } from '../../../src/prefect/client.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PrefectError } from '../../../src/prefect/errors.js';
import { PoolLookup } from '../../../src/publish/pool-lookup.js';
import type { PrefectEvent } from '../../../src/publish/prefect-events.js';
import {
  makeHttp,
  prefect,
  recordAndReply,
  rejectionOf,
  useNock,
  type Seen,
} from '../../harness/prefect-nock.js';

// The work pool added to the events that name a deployment but not its pool:
// one deployments filter per lookup, the pools read once per five minutes
// (or sooner, on a pool name not seen yet). Against nock, as the client talks
// to Prefect.

useNock();

const DEP_A = '11111111-0000-4000-8000-00000000000a';
const DEP_B = '11111111-0000-4000-8000-00000000000b';
const DEP_GONE = '11111111-0000-4000-8000-00000000000c';
const POOLS = [
  { id: 'pool-default-id', name: 'default' },
  { id: 'pool-gpu-id', name: 'gpu' },
];

function event(id: string, related: Record<string, unknown>[]): PrefectEvent {
  return {
    id,
    occurred: '2026-12-01T08:00:00.000Z',
    event: 'connector-sync.connector.invalid',
    resource: { 'prefect.resource.id': 'connector-sync.connector.1' },
    related,
    payload: {},
  };
}
const deployment = (id: string) => ({
  'prefect.resource.id': `prefect.deployment.${id}`,
  'prefect.resource.role': 'deployment',
});
const poolRelated = (name: string) => ({
  'prefect.resource.id': `prefect.work-pool.${POOLS.find((p) => p.name === name)!.id}`,
  'prefect.resource.role': 'work-pool',
  'prefect.resource.name': name,
});

/** Prefect's answers: deployments by id with their pool; the pools known. */
function serve(
  seen: Seen[],
  deployments: { id: string; work_pool_name: string | null }[],
  pools = POOLS,
): void {
  prefect()
    .post('/api/deployments/filter')
    .reply(async (req: Request) => {
      const body = JSON.parse(await req.clone().text());
      const wanted = new Set<string>(body.deployments.id.any_);
      return recordAndReply(
        seen,
        200,
        deployments.filter((d) => wanted.has(d.id)),
      )(req);
    });
  prefect()
    .post('/api/work_pools/filter')
    .reply(recordAndReply(seen, 200, pools));
}

const paths = (seen: Seen[]) => seen.map((s) => s.path);

beforeEach(() => {
  // Only Date: nock and the HTTP client keep their real timers.
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2026-12-01T08:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

describe('PoolLookup.withPools', () => {
  it('adds the pool to each event that names a deployment: one deployments filter (ids once each) and one pools filter', async () => {
    const seen: Seen[] = [];
    serve(seen, [
      { id: DEP_A, work_pool_name: 'default' },
      { id: DEP_B, work_pool_name: 'gpu' },
    ]);
    const events = [
      event('e1', [deployment(DEP_A)]),
      event('e2', [deployment(DEP_B)]),
      event('e3', [deployment(DEP_A)]),
    ];
    const out = await new PoolLookup(new PrefectClient(makeHttp())).withPools(events);
    expect(paths(seen)).toEqual(['/api/deployments/filter', '/api/work_pools/filter']);
    expect(seen[0]!.body).toEqual({ deployments: { id: { any_: [DEP_A, DEP_B] } }, limit: 200 });
    expect(seen[1]!.body).toEqual({ limit: 200 });
    expect(out.map((e) => e.related)).toEqual([
      [deployment(DEP_A), poolRelated('default')],
      [deployment(DEP_B), poolRelated('gpu')],
      [deployment(DEP_A), poolRelated('default')],
    ]);
    expect(events[0]!.related).toEqual([deployment(DEP_A)]); // the input is left as it was
  });

  it('more deployments than one page of Prefect: asked 200 ids at a time, every event gets its pool', async () => {
    const seen: Seen[] = [];
    const ids = Array.from(
      { length: 450 },
      (_, i) => `22222222-0000-4000-8000-${String(i).padStart(12, '0')}`,
    );
    const prefectPages = (deployments: { id: string; work_pool_name: string }[]) =>
      prefect()
        .post('/api/deployments/filter')
        .times(3)
        .reply(async (req: Request) => {
          const body = JSON.parse(await req.clone().text());
          const wanted = new Set<string>(body.deployments.id.any_);
          // As Prefect does: at most `limit` answers.
          const found = deployments.filter((d) => wanted.has(d.id)).slice(0, body.limit);
          return recordAndReply(seen, 200, found)(req);
        });
    prefectPages(ids.map((id) => ({ id, work_pool_name: 'default' })));
    prefect()
      .post('/api/work_pools/filter')
      .reply(recordAndReply(seen, 200, POOLS));
    const out = await new PoolLookup(new PrefectClient(makeHttp())).withPools(
      ids.map((id, i) => event(`e${i}`, [deployment(id)])),
    );
    const asked = seen.filter((s) => s.path === '/api/deployments/filter');
    expect(asked.map((s) => (s.body as any).deployments.id.any_.length)).toEqual([200, 200, 50]);
    expect(
      out.every((e) => e.related.some((r) => r['prefect.resource.role'] === 'work-pool')),
    ).toBe(true);
  });

  it('asks nothing when no event wants a pool (no deployment, or the pool already there)', async () => {
    const seen: Seen[] = [];
    const events = [
      event('pass', []),
      event('has-pool', [deployment(DEP_A), poolRelated('gpu')]),
      event('deployment-as-flow', [
        { 'prefect.resource.id': `prefect.deployment.${DEP_A}`, 'prefect.resource.role': 'flow' },
      ]),
      event('not-a-deployment-id', [
        {
          'prefect.resource.id': 'connector-sync.connector.1',
          'prefect.resource.role': 'deployment',
        },
      ]),
    ];
    const out = await new PoolLookup(new PrefectClient(makeHttp())).withPools(events);
    expect(seen).toEqual([]);
    expect(out).toBe(events);
  });

  it('only the events that want one get a pool; a deployment gone, without a pool, or in a pool not listed gets none', async () => {
    const seen: Seen[] = [];
    serve(seen, [
      { id: DEP_A, work_pool_name: 'default' },
      { id: DEP_B, work_pool_name: null },
    ]);
    const lookup = new PoolLookup(new PrefectClient(makeHttp()));
    const kept = event('has-pool', [deployment(DEP_A), poolRelated('gpu')]);
    const out = await lookup.withPools([
      kept,
      event('a', [deployment(DEP_A)]),
      event('no-pool', [deployment(DEP_B)]),
      event('gone', [deployment(DEP_GONE)]),
    ]);
    expect(seen[0]!.body).toMatchObject({
      deployments: { id: { any_: [DEP_A, DEP_B, DEP_GONE] } },
    });
    expect(out[0]).toBe(kept);
    expect(out.slice(1).map((e) => e.related)).toEqual([
      [deployment(DEP_A), poolRelated('default')],
      [deployment(DEP_B)],
      [deployment(DEP_GONE)],
    ]);

    // A pool name not seen: the pools are read again, and a pool that is not there adds nothing.
    const elsewhere = '11111111-0000-4000-8000-0000000000ee';
    serve(seen, [{ id: elsewhere, work_pool_name: 'vanished' }]);
    const [vanished] = await lookup.withPools([event('v', [deployment(elsewhere)])]);
    expect(vanished!.related).toEqual([deployment(elsewhere)]);
    expect(paths(seen).filter((p) => p === '/api/work_pools/filter')).toHaveLength(2);
  });

  it('reads the pools once per five minutes; the deployments filter every time', async () => {
    const seen: Seen[] = [];
    const lookup = new PoolLookup(new PrefectClient(makeHttp()));
    const one = [event('e', [deployment(DEP_A)])];
    serve(seen, [{ id: DEP_A, work_pool_name: 'default' }]);
    await lookup.withPools(one);

    vi.setSystemTime(new Date('2026-12-01T08:04:59Z'));
    prefect()
      .post('/api/deployments/filter')
      .reply(recordAndReply(seen, 200, [{ id: DEP_A, work_pool_name: 'default' }]));
    const [cached] = await lookup.withPools(one);
    expect(cached!.related).toEqual([deployment(DEP_A), poolRelated('default')]);
    expect(paths(seen)).toEqual([
      '/api/deployments/filter',
      '/api/work_pools/filter',
      '/api/deployments/filter',
    ]);

    // Five minutes after they were read, the pools are read again (an id may have changed).
    vi.setSystemTime(new Date('2026-12-01T08:05:00Z'));
    serve(
      seen,
      [{ id: DEP_A, work_pool_name: 'default' }],
      [{ id: 'recreated-id', name: 'default' }],
    );
    const [fresh] = await lookup.withPools(one);
    expect(paths(seen).slice(3)).toEqual(['/api/deployments/filter', '/api/work_pools/filter']);
    expect(fresh!.related[1]).toMatchObject({
      'prefect.resource.id': 'prefect.work-pool.recreated-id',
    });
  });

  it('a pool name not seen yet reads the pools again within the five minutes', async () => {
    const seen: Seen[] = [];
    const lookup = new PoolLookup(new PrefectClient(makeHttp()));
    serve(seen, [{ id: DEP_A, work_pool_name: 'default' }], [POOLS[0]!]);
    await lookup.withPools([event('a', [deployment(DEP_A)])]);
    serve(seen, [{ id: DEP_B, work_pool_name: 'gpu' }]);
    const [b] = await lookup.withPools([event('b', [deployment(DEP_B)])]);
    expect(paths(seen).filter((p) => p === '/api/work_pools/filter')).toHaveLength(2);
    expect(b!.related[1]).toEqual(poolRelated('gpu'));
  });

  it('a refusal from Prefect fails the lookup (the sink retries the batch)', async () => {
    prefect().post('/api/deployments/filter').reply(422, { detail: 'bad filter' });
    const error = await rejectionOf(
      new PoolLookup(new PrefectClient(makeHttp())).withPools([event('a', [deployment(DEP_A)])]),
    );
    expect(error).toBeInstanceOf(PrefectError);
    expect((error as PrefectError).status).toBe(422);
  });
});
