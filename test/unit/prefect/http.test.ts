import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { PrefectError } from '../../../src/prefect/errors.js';
import { PrefectHttp, routeOf, WriteWindowClosed } from '../../../src/prefect/http.js';
import {
  API_URL,
  CSRF_INVALID,
  CSRF_MISSING,
  csrfToken,
  makeHttp,
  prefect,
  recordAndReply,
  rejectionOf,
  socketError,
  useNock,
  type Seen,
} from '../../harness/prefect-nock.js';

useNock();

const DEPLOYMENT_ID = '0b9f2c1e-5a4d-4e3b-9c8a-7f6e5d4c3b2a';
const SCHEDULE_ID = 'A1B2C3D4-E5F6-4789-8ABC-DEF012345678';

function totalCalls(http: PrefectHttp): number {
  return http.counts.reads + http.counts.writes;
}

/**
 * A reply as Prefect with CSRF protection on gives it: 403 "Missing CSRF
 * token." to a write without a token, 403 "Invalid CSRF token or client
 * identifier." to one with a token other than `valid()` (or no client id);
 * otherwise `status` and `body`. Every request is recorded into `seen`.
 */
function csrfGuarded(
  seen: Seen[],
  valid: () => string,
  status: number,
  body?: unknown,
): (req: Request) => Promise<[number, unknown, Record<string, string>] | [number]> {
  return (req: Request) => {
    const token = req.headers.get('prefect-csrf-token');
    const client = req.headers.get('prefect-csrf-client');
    if (token === null) return recordAndReply(seen, 403, CSRF_MISSING)(req);
    if (token !== valid() || !client) return recordAndReply(seen, 403, CSRF_INVALID)(req);
    return recordAndReply(seen, status, body)(req);
  };
}

describe('headers', () => {
  it('sends no Authorization header without credentials', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 200, {}));
    await makeHttp().request('GET', '/work_pools/default');
    expect(scope.isDone()).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers).not.toHaveProperty('authorization');
  });

  it('sends Basic base64(user:pass) for an auth string, on the CSRF token fetch too', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 200, {}))
      .post('/api/flows/')
      .twice()
      .reply(csrfGuarded(seen, () => 't1', 200, { id: 'f' }));
    csrfToken('t1', seen);
    const http = makeHttp({ authString: 'user:pass' });
    await http.request('GET', '/work_pools/default');
    await http.request('POST', '/flows/', { name: 'x' });
    expect(scope.isDone()).toBe(true);
    expect(seen.map((s) => s.path)).toEqual([
      '/api/work_pools/default',
      '/api/flows/',
      '/api/csrf-token',
      '/api/flows/',
    ]);
    for (const s of seen) expect(s.headers.authorization).toBe('Basic dXNlcjpwYXNz');
  });

  it('sends Bearer <key> for an API key', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 200, {}));
    await makeHttp({ apiKey: 'pnu_abc123' }).request('GET', '/work_pools/default');
    expect(scope.isDone()).toBe(true);
    expect(seen[0]!.headers.authorization).toBe('Bearer pnu_abc123');
  });

  it('prefers the API key when both an API key and an auth string are set', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 200, {}));
    await makeHttp({ apiKey: 'pnu_abc123', authString: 'user:pass' }).request(
      'GET',
      '/work_pools/default',
    );
    expect(scope.isDone()).toBe(true);
    expect(seen[0]!.headers.authorization).toBe('Bearer pnu_abc123');
  });

  it('sends JSON with a JSON content type', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/flows/')
      .reply(recordAndReply(seen, 201, { id: 'f' }));
    const { status, data } = await makeHttp().request<{ id: string }>('POST', '/flows/', {
      name: 'dlt',
    });
    expect(scope.isDone()).toBe(true);
    expect(status).toBe(201);
    expect(data).toEqual({ id: 'f' });
    expect(seen[0]!.headers['content-type']).toMatch(/^application\/json/);
    expect(seen[0]!.body).toEqual({ name: 'dlt' });
  });

  it('tolerates a trailing slash on the API URL', async () => {
    const scope = prefect().get('/api/work_pools/default').reply(200, { id: 'p' });
    const http = makeHttp({ apiUrl: 'http://prefect.test/api/' });
    expect((await http.request('GET', '/work_pools/default')).data).toEqual({ id: 'p' });
    expect(scope.isDone()).toBe(true);
  });
});

describe('CSRF', () => {
  const csrfHeaders = (s: Seen) => ({
    token: s.headers['prefect-csrf-token'],
    client: s.headers['prefect-csrf-client'],
  });

  it('CSRF off: writes go without a token and /csrf-token is never asked', async () => {
    const csrfSeen: Seen[] = [];
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/deployments/')
      .times(3)
      .reply(recordAndReply(seen, 201, { id: DEPLOYMENT_ID }))
      .patch(`/api/deployments/${DEPLOYMENT_ID}`)
      .times(3)
      .reply(recordAndReply(seen, 204))
      .delete(`/api/deployments/${DEPLOYMENT_ID}`)
      .times(3)
      .reply(recordAndReply(seen, 204))
      .post('/api/deployments/paginate')
      .times(3)
      .reply(recordAndReply(seen, 200, { results: [], pages: 1 }));
    // Offered, never taken: the old client asked for a token before its first write.
    const csrf = csrfToken('t1', csrfSeen);
    const http = makeHttp();
    await Promise.all([
      http.request('POST', '/deployments/', { name: 'a' }),
      http.request('PATCH', `/deployments/${DEPLOYMENT_ID}`, { paused: true }),
      http.request('DELETE', `/deployments/${DEPLOYMENT_ID}`),
      http.request('POST', '/deployments/paginate', { limit: 1 }),
    ]);
    for (let i = 0; i < 2; i++) {
      await http.request('POST', '/deployments/', { name: 'a' });
      await http.request('PATCH', `/deployments/${DEPLOYMENT_ID}`, { paused: true });
      await http.request('DELETE', `/deployments/${DEPLOYMENT_ID}`);
      await http.request('POST', '/deployments/paginate', { limit: 1 });
    }
    expect(scope.isDone()).toBe(true);
    expect(csrf.isDone()).toBe(false);
    expect(csrfSeen).toHaveLength(0);
    expect(seen).toHaveLength(12);
    for (const s of seen) {
      expect(s.headers).not.toHaveProperty('prefect-csrf-token');
      expect(s.headers).not.toHaveProperty('prefect-csrf-client');
    }
    expect(http.counts).toMatchObject({ reads: 3, writes: 9 });
    expect(http.counts.byRoute).not.toHaveProperty('GET /csrf-token');
  });

  it('CSRF on: the first write is refused, one token fetch, the write retried with token and client id; later writes carry them', async () => {
    const csrfSeen: Seen[] = [];
    const seen: Seen[] = [];
    const valid = () => 't1';
    const scope = prefect()
      .post('/api/deployments/')
      .twice()
      .reply(csrfGuarded(seen, valid, 201, { id: DEPLOYMENT_ID }))
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 200, {}))
      .post('/api/deployments/paginate')
      .reply(csrfGuarded(seen, valid, 200, { results: [], pages: 1 }))
      .patch(`/api/deployments/${DEPLOYMENT_ID}`)
      .reply(csrfGuarded(seen, valid, 204))
      .delete(`/api/deployments/${DEPLOYMENT_ID}/schedules/${SCHEDULE_ID}`)
      .reply(csrfGuarded(seen, valid, 204))
      .delete(`/api/deployments/${DEPLOYMENT_ID}`)
      .reply(csrfGuarded(seen, valid, 204));
    const csrf = csrfToken('t1', csrfSeen);
    const http = makeHttp({ authString: 'user:pass' });
    const { status } = await http.request('POST', '/deployments/', { name: 'a' });
    expect(status).toBe(201);
    await http.request('GET', '/work_pools/default');
    await http.request('POST', '/deployments/paginate', { limit: 200 });
    await http.request('PATCH', `/deployments/${DEPLOYMENT_ID}`, { paused: true });
    await http.request('DELETE', `/deployments/${DEPLOYMENT_ID}/schedules/${SCHEDULE_ID}`);
    await http.request('DELETE', `/deployments/${DEPLOYMENT_ID}`);
    expect(scope.isDone()).toBe(true);
    expect(csrf.isDone()).toBe(true);
    expect(csrfSeen).toHaveLength(1);
    const client = csrfSeen[0]!.query.get('client');
    expect(client).toMatch(/^connector-sync-/);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      'POST /api/deployments/',
      'POST /api/deployments/',
      'GET /api/work_pools/default',
      'POST /api/deployments/paginate',
      'PATCH /api/deployments/' + DEPLOYMENT_ID,
      `DELETE /api/deployments/${DEPLOYMENT_ID}/schedules/${SCHEDULE_ID}`,
      `DELETE /api/deployments/${DEPLOYMENT_ID}`,
    ]);
    // Before the server said so, no token; a GET never carries one.
    expect(csrfHeaders(seen[0]!)).toEqual({ token: undefined, client: undefined });
    expect(csrfHeaders(seen[2]!)).toEqual({ token: undefined, client: undefined });
    for (const s of [seen[1]!, ...seen.slice(3)])
      expect(csrfHeaders(s)).toEqual({ token: 't1', client });
    // The refused write was sent, so it is counted; the token fetch is a read.
    expect(http.counts.byRoute).toMatchObject({ 'POST /deployments/': 2, 'GET /csrf-token': 1 });
    expect(http.counts).toMatchObject({ reads: 3, writes: 5 });
  });

  it('concurrent first writes all refused: exactly one token fetch, every write retried with it', async () => {
    const csrfSeen: Seen[] = [];
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/flows/')
      .times(10)
      .reply(csrfGuarded(seen, () => 't1', 200, { id: 'f' }));
    // Room for more fetches than one, so that extra ones would show in csrfSeen.
    csrfToken('t1', csrfSeen, 5);
    const http = makeHttp();
    await Promise.all(Array.from({ length: 5 }, () => http.request('POST', '/flows/', {})));
    expect(scope.isDone()).toBe(true);
    expect(csrfSeen).toHaveLength(1);
    const tokens = seen.map((s) => s.headers['prefect-csrf-token'] ?? null);
    expect(tokens.filter((t) => t === null)).toHaveLength(5);
    expect(tokens.filter((t) => t === 't1')).toHaveLength(5);
    expect(http.counts.byRoute).toEqual({ 'POST /flows/': 10, 'GET /csrf-token': 1 });
  });

  it('never fetches a token for GET requests', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .times(3)
      .reply(recordAndReply(seen, 200, {}))
      .get(`/api/deployments/${DEPLOYMENT_ID}`)
      .reply(recordAndReply(seen, 200, {}));
    const csrf = csrfToken('t1');
    const http = makeHttp();
    for (let i = 0; i < 3; i++) await http.request('GET', '/work_pools/default');
    await http.request('GET', `/deployments/${DEPLOYMENT_ID}`);
    expect(scope.isDone()).toBe(true);
    expect(csrf.isDone()).toBe(false);
    for (const s of seen) expect(s.headers).not.toHaveProperty('prefect-csrf-token');
    expect(http.counts.byRoute).not.toHaveProperty('GET /csrf-token');
  });

  it('an expired token: concurrent refusals refresh it once, and the writes are retried with the new one', async () => {
    const csrfSeen: Seen[] = [];
    const seen: Seen[] = [];
    let valid = 't1';
    const scope = prefect()
      .post('/api/flows/')
      .times(2 + 6)
      .reply(csrfGuarded(seen, () => valid, 200, { id: 'f' }));
    csrfToken('t1', csrfSeen);
    csrfToken('t2', csrfSeen, 3);
    const http = makeHttp();
    await http.request('POST', '/flows/', { name: 'x' }); // learns protection is on, gets t1
    valid = 't2'; // t1 expires, as after an hour
    await Promise.all(Array.from({ length: 3 }, () => http.request('POST', '/flows/', {})));
    expect(scope.isDone()).toBe(true);
    expect(csrfSeen).toHaveLength(2);
    const client = csrfSeen[0]!.query.get('client');
    expect(csrfSeen[1]!.query.get('client')).toBe(client);
    const later = seen.slice(2).map((s) => s.headers['prefect-csrf-token']);
    expect(later.filter((t) => t === 't1')).toHaveLength(3);
    expect(later.filter((t) => t === 't2')).toHaveLength(3);
    expect(
      seen.every(
        (s) => !s.headers['prefect-csrf-token'] || s.headers['prefect-csrf-client'] === client,
      ),
    ).toBe(true);
  });

  it('surfaces a second CSRF 403 on the same request as an auth error, without more attempts', async () => {
    const csrfSeen: Seen[] = [];
    const seen: Seen[] = [];
    // The token is never accepted (say, the server lost its token table).
    const scope = prefect()
      .post('/api/flows/')
      .twice()
      .reply(csrfGuarded(seen, () => 'never', 200, { id: 'f' }));
    csrfToken('t1', csrfSeen, 3);
    const http = makeHttp({ retries: 3 });
    const error = await rejectionOf(http.request('POST', '/flows/', { name: 'x' }));
    expect(error).toBeInstanceOf(PrefectError);
    expect(error).toMatchObject({ kind: 'auth', status: 403 });
    expect((error as PrefectError).message).toMatch(/Invalid CSRF token/);
    expect(scope.isDone()).toBe(true);
    expect(seen.map((s) => s.headers['prefect-csrf-token'] ?? null)).toEqual([null, 't1']);
    expect(csrfSeen).toHaveLength(1);
    expect(http.counts.byRoute).toEqual({ 'POST /flows/': 2, 'GET /csrf-token': 1 });
  });

  it('does not fetch a token on a 403 that is not about CSRF', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/flows/')
      .reply(recordAndReply(seen, 403, { detail: 'Forbidden' }));
    const csrf = csrfToken('t1');
    const http = makeHttp();
    const error = await rejectionOf(http.request('POST', '/flows/', { name: 'x' }));
    expect(error).toMatchObject({ kind: 'auth', status: 403 });
    expect(scope.isDone()).toBe(true);
    expect(csrf.isDone()).toBe(false);
    expect(seen).toHaveLength(1);
    expect(http.counts.byRoute).toEqual({ 'POST /flows/': 1 });
  });

  it('a token fetch that fails transiently is retried, then the write goes with the token', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/flows/')
      .twice()
      .reply(csrfGuarded(seen, () => 't1', 200, { id: 'f' }))
      .get('/api/csrf-token')
      .query(true)
      .reply(503, { detail: 'Service Unavailable' });
    csrfToken('t1');
    const http = makeHttp();
    const { data } = await http.request('POST', '/flows/', { name: 'x' });
    expect(data).toEqual({ id: 'f' });
    expect(scope.isDone()).toBe(true);
    // The retry starts over: a refused write learned protection is on, so the
    // retried attempt fetches the token (not cached after the failure) first.
    expect(seen.map((s) => s.headers['prefect-csrf-token'] ?? null)).toEqual([null, 't1']);
    expect(http.counts.byRoute).toEqual({ 'POST /flows/': 2, 'GET /csrf-token': 2 });
  });

  it('a write refused for CSRF while /csrf-token says protection is off: an auth error, not retried', async () => {
    const seen: Seen[] = [];
    // Something in front of Prefect that speaks of CSRF, while Prefect's own protection is off.
    const scope = prefect()
      .post('/api/flows/')
      .reply(recordAndReply(seen, 403, CSRF_MISSING))
      .get('/api/csrf-token')
      .query(true)
      .reply(recordAndReply(seen, 422, { detail: 'CSRF protection is disabled.' }));
    const http = makeHttp({ retries: 3 });
    const error = await rejectionOf(http.request('POST', '/flows/', { name: 'x' }));
    expect(error).toMatchObject({ kind: 'auth', status: 422 });
    expect((error as PrefectError).message).toMatch(/CSRF protection is disabled/);
    expect(scope.isDone()).toBe(true);
    expect(seen).toHaveLength(2);
  });
});

describe('retries', () => {
  it('retries a 503 and succeeds on the second request', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 503, { detail: 'Service Unavailable' }))
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 200, { id: 'p', name: 'default' }));
    const http = makeHttp();
    const { data } = await http.request('GET', '/work_pools/default');
    expect(data).toEqual({ id: 'p', name: 'default' });
    expect(scope.isDone()).toBe(true);
    expect(seen).toHaveLength(2);
    expect(totalCalls(http)).toBe(2);
  });

  it.each([408, 429, 500, 502, 504])('retries a %i', async (status) => {
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/deployments/filter')
      .reply(recordAndReply(seen, status, { detail: 'try later' }))
      .post('/api/deployments/filter')
      .reply(recordAndReply(seen, 200, []));
    const http = makeHttp();
    const { status: answered } = await http.request('POST', '/deployments/filter', {});
    expect(answered).toBe(200);
    expect(scope.isDone()).toBe(true);
    expect(seen).toHaveLength(2);
  });

  it('retries a network error', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .replyWithError(socketError('ECONNRESET'))
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 200, { id: 'p' }));
    const http = makeHttp({ timeoutMs: 5_000 });
    const started = Date.now();
    expect((await http.request('GET', '/work_pools/default')).data).toEqual({ id: 'p' });
    // Retried because of the reset, not after waiting for a timeout.
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(scope.isDone()).toBe(true);
    expect(seen).toHaveLength(1);
    expect(totalCalls(http)).toBe(2);
  });

  it('classifies a network error that outlasts the retries as network', async () => {
    const scope = prefect()
      .get('/api/work_pools/default')
      .times(3)
      .replyWithError(socketError('ECONNRESET'));
    const http = makeHttp({ retries: 2 });
    const error = await rejectionOf(http.request('GET', '/work_pools/default'));
    expect(error).toBeInstanceOf(PrefectError);
    expect(error).toMatchObject({ kind: 'network', status: null, retryable: true });
    expect((error as PrefectError).message).toContain('ECONNRESET');
    expect(scope.isDone()).toBe(true);
    expect(totalCalls(http)).toBe(3);
  });

  it.each([
    [400, 'permanent'],
    [401, 'auth'],
    [404, 'not-found'],
    [403, 'auth'],
    [405, 'permanent'],
    [409, 'conflict'],
    [413, 'permanent'],
    [422, 'invalid'],
    [501, 'permanent'],
    [505, 'permanent'],
  ] as const)('does not retry a %i (kind %s)', async (status, kind) => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, status, { detail: 'no' }));
    // Would answer a wrongful retry with success and hide the error.
    const retryTrap = prefect().get('/api/work_pools/default').reply(200, {});
    const http = makeHttp({ retries: 3 });
    const error = await rejectionOf(http.request('GET', '/work_pools/default'));
    expect(error).toBeInstanceOf(PrefectError);
    expect(error).toMatchObject({ kind, status, retryable: false });
    expect(scope.isDone()).toBe(true);
    expect(retryTrap.isDone()).toBe(false);
    expect(seen).toHaveLength(1);
    expect(totalCalls(http)).toBe(1);
  });

  it('stops after `retries` extra attempts and surfaces the last status', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .times(3)
      .reply(recordAndReply(seen, 503, { detail: 'Service Unavailable' }));
    const retryTrap = prefect().get('/api/work_pools/default').reply(200, {});
    const http = makeHttp({ retries: 2 });
    const error = await rejectionOf(http.request('GET', '/work_pools/default'));
    expect(error).toBeInstanceOf(PrefectError);
    expect(error).toMatchObject({ kind: 'transient', status: 503 });
    expect((error as PrefectError).message).toBe(
      'Prefect GET /work_pools/{name} answered 503: Service Unavailable',
    );
    expect(scope.isDone()).toBe(true);
    expect(retryTrap.isDone()).toBe(false);
    expect(seen).toHaveLength(3);
  });
});

describe('timeout', () => {
  it('retries a response slower than timeoutMs, as a network error', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .delay(500)
      .reply(200, { slow: true })
      .get('/api/work_pools/default')
      .reply(recordAndReply(seen, 200, { slow: false }));
    const http = makeHttp({ timeoutMs: 50 });
    const { data } = await http.request('GET', '/work_pools/default');
    expect(data).toEqual({ slow: false });
    expect(scope.isDone()).toBe(true);
    expect(totalCalls(http)).toBe(2);
  });

  it('fails with kind network when every attempt times out', async () => {
    const scope = prefect().get('/api/work_pools/default').times(2).delay(500).reply(200, {});
    const http = makeHttp({ timeoutMs: 50, retries: 1 });
    const started = Date.now();
    const error = await rejectionOf(http.request('GET', '/work_pools/default'));
    expect(error).toBeInstanceOf(PrefectError);
    expect(error).toMatchObject({ kind: 'network', status: null });
    expect(Date.now() - started).toBeLessThan(450);
    expect(scope.isDone()).toBe(true);
    expect(totalCalls(http)).toBe(2);
  });
});

describe('credentials never appear in errors', () => {
  const apiKey = 'pnu_TopSecretKey0123456789';
  const authString = 'admin:hunter2-s3cret';
  const secrets = [
    apiKey,
    authString,
    'hunter2-s3cret',
    Buffer.from(authString).toString('base64'),
  ];

  function expectNoSecrets(error: unknown): void {
    expect(error).toBeInstanceOf(PrefectError);
    const texts = [(error as Error).message, JSON.stringify(error), String(error)];
    for (const text of texts) for (const secret of secrets) expect(text).not.toContain(secret);
  }

  it.each([
    ['an API key', { apiKey }],
    ['an auth string', { authString }],
  ])('keeps %s out of a refused call', async (_name, credentials) => {
    const scope = prefect().get('/api/work_pools/default').reply(401, { detail: 'Unauthorized' });
    const error = await rejectionOf(makeHttp(credentials).request('GET', '/work_pools/default'));
    expect(error).toMatchObject({ kind: 'auth', status: 401 });
    expectNoSecrets(error);
    expect(scope.isDone()).toBe(true);
  });

  it('keeps credentials out of retried failures, network errors and CSRF token fetch errors', async () => {
    const credentials = { apiKey, authString };
    const scope = prefect()
      .get('/api/work_pools/default')
      .times(2)
      .reply(500, { detail: 'Internal Server Error' })
      .get('/api/flows/name/x')
      .times(2)
      .replyWithError(socketError('ECONNREFUSED'))
      .post('/api/flows/')
      .reply(403, CSRF_MISSING)
      .get('/api/csrf-token')
      .query(true)
      // A gateway that echoes what it refused, credentials included.
      .reply((req: Request) => [
        401,
        { detail: `rejected ${String(req.headers.get('authorization'))}` },
      ]);
    const http = makeHttp({ ...credentials, retries: 1 });
    expectNoSecrets(await rejectionOf(http.request('GET', '/work_pools/default')));
    expectNoSecrets(await rejectionOf(http.request('GET', '/flows/name/x')));
    const csrfError = await rejectionOf(http.request('POST', '/flows/', { name: 'x' }));
    expect(csrfError).toMatchObject({ kind: 'auth', status: 401 });
    expect((csrfError as PrefectError).message).toMatch(/^Prefect GET \/csrf-token answered 401/);
    expectNoSecrets(csrfError);
    expect(scope.isDone()).toBe(true);
  });
});

describe('call counts', () => {
  it('counts GETs and read-only POSTs as reads, other calls as writes', async () => {
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(200, {})
      .get('/api/flows/name/dlt_pipeline')
      .reply(200, {})
      .post('/api/deployments/filter')
      .twice()
      .reply(200, [])
      .post('/api/deployments/')
      .reply(201, {})
      .patch(`/api/deployments/${DEPLOYMENT_ID}`)
      .reply(204)
      .delete(`/api/deployments/${DEPLOYMENT_ID}/schedules/${SCHEDULE_ID}`)
      .reply(204)
      .delete(`/api/deployments/${DEPLOYMENT_ID}`)
      .reply(204);
    const http = makeHttp();
    await http.request('GET', '/work_pools/default');
    await http.request('GET', '/flows/name/dlt_pipeline');
    await http.request('POST', '/deployments/filter', {});
    await http.request('POST', '/deployments/filter', {});
    await http.request('POST', '/deployments/', {});
    await http.request('PATCH', `/deployments/${DEPLOYMENT_ID}`, {});
    await http.request('DELETE', `/deployments/${DEPLOYMENT_ID}/schedules/${SCHEDULE_ID}`);
    await http.request('DELETE', `/deployments/${DEPLOYMENT_ID}`);
    expect(scope.isDone()).toBe(true);
    expect(http.counts).toEqual({
      reads: 4,
      writes: 4,
      byRoute: {
        'GET /work_pools/{name}': 1,
        'GET /flows/name/{name}': 1,
        'POST /deployments/filter': 2,
        'POST /deployments/': 1,
        'PATCH /deployments/{id}': 1,
        'DELETE /deployments/{id}/schedules/{id}': 1,
        'DELETE /deployments/{id}': 1,
      },
    });
  });

  it('counts every attempt, retries included', async () => {
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(503)
      .get('/api/work_pools/default')
      .reply(200, {});
    const http = makeHttp();
    await http.request('GET', '/work_pools/default');
    expect(scope.isDone()).toBe(true);
    expect(http.counts).toEqual({ reads: 2, writes: 0, byRoute: { 'GET /work_pools/{name}': 2 } });
  });

  it('isRead: GET and POST .../filter, /paginate, /count are reads', () => {
    expect(PrefectHttp.isRead('GET', '/work_pools/default')).toBe(true);
    expect(PrefectHttp.isRead('POST', '/deployments/filter')).toBe(true);
    expect(PrefectHttp.isRead('POST', '/deployments/paginate')).toBe(true);
    expect(PrefectHttp.isRead('POST', '/deployments/count')).toBe(true);
    expect(PrefectHttp.isRead('POST', '/deployments/')).toBe(false);
    expect(PrefectHttp.isRead('POST', '/flows/')).toBe(false);
    expect(PrefectHttp.isRead('PATCH', `/deployments/${DEPLOYMENT_ID}`)).toBe(false);
    expect(PrefectHttp.isRead('DELETE', `/deployments/${DEPLOYMENT_ID}`)).toBe(false);
  });
});

describe('routeOf', () => {
  it('replaces uuids with {id}, whatever their case', () => {
    expect(routeOf(`/deployments/${DEPLOYMENT_ID}`)).toBe('/deployments/{id}');
    expect(routeOf(`/deployments/${DEPLOYMENT_ID}/schedules/${SCHEDULE_ID}`)).toBe(
      '/deployments/{id}/schedules/{id}',
    );
  });

  it('replaces flow and work pool names with {name}', () => {
    expect(routeOf('/flows/name/dlt_pipeline')).toBe('/flows/name/{name}');
    expect(routeOf('/flows/name/my%20flow')).toBe('/flows/name/{name}');
    expect(routeOf('/work_pools/default')).toBe('/work_pools/{name}');
    expect(routeOf('/work_pools/default/queues/q')).toBe('/work_pools/{name}/queues/q');
  });

  it('drops the query string and leaves plain routes alone', () => {
    expect(routeOf('/csrf-token?client=connector-sync-abc')).toBe('/csrf-token');
    expect(routeOf('/deployments/filter')).toBe('/deployments/filter');
    expect(routeOf('/flows/')).toBe('/flows/');
  });
});

describe('request rate limit (prefect.requestsPerSecond)', () => {
  it('spaces concurrent requests at least 1/rate apart', async () => {
    const scope = prefect().get('/api/work_pools/default').times(8).reply(200, {});
    const http = makeHttp({ requestsPerSecond: 20 });
    const started = performance.now();
    await Promise.all(Array.from({ length: 8 }, () => http.request('GET', '/work_pools/default')));
    expect(scope.isDone()).toBe(true);
    // The 8th request cannot start before 7 × 50 ms (when it was sent is blurred
    // by the loaded event loop, so the bound is on the whole batch).
    expect(performance.now() - started).toBeGreaterThanOrEqual(349);
  });

  it('every request takes a slot: the refused write, the token fetch, the retry with the token and its retry', async () => {
    // A clock that moves only when the limiter sleeps: the slots are exact.
    let now = 0;
    const slept: number[] = [];
    const clock = {
      now: () => now,
      sleep: (ms: number) => {
        slept.push(ms);
        now += ms;
        return Promise.resolve();
      },
    };
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/flows/')
      .reply(recordAndReply(seen, 403, CSRF_MISSING))
      .post('/api/flows/')
      .reply(recordAndReply(seen, 503))
      .post('/api/flows/')
      .reply(recordAndReply(seen, 200, { id: 'f' }));
    csrfToken('t1', seen);
    const http = makeHttp({ requestsPerSecond: 5, clock });
    await http.request('POST', '/flows/', { name: 'x' });
    expect(scope.isDone()).toBe(true);
    expect(seen.map((s) => s.path)).toEqual([
      '/api/flows/',
      '/api/csrf-token',
      '/api/flows/',
      '/api/flows/',
    ]);
    expect(seen.map((s) => s.headers['prefect-csrf-token'] ?? null)).toEqual([
      null,
      null,
      't1',
      't1',
    ]);
    expect(slept).toEqual([200, 200, 200]);
  });

  it('without a rate, requests are not spaced', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .get('/api/work_pools/default')
      .times(5)
      .reply(recordAndReply(seen, 200, {}));
    const http = makeHttp();
    const started = Date.now();
    await Promise.all(Array.from({ length: 5 }, () => http.request('GET', '/work_pools/default')));
    expect(scope.isDone()).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('backoff between retries: capped exponential with jitter', () => {
  /** Log lines of a client, to read the delay chosen before each retry. */
  function capturingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    return { logger, lines };
  }

  it('a retry is said once per episode (warn, no stack), then at debug until a call succeeds', async () => {
    prefect()
      .get('/api/work_pools/default')
      .times(3)
      .replyWithError(socketError('ECONNREFUSED'))
      .get('/api/work_pools/default')
      .reply(200, {})
      .get('/api/flows/name/x')
      .replyWithError(socketError('ECONNREFUSED'))
      .get('/api/flows/name/x')
      .reply(200, {});
    const { logger, lines } = capturingLogger();
    const http = makeHttp({ retries: 3, logger });
    await http.request('GET', '/work_pools/default');
    await http.request('GET', '/flows/name/x');
    const retries = lines.filter((l) => l.msg === 'Prefect call failed; retrying');
    // Two episodes (a success between them): each said once at warn.
    expect(retries.map((l) => l.level)).toEqual([40, 20, 20, 40]);
    expect(retries[0]).not.toHaveProperty('err');
    expect(retries[0]!.error).toBe(
      `PREFECT_API_URL ${API_URL}: GET /work_pools/{name} failed: connection refused (ECONNREFUSED) on port 80, the default of http: (the URL names none); check the host and port, and that Prefect is running there`,
    );
  });

  it('retry n waits between min·2^(n-1) and twice that, never more than the cap', async () => {
    const min = 10;
    const max = 60;
    const requests = 6;
    const scope = prefect()
      .get('/api/work_pools/default')
      .times(requests * 5)
      .reply(503)
      .get('/api/work_pools/default')
      .times(requests)
      .reply(200, {});
    const { logger, lines } = capturingLogger();
    const http = makeHttp({ retries: 5, minRetryDelayMs: min, maxRetryDelayMs: max, logger });
    await Promise.all(
      Array.from({ length: requests }, () => http.request('GET', '/work_pools/default')),
    );
    expect(scope.isDone()).toBe(true);
    const retries = lines.filter((l) => l.msg === 'Prefect call failed; retrying');
    expect(retries).toHaveLength(requests * 5);
    for (const line of retries) {
      const base = min * 2 ** ((line.attempt as number) - 1);
      const delay = line.retryInMs as number;
      expect(delay).toBeGreaterThanOrEqual(Math.min(base, max));
      expect(delay).toBeLessThanOrEqual(Math.min(2 * base, max));
    }
    // Jitter: the first retries of six requests do not all wait the same.
    const first = retries.filter((l) => l.attempt === 1).map((l) => l.retryInMs);
    expect(new Set(first).size).toBeGreaterThan(1);
    // The cap: by the 4th retry (base 80 ms) every delay is the cap.
    for (const line of retries.filter((l) => (l.attempt as number) >= 4))
      expect(line.retryInMs).toBe(max);
  });
});

describe('the write window of a change (sendBefore)', () => {
  it('sends no retry after the window closed; the outcome stays unknown (retryable)', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .patch(`/api/deployments/${DEPLOYMENT_ID}`)
      .delay(150)
      .reply(recordAndReply(seen, 503, { detail: 'busy' }));
    const http = makeHttp({ retries: 3 });
    const error = await rejectionOf(
      http.request('PATCH', `/deployments/${DEPLOYMENT_ID}`, { paused: true }, Date.now() + 100),
    );
    expect(error).toBeInstanceOf(WriteWindowClosed);
    expect((error as PrefectError).retryable).toBe(true);
    expect(seen).toHaveLength(1); // the first attempt went; no retry after the window
    expect(scope.isDone()).toBe(true);
  });

  it('retries as usual within the window', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .patch(`/api/deployments/${DEPLOYMENT_ID}`)
      .reply(recordAndReply(seen, 503, { detail: 'busy' }))
      .patch(`/api/deployments/${DEPLOYMENT_ID}`)
      .reply(recordAndReply(seen, 204, ''));
    const http = makeHttp({ retries: 3 });
    const { status } = await http.request(
      'PATCH',
      `/deployments/${DEPLOYMENT_ID}`,
      { paused: true },
      Date.now() + 60_000,
    );
    expect(status).toBe(204);
    expect(seen).toHaveLength(2);
    expect(scope.isDone()).toBe(true);
  });
});

describe('answers that are not JSON (PREFECT_API_URL pointing elsewhere)', () => {
  const page = '<!doctype html><html><body>login</body></html>';
  const htmlHeaders = { 'content-type': 'text/html' };

  it('a 200 page of HTML is "not a Prefect API", never handed on as data', async () => {
    prefect().post('/api/deployments/paginate').reply(200, page, htmlHeaders);
    const error = await rejectionOf(makeHttp().request('POST', '/deployments/paginate', {}));
    expect(error).toBeInstanceOf(PrefectError);
    expect(error).toMatchObject({ kind: 'not-an-api', retryable: false });
    expect((error as Error).message).toBe(
      `PREFECT_API_URL ${API_URL} is not a Prefect API: POST ${API_URL}/deployments/paginate answered 200 text/html, not JSON; check that it is the Prefect server's API, not its UI or a proxy in front of it`,
    );
  });

  it('a 404 page of HTML too (a missing resource of Prefect answers JSON)', async () => {
    prefect().get('/api/work_pools/default').reply(404, page, htmlHeaders);
    const error = await rejectionOf(makeHttp().request('GET', '/work_pools/default'));
    expect(error).toMatchObject({ kind: 'not-an-api' });
  });

  it('a 502 page from a proxy stays transient (retried), described by its content type', async () => {
    const scope = prefect().get('/api/work_pools/default').times(3).reply(502, page, htmlHeaders);
    const error = await rejectionOf(makeHttp().request('GET', '/work_pools/default'));
    expect(scope.isDone()).toBe(true);
    expect(error).toMatchObject({ kind: 'transient', status: 502 });
    expect((error as Error).message).toBe(
      'Prefect GET /work_pools/{name} answered 502: (text/html)',
    );
  });

  it('an empty 204 is fine', async () => {
    prefect().delete(`/api/deployments/${DEPLOYMENT_ID}`).reply(204);
    await expect(
      makeHttp().request('DELETE', `/deployments/${DEPLOYMENT_ID}`),
    ).resolves.toMatchObject({
      status: 204,
    });
  });

  it('credentials in the URL are not named', async () => {
    prefect().get('/api/work_pools/default').reply(200, page, htmlHeaders);
    const http = makeHttp({ apiUrl: 'http://user:hunter2@prefect.test/api' });
    const error = await rejectionOf(http.request('GET', '/work_pools/default'));
    expect((error as Error).message).not.toContain('hunter2');
    expect((error as Error).message).toContain('PREFECT_API_URL http://prefect.test/api ');
  });
});
