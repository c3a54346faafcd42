import {
  CONNECTOR_STATUSES,
  EVENT_ACTIONS,
  PASS_RESULTS,
  type PassResultKind,
} from '../core/vocabulary.js';
import type { EventQuery } from '../db/eventlog.js';

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

/** `/api/events?since=ISO&connector=ID&action=A&limit=N&after=CURSOR` */
export function eventsQueryOf(params: URLSearchParams): EventQuery {
  const action = params.get('action') ?? undefined;
  if (action !== undefined && !ACTIONS.has(action))
    throw new BadRequest(`action must be one of ${[...ACTIONS].join(', ')}`);
  const sinceText = params.get('since');
  const since = sinceText ? new Date(sinceText) : undefined;
  if (since && Number.isNaN(since.getTime())) throw new BadRequest('since must be an ISO date');
  const after = params.get('after') ?? undefined;
  if (after !== undefined && !UUID.test(after)) throw new BadRequest('after must be an event id');
  return {
    since,
    connectorId: params.get('connector') ?? undefined,
    action,
    after,
    limit: pageSizeOf(params),
  };
}

/** `/api/connectors?status=S&q=TEXT&limit=N&after=CURSOR` (q: part of the id or deployment name) */
export function connectorsQueryOf(params: URLSearchParams): {
  status: string | undefined;
  q: string | undefined;
  after: string | undefined;
  limit: number;
} {
  const status = params.get('status') || undefined;
  if (status !== undefined && !STATUSES.has(status))
    throw new BadRequest(`status must be one of ${[...STATUSES].join(', ')}`);
  const q = params.get('q')?.trim() || undefined;
  if (q !== undefined && q.length > MAX_SEARCH)
    throw new BadRequest(`q must be at most ${MAX_SEARCH} characters`);
  return { status, q, after: params.get('after') || undefined, limit: pageSizeOf(params) };
}

const MAX_SEARCH = 200;

/** `/api/connectors/<id>` takes no query parameters; the id is at most 200 characters. */
export function connectorQueryOf(id: string, params: URLSearchParams): void {
  if (id.trim() === '' || id.length > MAX_SEARCH)
    throw new BadRequest(`a connector id is 1 to ${MAX_SEARCH} characters`);
  const unknown = [...params.keys()];
  if (unknown.length > 0) throw new BadRequest(`unknown parameter ${unknown[0]}`);
}

/** `/api/passes?result=R&limit=N&before=CURSOR` (newest first; the cursor is a pass id). */
export function passesQueryOf(params: URLSearchParams): {
  result: PassResultKind | undefined;
  before: string | undefined;
  limit: number;
} {
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
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE)
    throw new BadRequest(`limit must be a whole number from 1 to ${MAX_PAGE}`);
  return n;
}
