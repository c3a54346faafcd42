import type { AxiosResponse } from 'axios';
import { redactText } from '../domain/redact.js';
import { CERTIFICATE } from '../domain/errors.js';
import { PrefectError } from './errors.js';

// Reading what came back from PREFECT_API_URL: a route for logs, a network
// error without the URL, and the answers that say the URL is wrong.

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/**
 * A write attempt not sent because its change's write window closed. Its
 * outcome is unknown (earlier attempts may have landed), so it is retryable
 * for the pass (the intent stays open) but never retried by the client.
 */
export class WriteWindowClosed extends PrefectError {
  constructor(message: string) {
    super(message, 'network', null, null);
    this.name = 'WriteWindowClosed';
  }
}

/** The path with ids replaced, for logs and metrics: /deployments/{id}. */
export function routeOf(path: string): string {
  return (
    path
      .split('?')[0]!
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '{id}')
      .replace(/\/deployments\/name\/[^/]+\/[^/]+/, '/deployments/name/{name}/{name}')
      // A pool's name, not a verb of the collection (`/work_pools/filter`).
      .replace(
        /\/(flows\/name|variables\/name|work_pools)\/(?!(filter|count|paginate)$)[^/]+/,
        '/$1/{name}',
      )
  );
}

/**
 * No answer from PREFECT_API_URL: named by the URL (scheme, host, port and
 * path, never a credential) and what happened — refused, no answer in time,
 * a host name that does not resolve, a reset — with what to check.
 */
export function networkError(
  error: unknown,
  where: { apiUrl: string; timeoutMs: number },
  method: Method,
  route: string,
  credentials: readonly string[],
): PrefectError {
  const base = safeBaseUrl(where.apiUrl);
  return new PrefectError(
    redactText(
      `PREFECT_API_URL ${base}: ${method} ${route} failed: ${whatHappened(error, where)}`,
      credentials,
    ),
    'network',
    null,
    null,
  );
}

/** What a call that got no answer met, in words, and what to check. */
function whatHappened(error: unknown, where: { apiUrl: string; timeoutMs: number }): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : '';
  if (code === 'ECONNREFUSED')
    return `connection refused (ECONNREFUSED)${defaultPortNote(where.apiUrl)}; check the host and port, and that Prefect is running there`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `the host name ${JSON.stringify(new URL(where.apiUrl).hostname)} does not resolve (${code}); check the host`;
  if (/timeout of \d+ms exceeded/.test(message) || code === 'ETIMEDOUT')
    return `no answer within ${where.timeoutMs / 1000} s (timed out; prefect.timeoutMs); check the host and port, and the network to it`;
  if (code === 'ECONNRESET') return 'the connection was reset (ECONNRESET)';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return `no route to the host (${code}); check the host and the network to it`;
  // Node's message may embed the URL's credentials: the caller redacts them.
  return typeof code === 'string' ? code : message || 'unknown error';
}

/** A URL without a port is asked on its scheme's (Prefect's own is 4200): say so. */
function defaultPortNote(apiUrl: string): string {
  const url = new URL(apiUrl);
  if (url.port !== '') return '';
  return ` on port ${url.protocol === 'https:' ? 443 : 80}, the default of ${url.protocol} (the URL names none)`;
}

/** JSON, or no body at all (a 204): what Prefect's API answers. */
export function isJsonAnswer(response: AxiosResponse): boolean {
  if (response.status === 204) return true;
  const body: unknown = response.data;
  if (body === '' || body === undefined || body === null) return true;
  return /\bjson\b/i.test(contentTypeOf(response));
}

export function contentTypeOf(response: AxiosResponse): string {
  const type: unknown = response.headers['content-type'];
  return typeof type === 'string' && type !== '' ? type : 'without a content type';
}

/** The base URL without any user:password, query or fragment in it. */
export function safeBaseUrl(apiUrl: string): string {
  const url = new URL(apiUrl);
  return `${url.protocol}//${url.host}${url.pathname}`.replace(/\/+$/, '');
}

/**
 * PREFECT_API_URL answered, but not as Prefect's API: a configuration
 * mistake (exit 64), named by the URL asked and what came back.
 */
export function notAnApi(
  apiUrl: string,
  method: Method,
  path: string,
  answered: string,
  credentials: readonly string[],
): PrefectError {
  const base = safeBaseUrl(apiUrl);
  const hint = /\/api$/.test(base)
    ? "check that it is the Prefect server's API, not its UI or a proxy in front of it"
    : `Prefect's API is under /api, e.g. ${base}/api`;
  return new PrefectError(
    redactText(
      `PREFECT_API_URL ${base} is not a Prefect API: ${method} ${base}${path.split('?')[0]} answered ${answered}; ${hint}`,
      credentials,
    ),
    'not-an-api',
    null,
    null,
  );
}

/**
 * A TLS failure no retry can fix: https:// to a server that speaks plain
 * HTTP (OpenSSL's "wrong version number", EPROTO), or a certificate refused.
 */
export function tlsMistake(
  error: unknown,
  apiUrl: string,
  method: Method,
  path: string,
  credentials: readonly string[],
): PrefectError | null {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : '';
  const base = safeBaseUrl(apiUrl);
  const url = `${base}${path.split('?')[0]}`;
  let why: string | null = null;
  if (base.startsWith('https:') && (code === 'EPROTO' || /wrong version number/i.test(message)))
    why = `the server does not speak TLS (EPROTO); if it serves plain HTTP, use ${base.replace(/^https:/, 'http:')}`;
  else if (typeof code === 'string' && CERTIFICATE.test(code))
    why = `the server's TLS certificate was refused (${code}); check the URL's host name and the certificate`;
  if (why === null) return null;
  return new PrefectError(
    redactText(`PREFECT_API_URL ${base}: ${method} ${url} failed: ${why}`, credentials),
    'not-an-api',
    null,
    null,
  );
}
