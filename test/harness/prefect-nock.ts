// Shared fixtures for the Prefect client's unit tests: a fake Prefect origin
// answered by nock, a silent logger and a recorder of what the client sent.
import nock from 'nock';
import pino from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { PrefectHttp, type PrefectHttpOptions } from '../../src/prefect/http.js';

/** A host that never resolves: every call must be answered by nock. */
export const ORIGIN = 'http://prefect.test';
export const API_URL = `${ORIGIN}/api`;

export const logger = pino({ level: 'silent' });

/** A client with fast retries; tests override what they exercise. */
export function makeHttp(options: Partial<PrefectHttpOptions> = {}): PrefectHttp {
  return new PrefectHttp({
    apiUrl: API_URL,
    timeoutMs: 2_000,
    retries: 2,
    minRetryDelayMs: 1,
    maxRetryDelayMs: 5,
    logger,
    ...options,
  });
}

/** A nock scope on the fake Prefect origin; paths include the /api prefix. */
export function prefect(): nock.Scope {
  return nock(ORIGIN);
}

/** One request as the fake server saw it. */
export interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
  at: number;
}

type ReplyHeaders = Record<string, string>;

/**
 * A nock reply function that records the request into `seen`, then answers
 * with `status`, `body` and `headers`. (nock 15 hands reply functions a
 * fetch `Request`.)
 */
export function recordAndReply(
  seen: Seen[],
  status: number,
  body?: unknown,
  headers: ReplyHeaders = {},
): (req: Request) => Promise<[number, unknown, ReplyHeaders] | [number]> {
  return async (req: Request) => {
    const url = new URL(req.url);
    const text = await req.text();
    seen.push({
      method: req.method,
      path: url.pathname,
      query: url.searchParams,
      headers: Object.fromEntries(req.headers),
      body: text === '' ? undefined : JSON.parse(text),
      at: Date.now(),
    });
    return body === undefined ? [status] : [status, body, headers];
  };
}

/** What Prefect 3.9.1 answers (403) to a write without a token when CSRF protection is on. */
export const CSRF_MISSING = { detail: 'Missing CSRF token.' };
/** What it answers (403) to a write with an expired or unknown token. */
export const CSRF_INVALID = { detail: 'Invalid CSRF token or client identifier.' };

/** GET /csrf-token answered with `token` (up to `times` times), as a server with CSRF protection on answers it. */
export function csrfToken(token: string, seen: Seen[] = [], times = 1): nock.Scope {
  return prefect()
    .get('/api/csrf-token')
    .query(true)
    .times(times)
    .reply(async (req: Request) => {
      const client = new URL(req.url).searchParams.get('client');
      const reply = recordAndReply(seen, 200, {
        token,
        client,
        expiration: new Date(Date.now() + 3_600_000).toISOString(),
      });
      return reply(req);
    });
}

/** Blocks real network (except loopback) for the file and resets nock after each test. */
export function useNock(): void {
  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
  });
  afterEach(() => {
    nock.abortPendingRequests();
    nock.cleanAll();
  });
  afterAll(() => {
    nock.enableNetConnect();
  });
}

/**
 * A socket error for `replyWithError`. nock 15 needs a real Error here: given
 * a plain object such as `{ code: 'ECONNRESET' }` it never answers, and the
 * request only ends by timing out.
 */
export function socketError(code: string): Error {
  return Object.assign(new Error(`socket error ${code}`), { code });
}

/** The value a promise rejects with; fails when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
