import { randomUUID } from 'node:crypto';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import pRetry from 'p-retry';
import type { Logger } from 'pino';
import { prefectCredentialTexts, redactValue } from '../domain/redact.js';
import {
  describePrefectBody,
  describePrefectFailure,
  kindOfStatus,
  parseRetryAfter,
  PrefectError,
} from './errors.js';
import {
  contentTypeOf,
  isJsonAnswer,
  networkError,
  notAnApi,
  routeOf,
  safeBaseUrl,
  tlsMistake,
  WriteWindowClosed,
} from './answers.js';
import { CsrfToken } from './csrf.js';
import { realClock, RequestRateLimiter, type Clock } from './rate-limit.js';

export { routeOf, WriteWindowClosed } from './answers.js';

export interface PrefectHttpOptions {
  /** e.g. http://127.0.0.1:4200/api */
  apiUrl: string;
  apiKey?: string | undefined;
  authString?: string | undefined;
  timeoutMs: number;
  /** Retries of a transient failure (network, 408, 429, 5xx). */
  retries?: number;
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Global cap on requests started per second (all calls of this client); none when unset. */
  requestsPerSecond?: number | undefined;
  /** Injected for tests of the pause and the rate limit. */
  clock?: Clock;
  /** Tells Prefect's logs (and a proxy) which part of connector-sync calls; default "connector-sync". */
  userAgent?: string;
  /**
   * Another client of this process whose rate limit and Retry-After pause
   * this one keeps too (requestsPerSecond is then that client's): Prefect's
   * limits are per account, not per client.
   */
  sharesLimitsWith?: PrefectHttp;
  logger: Logger;
  /** Told of every HTTP exchange (for metrics): status null when no answer came. */
  observe?: (call: {
    method: Method;
    route: string;
    status: number | null;
    seconds: number;
  }) => void;
}

/** A Retry-After longer than this is capped: the pass's circuit decides beyond it. */
const MAX_PAUSE_MS = 60_000;

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** Counts of calls made, by kind: what a pass asked of Prefect. */
export interface CallCounts {
  reads: number;
  writes: number;
  byRoute: Record<string, number>;
}

/**
 * The one place that talks HTTP to Prefect: auth headers, CSRF tokens, a
 * timeout on every call, retries of transient failures, and error
 * classification. Credentials live only in the axios instance's headers.
 */
export class PrefectHttp {
  private readonly http: AxiosInstance;
  private readonly clientId = `connector-sync-${randomUUID()}`;
  private readonly csrf = new CsrfToken(() => this.fetchCsrfToken());
  /** The rate limit, and a Retry-After's pause (clock time); shared with `sharesLimitsWith`. */
  private readonly throttle: {
    pausedUntil: number;
    limiter: RequestRateLimiter | null;
    /** A retry was logged and no call has succeeded since: further retries log at debug. */
    troubled: boolean;
  };
  private readonly clock: Clock;
  readonly counts: CallCounts = { reads: 0, writes: 0, byRoute: {} };
  /** Our credentials as they could come back in an error body (a proxy echoing headers). */
  private readonly credentials: string[];
  /** PREFECT_API_URL as failures name it: no credentials, query or fragment. */
  private readonly safeUrl: string;

  constructor(private readonly options: PrefectHttpOptions) {
    this.credentials = prefectCredentialTexts(options.apiKey, options.authString);
    this.safeUrl = safeBaseUrl(options.apiUrl);
    this.clock = options.clock ?? realClock;
    this.throttle = options.sharesLimitsWith?.throttle ?? {
      pausedUntil: Number.NEGATIVE_INFINITY,
      limiter: options.requestsPerSecond
        ? new RequestRateLimiter(options.requestsPerSecond, this.clock)
        : null,
      troubled: false,
    };
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': options.userAgent ?? 'connector-sync',
    };
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    else if (options.authString)
      headers.authorization = `Basic ${Buffer.from(options.authString).toString('base64')}`;
    this.http = axios.create({
      baseURL: options.apiUrl.replace(/\/+$/, ''),
      timeout: options.timeoutMs,
      headers,
      validateStatus: () => true,
      // Keep the default JSON parsing; never let axios throw on status.
      maxRedirects: 0,
    });
  }

  /** A read is a GET or one of Prefect's read-only POSTs (/filter, /paginate, /count). */
  static isRead(method: Method, path: string): boolean {
    return method === 'GET' || /\/(filter|paginate|count)$/.test(path);
  }

  /**
   * `sendBefore` (epoch ms): no attempt goes out later; the write window of a
   * change, so a crashed pass's writes stop landing at a known time (core/settle.ts).
   */
  async request<T>(
    method: Method,
    path: string,
    body?: unknown,
    sendBefore?: number,
  ): Promise<{ status: number; data: T }> {
    try {
      return await this.withRetries<T>(method, path, body, sendBefore);
    } catch (error) {
      if (error instanceof PrefectError) error.apiUrl ??= this.safeUrl;
      throw error;
    }
  }

  private withRetries<T>(
    method: Method,
    path: string,
    body: unknown,
    sendBefore: number | undefined,
  ): Promise<{ status: number; data: T }> {
    const retries = this.options.retries ?? 4;
    return pRetry(() => this.once<T>(method, path, body, true, sendBefore), {
      retries,
      minTimeout: this.options.minRetryDelayMs ?? 500,
      maxTimeout: this.options.maxRetryDelayMs ?? 8_000,
      factor: 2,
      randomize: true,
      shouldRetry: ({ error }) =>
        error instanceof PrefectError && error.retryable && !(error instanceof WriteWindowClosed),
      onFailedAttempt: ({ error, attemptNumber, retriesLeft, retryDelay }) => {
        if (
          !(error instanceof PrefectError) ||
          !error.retryable ||
          error instanceof WriteWindowClosed ||
          retriesLeft === 0
        )
          return;
        // Said once per episode (until Prefect answers again), without a stack:
        // an outage is one line, not one per call.
        const level = this.throttle.troubled ? 'debug' : 'warn';
        this.throttle.troubled = true;
        this.options.logger[level](
          {
            method,
            path: routeOf(path),
            status: error.status,
            attempt: attemptNumber,
            retryInMs: retryDelay,
            error: describePrefectFailure(Object.assign(error, { apiUrl: this.safeUrl })),
          },
          'Prefect call failed; retrying',
        );
      },
    });
  }

  private async once<T>(
    method: Method,
    path: string,
    body: unknown,
    mayRefreshCsrf: boolean,
    sendBefore: number | undefined,
  ): Promise<{ status: number; data: T }> {
    const headers: Record<string, string> = {};
    // The token this request carries, by identity: a refusal drops it only if
    // no other request has replaced it meanwhile.
    let sentToken: Promise<string> | null = null;
    if (method !== 'GET' && this.csrf.required) {
      sentToken = this.csrf.current();
      headers['Prefect-Csrf-Token'] = await sentToken;
      headers['Prefect-Csrf-Client'] = this.clientId;
    }
    const route = routeOf(path);
    const response = await this.send(method, path, route, body, headers, sendBefore);
    const json = isJsonAnswer(response);
    // Prefect's API answers JSON, its 404s included: anything else (a UI's
    // page, a proxy's login form) means PREFECT_API_URL points elsewhere.
    if (!json && (response.status < 400 || response.status === 404))
      throw this.notAnApi(method, path, `${response.status} ${contentTypeOf(response)}, not JSON`);
    if (response.status < 400) {
      this.throttle.troubled = false;
      return { status: response.status, data: response.data as T };
    }

    // Scrubbed here, at the edge: the message goes on to connector_state,
    // events, status output and logs.
    const detail: unknown = json ? redactValue(response.data, this.credentials) : null;
    const text = json ? describePrefectBody(detail) : `(${contentTypeOf(response)})`;
    // Prefect answers 403 "Missing CSRF token." when protection is on and we
    // sent none, "Invalid CSRF token or client identifier." when ours expired:
    // either way fetch a token (once for all concurrent refusals) and retry
    // this request once; a second refusal is an auth error.
    if (method !== 'GET' && response.status === 403 && /csrf/i.test(text) && mayRefreshCsrf) {
      this.csrf.refused(sentToken);
      return this.once<T>(method, path, body, false, sendBefore);
    }
    const retryAfterMs = parseRetryAfter(response.headers['retry-after'], Date.now());
    if (retryAfterMs !== null) {
      this.throttle.pausedUntil = Math.max(
        this.throttle.pausedUntil,
        this.clock.now() + Math.min(retryAfterMs, MAX_PAUSE_MS),
      );
    }
    throw new PrefectError(
      `Prefect ${method} ${route} answered ${response.status}${text ? `: ${text}` : ''}`,
      kindOfStatus(response.status),
      response.status,
      detail,
      retryAfterMs,
    );
  }

  /**
   * PREFECT_API_URL answered, but not as Prefect's API: a configuration
   * mistake (exit 64), named by the URL asked and what came back.
   */
  notAnApi(method: Method, path: string, answered: string): PrefectError {
    return notAnApi(this.options.apiUrl, method, path, answered, this.credentials);
  }

  /** One HTTP exchange: waits its turn, is counted and observed; no answer is a network error. */
  private async send(
    method: Method,
    path: string,
    route: string,
    body: unknown,
    headers: Record<string, string>,
    /** A change's write window: no attempt goes out after it (see settleAfterMs). */
    sendBefore?: number,
  ): Promise<AxiosResponse> {
    await this.waitForTurn();
    if (sendBefore !== undefined && Date.now() > sendBefore) {
      throw new WriteWindowClosed(
        `Prefect ${method} ${route} not sent: the change's time to write ran out (retries or pauses took too long); an earlier attempt may still have taken effect`,
      );
    }
    this.count(method, path, route);
    const started = performance.now();
    const observe = (status: number | null): void =>
      this.options.observe?.({
        method,
        route,
        status,
        seconds: (performance.now() - started) / 1000,
      });
    try {
      const response = await this.http.request({ method, url: path, data: body, headers });
      observe(response.status);
      return response;
    } catch (error) {
      observe(null);
      throw (
        tlsMistake(error, this.options.apiUrl, method, path, this.credentials) ??
        networkError(error, this.options, method, route, this.credentials)
      );
    }
  }

  /**
   * Holds a request until it may go: while a Retry-After pause lasts (it may
   * be extended meanwhile by another call's answer), then for a slot of the
   * rate limit. Every request of this client passes here, retries included.
   */
  private async waitForTurn(): Promise<void> {
    for (;;) {
      let pause = this.throttle.pausedUntil - this.clock.now();
      while (pause > 0) {
        await this.clock.sleep(pause);
        pause = this.throttle.pausedUntil - this.clock.now();
      }
      await this.throttle.limiter?.take();
      // A pause that began while this call waited for its slot holds it too.
      if (this.throttle.pausedUntil <= this.clock.now()) return;
    }
  }

  private count(method: Method, path: string, route: string): void {
    if (PrefectHttp.isRead(method, path)) this.counts.reads++;
    else this.counts.writes++;
    const key = `${method} ${route}`;
    this.counts.byRoute[key] = (this.counts.byRoute[key] ?? 0) + 1;
  }

  private async fetchCsrfToken(): Promise<string> {
    const path = `/csrf-token?client=${encodeURIComponent(this.clientId)}`;
    const response = await this.send('GET', path, '/csrf-token', undefined, {});
    const data: unknown = redactValue(response.data, this.credentials);
    if (response.status === 200 && typeof data === 'object' && data !== null && 'token' in data) {
      return String(data.token);
    }
    const text = describePrefectBody(data);
    // 422 "CSRF protection is disabled." (or 404, no such endpoint) after a
    // write was refused for CSRF: whatever refused it cannot be given a token,
    // so the write stays refused; retrying would not change that.
    const refused = response.status === 422 || response.status === 404;
    throw new PrefectError(
      `Prefect GET /csrf-token answered ${response.status}${text ? `: ${text}` : ''}${
        refused ? ' (after a write was refused for want of a CSRF token)' : ''
      }`,
      refused ? 'auth' : kindOfStatus(response.status),
      response.status,
      data,
    );
  }
}
