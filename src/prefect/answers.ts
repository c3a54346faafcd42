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

export function networkError(
  error: unknown,
  method: Method,
  route: string,
  credentials: readonly string[],
): PrefectError {
  const code = (error as { code?: unknown }).code;
  const reason =
    typeof code === 'string' ? code : error instanceof Error ? error.message : 'unknown error';
  // axios error messages may embed the URL; ours names only the route.
  return new PrefectError(
    `Prefect ${method} ${route} failed: ${redactText(reason, credentials)}`,
    'network',
    null,
    null,
  );
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

/** The base URL without any user:password in it. */
function safeBaseUrl(apiUrl: string): string {
  const url = new URL(apiUrl);
  url.username = '';
  url.password = '';
  return url.toString().replace(/\/+$/, '');
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
