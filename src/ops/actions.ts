import type http from 'node:http';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { coerceError, ConfigurationError } from '../domain/errors.js';
import { RELEASE_VERBS, type ReleaseVerb } from '../domain/release-controls.js';
import type { DeleteChange } from '../domain/types.js';
import { CONNECTOR_STATUSES } from '../domain/vocabulary.js';
import { idsWithStatus } from '../postgres/state.js';
import { loadSuspensions, resumeAndWake, suspend } from '../postgres/suspensions.js';
import { basicUserOf, type OpsAuth } from './auth.js';
import { applyReleaseControl } from './controls/release-control.js';
import { chooseHeld, connectorsOf } from './controls/held-deletes.js';
import { handToLeader, unknownConnectors } from './controls/hand-over.js';
import { ACTIONS_PREFIX } from './guard.js';
import { BadRequest, checkConnectorId } from './queries.js';

// The console's actions (docs/guides/operating.md, "Console"): POST
// /api/actions/<name> with a small JSON body, behind the same credential as
// the rest of the API (guard.ts). Each goes the way its CLI command goes —
// sync and retry handed to the leader as a sync request, suspend and resume
// on the suspensions table, approve-deletes as an approval request, the
// release verbs through the shared control — and is recorded with who did it.
//
// CSRF: the console's browser sends the credential by itself (a Basic login
// is replayed on every request to the origin), so a page elsewhere must not be
// able to make it act. An action is therefore (1) POST only — no GET has a
// side effect; (2) refused without the header `X-Connector-Sync-Action: 1`
// and a JSON content type — a cross-origin page can send neither without a
// CORS preflight, and this server answers no preflight (it sends no
// Access-Control-Allow-* header anywhere); (3) refused when the browser says
// it comes from elsewhere (`Origin` not this host, or `Sec-Fetch-Site` not
// same-origin). Tokens in a form field would add nothing to (2) and need state.

/** What the actions need beyond reading: the worker's configuration and a dry pass's held deletes. */
export interface ActionPorts {
  config: Config;
  newId: () => string;
  /** The deletes the guards hold now (a dry full pass; ops/controls/held-deletes.ts). */
  heldDeletes: () => Promise<DeleteChange[]>;
  /** How long an action waits for the leader to serve its request before it answers 202. */
  waitMs: number;
}

export interface ActionDeps {
  pool: pg.Pool;
  schema: string;
  sourceTable: string;
  logger: Logger;
  auth: OpsAuth;
  actions: ActionPorts;
}

type Answer = [status: number, body: Record<string, unknown>];
type Body = Record<string, unknown>;
type Action = (deps: ActionDeps, body: Body, by: string) => Promise<Answer>;

const ACTIONS: Record<string, Action> = {
  sync: syncAction,
  retry: retryAction,
  suspend: suspendAction,
  resume: resumeAction,
  'approve-deletes': approveAction,
  release: releaseAction,
};

export const CSRF_HEADER = 'x-connector-sync-action';

/** Answers a request under ACTIONS_PREFIX (any method: anything but POST is a 405). */
export async function handleAction(
  deps: ActionDeps,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
): Promise<void> {
  const name = path.slice(ACTIONS_PREFIX.length);
  const action = Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined;
  let answer: Answer;
  try {
    if (!action) answer = [404, { error: `no action ${JSON.stringify(name.slice(0, 40))}` }];
    else if (req.method !== 'POST') answer = [405, { error: 'actions are POST only' }];
    else answer = forgery(req) ?? (await run(deps, req, action, name));
  } catch (error) {
    answer = failure(deps, error, name);
  }
  const [status, body] = answer;
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...(status === 405 ? { allow: 'POST' } : {}),
  });
  res.end(JSON.stringify(body));
}

async function run(
  deps: ActionDeps,
  req: http.IncomingMessage,
  action: Action,
  name: string,
): Promise<Answer> {
  const body = await readJson(req);
  const by = whoOf(req, body);
  const answer = await action(deps, body, by);
  deps.logger.info({ action: name, by, status: answer[0] }, 'console action');
  return [answer[0], { ...answer[1], by }];
}

function failure(deps: ActionDeps, error: unknown, name: string): Answer {
  if (error instanceof BadRequest) return [400, { error: error.message }];
  if (error instanceof ConfigurationError) return [400, { error: error.message }];
  deps.logger.warn({ err: coerceError(error), action: name }, 'console action failed');
  return [503, { error: `${name} failed: ${coerceError(error).message}` }];
}

/** A refusal when the request may come from another site's page (see the CSRF note above). */
function forgery(req: http.IncomingMessage): Answer | null {
  const refuse = (why: string): Answer => [403, { error: `refused: ${why}` }];
  if (req.headers[CSRF_HEADER] !== '1')
    return refuse(`an action needs the header X-Connector-Sync-Action: 1 (the console sends it)`);
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
    return refuse('an action is application/json');
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return refuse(`the request comes from another site (Sec-Fetch-Site: ${site})`);
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let host: string | null = null;
    try {
      host = new URL(origin).host;
    } catch {
      // not a URL: refused below
    }
    if (host !== req.headers.host) return refuse(`Origin ${origin} is not this host`);
  }
  return null;
}

async function readJson(req: http.IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new BadRequest('the body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BadRequest('the body is a JSON object');
  return body as Body;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A short text field: trimmed, 1 to `max` characters, no control character. */
function textOf(body: Body, key: string, max: number, required: boolean): string | null {
  const value = body[key];
  if (value === undefined || value === null || value === '') {
    if (required) throw new BadRequest(`${key} is required`);
    return null;
  }
  if (typeof value !== 'string' || value.trim() === '' || value.length > max || CONTROL.test(value))
    throw new BadRequest(`${key} must be text of 1 to ${max} characters`);
  return value.trim();
}

/**
 * Who acts: the user of a Basic login when there is one (the credential
 * says so), else the `by` the page sends (a bearer token names no one), else
 * "console"; recorded as `<who> (console)`.
 */
function whoOf(req: http.IncomingMessage, body: Body): string {
  const who = basicUserOf(req.headers.authorization) ?? textOf(body, 'by', 100, false);
  return `${who ?? 'anonymous'} (console)`;
}

function connectorIdsOf(body: Body): string[] {
  const ids = body.connectors;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > 1000)
    throw new BadRequest('connectors must be a list of 1 to 1000 connector ids');
  return [
    ...new Set(
      ids.map((id) => checkConnectorId(typeof id === 'string' ? id : String(id), 'connectors')),
    ),
  ];
}

/** Refuses ids that name nothing (404), as `connector-sync sync` does (exit 64). */
async function unknownAnswer(deps: ActionDeps, ids: string[]): Promise<Answer | null> {
  const where = { schema: deps.schema, table: deps.sourceTable };
  const unknown = await unknownConnectors(deps.pool, where, ids);
  if (unknown.length === 0) return null;
  const which =
    unknown.length === 1 ? `connector ${unknown[0]}` : `connectors ${unknown.join(', ')}`;
  return [404, { error: `no ${which}: not a row of ${deps.sourceTable}, and never reconciled` }];
}

function refuseInObserveMode(deps: ActionDeps): Answer | null {
  if (deps.actions.config.reconcile.mode !== 'observe') return null;
  return [
    409,
    {
      error: 'observe mode (reconcile.mode: observe) writes nothing: nothing is synced or deleted',
    },
  ];
}

/** Hands connectors (and approved deletes) to the leader; its outcome, or 202 while it is open. */
async function handOver(
  deps: ActionDeps,
  request: { connectorIds: string[]; by: string; approvedDeletes: string[] | null },
  what: string,
): Promise<Answer> {
  const { waitMs } = deps.actions;
  const handed = await handToLeader(deps.pool, deps.schema, request, waitMs);
  if (!handed.finished)
    return [
      202,
      {
        ok: true,
        request: handed.request,
        message: `${what}: handed to the leading worker as sync request ${handed.request}; not served within ${Math.round(waitMs / 1000)} s (a long pass, or no worker leads): it stays open and is served when a leader can`,
      },
    ];
  const { outcome, passId } = handed.finished;
  return [
    200,
    {
      ok: outcome.exitCode === 0,
      request: handed.request,
      pass_id: passId,
      exit_code: outcome.exitCode,
      message: outcome.text,
      outcome: outcome.json,
    },
  ];
}

async function syncAction(deps: ActionDeps, body: Body, by: string): Promise<Answer> {
  const ids = connectorIdsOf(body);
  const refused = refuseInObserveMode(deps) ?? (await unknownAnswer(deps, ids));
  if (refused) return refused;
  const what = `sync of ${ids.length === 1 ? `connector ${ids[0]}` : `${ids.length} connectors`}`;
  return handOver(deps, { connectorIds: ids, by, approvedDeletes: null }, what);
}

const RETRYABLE = ['failed', 'invalid', 'conflict'];

async function retryAction(deps: ActionDeps, body: Body, by: string): Promise<Answer> {
  const status = textOf(body, 'status', 20, false);
  if (status !== null && !(CONNECTOR_STATUSES as readonly string[]).includes(status))
    throw new BadRequest(`status must be one of ${CONNECTOR_STATUSES.join(', ')}`);
  const statuses = status ? [status] : RETRYABLE;
  const refused = refuseInObserveMode(deps);
  if (refused) return refused;
  const ids = await idsWithStatus(deps.pool, deps.schema, statuses);
  if (ids.length === 0)
    return [
      200,
      { ok: true, message: `No connector is ${statuses.join(' or ')}: nothing to retry.` },
    ];
  const what = `retry of ${ids.length} connector${ids.length === 1 ? '' : 's'}`;
  return handOver(deps, { connectorIds: ids, by, approvedDeletes: null }, what);
}

async function suspendAction(deps: ActionDeps, body: Body, by: string): Promise<Answer> {
  const ids = connectorIdsOf(body);
  const reason = textOf(body, 'reason', 500, true)!;
  const refused = await unknownAnswer(deps, ids);
  if (refused) return refused;
  await suspend(deps.pool, deps.schema, ids, by, reason);
  const now = await loadSuspensions(deps.pool, deps.schema, ids);
  const since = now.get(ids[0]!)?.since.toISOString();
  return [
    200,
    {
      ok: true,
      message: `Suspended ${ids.length === 1 ? `connector ${ids[0]}` : `${ids.length} connectors`} (by ${by}: ${JSON.stringify(reason)}; since ${since}): left as it is until resumed.`,
    },
  ];
}

async function resumeAction(deps: ActionDeps, body: Body): Promise<Answer> {
  const ids = connectorIdsOf(body);
  const resumed = new Set(await resumeAndWake(deps.pool, deps.schema, ids));
  const lines = ids.map((id) =>
    resumed.has(id)
      ? `Resumed connector ${id}: a running worker reconciles it at once.`
      : `Connector ${id} was not suspended.`,
  );
  return [200, { ok: true, resumed: [...resumed], message: lines.join('\n') }];
}

async function approveAction(deps: ActionDeps, body: Body, by: string): Promise<Answer> {
  const ids = connectorIdsOf(body);
  const refused = refuseInObserveMode(deps);
  if (refused) return refused;
  let chosen: DeleteChange[];
  try {
    chosen = chooseHeld(await deps.actions.heldDeletes(), { ids });
  } catch (error) {
    if (error instanceof ConfigurationError)
      return [409, { error: error.problems.join('; ').replace(/ \(`connector-sync plan`.*$/, '') }];
    throw error;
  }
  const deployments = chosen.map((d) => d.deployment.id);
  const what = `approval of ${chosen.length} held delete${chosen.length === 1 ? '' : 's'}`;
  return handOver(
    deps,
    { connectorIds: connectorsOf(chosen), by, approvedDeletes: deployments },
    what,
  );
}

async function releaseAction(deps: ActionDeps, body: Body, by: string): Promise<Answer> {
  const verb = textOf(body, 'verb', 20, true)!;
  if (!(RELEASE_VERBS as readonly string[]).includes(verb))
    throw new BadRequest(`verb must be one of ${RELEASE_VERBS.join(', ')}`);
  const release = textOf(body, 'release', 200, true)!;
  const reason = textOf(body, 'reason', 500, false);
  const control = { config: deps.actions.config, newId: deps.actions.newId, logger: deps.logger };
  const result = await applyReleaseControl(
    { ...control, pool: deps.pool },
    verb as ReleaseVerb,
    release,
    { by, reason },
  );
  if (!result.ok) return [result.unknown ? 404 : 409, { error: result.message }];
  return [200, { ok: true, release: result.release, verb, message: result.message }];
}
