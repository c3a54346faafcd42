import { createHash, timingSafeEqual } from 'node:crypto';

// Who may read the ops port (docs/guides/security.md): pure. /healthz and /readyz
// are always open (probes), /metrics unless http.auth.metrics; everything
// else — the console, /api/*, and paths that do not exist, so a 401 never
// tells what does — needs the bearer token or the basic credential.

export interface OpsAuth {
  token: string | null;
  /** "user:password". */
  basic: string | null;
  metrics: boolean;
}

const PROBES = new Set(['/healthz', '/readyz']);

/** Whether `path` is served without a credential under `auth`. */
export function isOpen(path: string, auth: OpsAuth): boolean {
  if (auth.token === null && auth.basic === null) return true;
  return PROBES.has(path) || (path === '/metrics' && !auth.metrics);
}

/** Equal texts, compared in time that does not depend on where they differ (or their lengths). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Whether an `Authorization` header carries the credential: `Bearer <token>`,
 * or `Basic` with the configured user and password — or with any user and
 * the token as password (a browser's login prompt, for the console).
 */
export function isAuthorized(header: string | undefined, auth: OpsAuth): boolean {
  const match = /^(Bearer|Basic) +(\S+) *$/i.exec(header ?? '');
  if (!match) return false;
  const [, scheme, value] = match as unknown as [string, string, string];
  if (scheme.toLowerCase() === 'bearer')
    return auth.token !== null && sameSecret(value, auth.token);
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const password = decoded.slice(colon + 1);
  // Both checks run whatever the first says: no timing tells which one matched.
  const byBasic = auth.basic !== null && sameSecret(decoded, auth.basic);
  const byToken = auth.token !== null && sameSecret(password, auth.token);
  return byBasic || byToken;
}

/** The challenges of a 401: basic (the browser's prompt) and, with a token, bearer. */
export function challenges(auth: OpsAuth): string[] {
  const basic = 'Basic realm="connector-sync", charset="UTF-8"';
  return auth.token === null ? [basic] : [basic, 'Bearer realm="connector-sync"'];
}

/**
 * The user name a Basic credential gives (the console's login prompt), or
 * null for a bearer token or no credential: who an action is recorded as.
 * Only called on a request already authorized.
 */
export function basicUserOf(header: string | undefined): string | null {
  const match = /^Basic +(\S+) *$/i.exec(header ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon < 0 ? '' : decoded.slice(0, colon).trim();
  return user === '' ? null : user;
}
