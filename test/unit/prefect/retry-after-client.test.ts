import { describe, expect, it, vi } from 'vitest';
import {
  makeHttp,
  prefect,
  recordAndReply,
  sleep,
  useNock,
  type Seen,
} from '../../harness/prefect-nock.js';

// Retry-After, in real time: the client waits what Prefect asked, and every
// request of the client waits with the one that was told. (Apart from
// http.test.ts so these seconds of waiting run beside the other unit tests.)

useNock();

const DEPLOYMENT_ID = '0b9f2c1e-5a4d-4e3b-9c8a-7f6e5d4c3b2a';

describe('Retry-After pauses the whole client', () => {
  /** Sends a request that gets a 429 with `retryAfter`, then a second one once the 429 is read. */
  async function secondRequestAfter429(retryAfter: string): Promise<number> {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 429, { detail: 'slow down' }, { 'Retry-After': retryAfter }))
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 200, {}))
      .get(`/api/deployments/${DEPLOYMENT_ID}`)
      .reply(recordAndReply(seen, 200, {}));
    const http = makeHttp();
    const first = http.request('GET', '/work_pools/default');
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    await sleep(50); // let the client read the 429
    await http.request('GET', `/deployments/${DEPLOYMENT_ID}`);
    await first;
    expect(scope.isDone()).toBe(true);
    const other = seen.find((s) => s.path.startsWith('/api/deployments/'))!;
    return other.at - seen[0]!.at;
  }

  it('delta seconds: a concurrent request waits too', async () => {
    expect(await secondRequestAfter429('2')).toBeGreaterThanOrEqual(1_950);
  });

  it('an HTTP date: a concurrent request waits until then', async () => {
    // Whole seconds: 3 s ahead is at least 2 s after the 429.
    const at = new Date(Date.now() + 3_000).toUTCString();
    expect(await secondRequestAfter429(at)).toBeGreaterThanOrEqual(1_950);
  });

  it('a pause extended while requests wait holds them until the later end', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/a')
      .reply(recordAndReply(seen, 503, { detail: 'busy' }, { 'Retry-After': '1' }))
      .get('/api/work_pools/b')
      .delay(300) // answered while the first pause is running
      .reply(recordAndReply(seen, 429, { detail: 'slower' }, { 'Retry-After': '2' }))
      .get('/api/work_pools/a')
      .reply(recordAndReply(seen, 200, {}))
      .get('/api/work_pools/b')
      .reply(recordAndReply(seen, 200, {}));
    const http = makeHttp();
    const started = Date.now();
    await Promise.all([http.request('GET', '/work_pools/a'), http.request('GET', '/work_pools/b')]);
    expect(scope.isDone()).toBe(true);
    // The second 429 (read ~300 ms in) pauses everything for 2 s: both retries go after it.
    const retries = seen.filter((s) => s.at - started > 0).slice(2);
    for (const retry of retries) expect(retry.at - started).toBeGreaterThanOrEqual(2_200);
  });

  it("a client that shares the passes' limits (the event publisher) waits out their Retry-After too", async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 429, { detail: 'slow down' }, { 'Retry-After': '1' }))
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 200, {}))
      .post('/api/events')
      .reply(recordAndReply(seen, 204, ''));
    const passes = makeHttp();
    const publisher = makeHttp({
      sharesLimitsWith: passes,
      userAgent: 'connector-sync (publisher)',
    });
    const first = passes.request('GET', '/work_pools/default');
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    await sleep(50);
    await publisher.request('POST', '/events', []);
    await first;
    expect(scope.isDone()).toBe(true);
    const posted = seen.find((s) => s.path === '/api/events')!;
    expect(posted.at - seen[0]!.at).toBeGreaterThanOrEqual(950);
    // Counted apart: the publisher's calls are not a pass's.
    expect(passes.counts.writes).toBe(0);
    expect(publisher.counts.writes).toBe(1);
  });

  it('a 503 without Retry-After is retried after the backoff only', async () => {
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(503)
      .get('/api/work_pools/default')
      .reply(200, {});
    const started = Date.now();
    await makeHttp().request('GET', '/work_pools/default');
    expect(scope.isDone()).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
