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

describe('retries after a Retry-After', () => {
  it('waits at least Retry-After seconds before retrying a 429', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 429, { detail: 'Too Many Requests' }, { 'Retry-After': '1' }))
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 200, {}));
    const http = makeHttp();
    await http.request('GET', '/work_pools/default');
    expect(scope.isDone()).toBe(true);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('honours a Retry-After given as an HTTP date', async () => {
    const seen: Seen[] = [];
    // HTTP dates have whole seconds: this one is between 1 and 2 s away.
    const retryAt = new Date(Date.now() + 2_000).toUTCString();
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 429, { detail: 'slow down' }, { 'Retry-After': retryAt }))
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 200, {}));
    await makeHttp().request('GET', '/work_pools/default');
    expect(scope.isDone()).toBe(true);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(900);
  });

  // docs/guides/operating.md: a Retry-After pauses every request, not only the one that got it.
  it('pauses other requests too while a Retry-After is pending', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 429, { detail: 'slow down' }, { 'Retry-After': '1' }))
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
    const limited = seen[0]!.at;
    const other = seen.find((s) => s.path.startsWith('/api/deployments/'))!;
    expect(other.at - limited).toBeGreaterThanOrEqual(950);
  });
});
