import {
  CONNECTOR_STATUSES,
  EVENT_ACTIONS,
  PASS_RESULTS,
  type PassResultKind,
} from '../domain/vocabulary.js';
import type { EventQuery } from '../postgres/eventlog.js';

// The query strings of the ops API, checked and turned into queries: pure.

/** A request the API refuses with 400 and this message. */
export class BadRequest extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadRequest';
  }
}

export const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;
const ACTIONS = new Set<string>(EVENT_ACTIONS);
const STATUSES = new Set<string>(CONNECTOR_STATUSES);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const MAX_VALUE = 1000;
// Control characters (NUL among them, which Postgres text refuses) are never part of a query.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The query string takes only `allowed`, each at most once, none with a
 * control character or longer than 1,000 characters: anything else is a 400
 * before a query is built.
 */
export function onlyParams(params: URLSearchParams, allowed: readonly string[]): void {
  const seen = new Set<string>();
  for (const [key, value] of params) {
    if (!allowed.includes(key))
      throw new BadRequest(
        allowed.length === 0
          ? `unknown parameter ${JSON.stringify(key.slice(0, 40))}: this endpoint takes none`
          : `unknown parameter ${JSON.stringify(key.slice(0, 40))}: this endpoint takes ${allowed.join(', ')}`,
      );
    if (seen.has(key)) throw new BadRequest(`parameter ${key} is given more than once`);
    seen.add(key);
    if (value.length > MAX_VALUE)
      throw new BadRequest(`parameter ${key} is longer than ${MAX_VALUE} characters`);
    if (CONTROL.test(value)) throw new BadRequest(`parameter ${key} holds a control character`);
  }
}

/**
 * What a connector id may be in the API: letters, digits and `. _ : @ -`, 1
 * to 200 of them (integer ids, UUIDs, slugs). Anything else — quotes, spaces,
 * SQL — is refused before a query is built, though every query is
 * parameterised anyway.
 */
const CONNECTOR_ID = /^[\p{L}\p{N}._:@-]{1,200}$/u;

export function checkConnectorId(id: string, what: string): string {
  if (!CONNECTOR_ID.test(id))
    throw new BadRequest(
      `${what} must be a connector id: 1 to ${MAX_SEARCH} letters, digits and . _ : @ -`,
    );
  return id;
}

function connectorIdOf(params: URLSearchParams, key: string): string | undefined {
  const id = params.get(key) || undefined;
  return id === undefined ? undefined : checkConnectorId(id, key);
}

/** `/api/events/stream?connector=ID`: the connector it narrows to, if any. */
export function streamQueryOf(params: URLSearchParams): string | undefined {
  onlyParams(params, ['connector']);
  return connectorIdOf(params, 'connector');
}

/** Years Postgres and JavaScript both hold, and that an event could have. */
const EARLIEST = Date.UTC(2000, 0, 1);
const LATEST = Date.UTC(9999, 11, 31);

/** `/api/events?since=ISO&connector=ID&action=A&limit=N&after=CURSOR` */
export function eventsQueryOf(params: URLSearchParams): EventQuery {
  onlyParams(params, ['since', 'connector', 'action', 'limit', 'after']);
  const action = params.get('action') ?? undefined;
  if (action !== undefined && !ACTIONS.has(action))
    throw new BadRequest(`action must be one of ${[...ACTIONS].join(', ')}`);
  const sinceText = params.get('since');
  const since = sinceText ? new Date(sinceText) : undefined;
  if (since && !(since.getTime() >= EARLIEST && since.getTime() <= LATEST))
    throw new BadRequest('since must be an ISO date between 2000 and 9999');
  const after = params.get('after') ?? undefined;
  if (after !== undefined && !UUID.test(after)) throw new BadRequest('after must be an event id');
  return {
    since,
    connectorId: connectorIdOf(params, 'connector'),
    action,
    after,
    limit: pageSizeOf(params),
  };
}

/**
 * `/api/connectors?status=S&q=TEXT&deleted=true&limit=N&after=CURSOR` (q:
 * part of the id or deployment name; deleted: the tombstones of deleted
 * connectors too, hidden by default unless status=deleted).
 */
export function connectorsQueryOf(params: URLSearchParams): {
  status: string | undefined;
  q: string | undefined;
  deleted: boolean;
  after: string | undefined;
  limit: number;
} {
  onlyParams(params, ['status', 'q', 'deleted', 'limit', 'after']);
  const status = params.get('status') || undefined;
  if (status !== undefined && !STATUSES.has(status))
    throw new BadRequest(`status must be one of ${[...STATUSES].join(', ')}`);
  const q = params.get('q')?.trim() || undefined;
  if (q !== undefined && q.length > MAX_SEARCH)
    throw new BadRequest(`q must be at most ${MAX_SEARCH} characters`);
  const deleted = params.get('deleted') ?? 'false';
  if (deleted !== 'true' && deleted !== 'false')
    throw new BadRequest('deleted must be true or false');
  return {
    status,
    q,
    deleted: deleted === 'true',
    after: connectorIdOf(params, 'after'),
    limit: pageSizeOf(params),
  };
}

const MAX_SEARCH = 200;

/** `/api/connectors/<id>` takes no query parameters; the id is at most 200 characters. */
export function connectorQueryOf(id: string, params: URLSearchParams): void {
  checkConnectorId(id, 'the path');
  onlyParams(params, []);
}

/** `/api/passes?result=R&limit=N&before=CURSOR` (newest first; the cursor is a pass id). */
export function passesQueryOf(params: URLSearchParams): {
  result: PassResultKind | undefined;
  before: string | undefined;
  limit: number;
} {
  onlyParams(params, ['result', 'limit', 'before']);
  const result = params.get('result') ?? undefined;
  if (result !== undefined && !isPassResult(result))
    throw new BadRequest(`result must be one of ${PASS_RESULTS.join(', ')}`);
  const before = params.get('before') ?? undefined;
  if (before !== undefined && !UUID.test(before)) throw new BadRequest('before must be a pass id');
  return { result, before, limit: pageSizeOf(params) };
}

function isPassResult(value: string): value is PassResultKind {
  return (PASS_RESULTS as readonly string[]).includes(value);
}

function pageSizeOf(params: URLSearchParams): number {
  const raw = params.get('limit');
  if (raw === null) return DEFAULT_PAGE;
  const n = /^\d{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE)
    throw new BadRequest(`limit must be a whole number from 1 to ${MAX_PAGE}`);
  return n;
}
