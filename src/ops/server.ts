import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import type { Logger } from 'pino';
import { queryEvents, UnknownCursorError } from '../postgres/eventlog.js';
import { latestMigration, schemaVersion } from '../postgres/migrate.js';
import { recentPasses } from '../postgres/passes.js';
import { pageStates } from '../postgres/state.js';
import { loadSuspensions } from '../postgres/suspensions.js';
import { readConnectorReleases } from '../postgres/releases.js';
import { loadRunHealth } from '../postgres/run-health.js';
import { coerceError, ConfigurationError } from '../domain/errors.js';
import { passJson } from '../render/passes.js';
import { statusJson } from '../render/status.js';
import type { Metrics } from './metrics.js';
import type { LoopView } from './loop-view.js';
import { ASSET_PATHS, serveAsset } from './console-assets.js';
import { streamEvents } from './event-stream.js';
import { overview } from './overview.js';
import { fleetPage } from './fleet.js';
import { handleAction, type ActionPorts } from './actions.js';
import { releasesView } from './releases-api.js';
import {
  BadRequest,
  connectorQueryOf,
  connectorsQueryOf,
  eventsQueryOf,
  onlyParams,
  passesQueryOf,
  streamQueryOf,
} from './queries.js';
import type { ConnectorComparison } from '../pass/compare.js';
import type { OpsAuth } from './auth.js';
import { ACTIONS_PREFIX, refusalOf, SERVER_LIMITS } from './guard.js';
import type { Masker } from '../domain/mask.js';

export interface OpsDeps {
  pool: pg.Pool;
  schema: string;
  /** Secret parameter keys: masked in every answer (docs/guides/security.md). */
  masker: Masker;
  worker: LoopView;
  metrics: Metrics;
  logger: Logger;
  /** /healthz fails when the loop has shown no progress for this long. */
  stallMs: number;
  /** For the console's live stream: each stream LISTENs on a connection of its own. */
  databaseUrl: string;
  /** source.table: the fleet shows each connector's name, schedule and is_active from its row. */
  sourceTable: string;
  /** prefect.uiUrl: the console links deployments there (null: no links). */
  uiUrl: string | null;
  /** Who may read what (http.auth). */
  auth: OpsAuth;
  /** One connector's desired deployment beside Prefect's (reads Postgres and Prefect). */
  compare: (id: string) => Promise<ConnectorComparison>;
  /** The console's actions (actions.ts): POST /api/actions/<name>. */
  actions: ActionPorts;
}

type Answer = [status: number, body: unknown, contentType?: string];
type Handler = (deps: OpsDeps, params: URLSearchParams) => Promise<Answer>;

/**
 * The worker's ops endpoints. /healthz says whether the loop makes progress —
 * not whether Postgres or Prefect are up, so an outage never becomes a
 * restart storm; /readyz says whether this replica can work right now.
 */
const ROUTES: Record<string, Handler> = {
  '/healthz': healthz,
  '/readyz': readyz,
  '/metrics': metrics,
  '/api/events': apiEvents,
  '/api/connectors': apiConnectors,
  '/api/passes': apiPasses,
  '/api/overview': apiOverview,
  '/api/releases': async (deps, params) => [200, await releasesView(deps, params)],
};

type RawHandler = (
  deps: OpsDeps,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  params: URLSearchParams,
) => Promise<void>;

/** Routes that write their own answer: the console's files and its live event stream. */
const RAW_ROUTES: Record<string, RawHandler> = {
  ...Object.fromEntries(ASSET_PATHS.map((path) => [path, (_d, _q, res) => serveAsset(path, res)])),
  '/api/events/stream': async (deps, req, res, params) =>
    streamEvents(deps, req, res, streamQueryOf(params)),
};

export function createOpsServer(deps: OpsDeps): http.Server {
  const { maxConnections, maxHeaderSize, connectionsCheckingInterval, ...timeouts } = SERVER_LIMITS;
  const options = { maxHeaderSize, connectionsCheckingInterval, ...timeouts };
  const server = http.createServer(options, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refusal = refusalOf(req, url.pathname, deps.auth);
    if (refusal) return send(res, refusal.status, refusal.body, undefined, refusal.headers);
    if (url.pathname.startsWith(ACTIONS_PREFIX))
      return void handleAction(deps, req, res, url.pathname).catch(() => res.destroy());
    const raw = req.method === 'GET' ? RAW_ROUTES[url.pathname] : undefined;
    if (raw) {
      raw(deps, req, res, url.searchParams).catch((error: unknown) => {
        if (error instanceof BadRequest && !res.headersSent)
          return send(res, 400, { error: error.message });
        deps.logger.warn({ err: coerceError(error), path: url.pathname }, 'ops endpoint failed');
        if (!res.headersSent) send(res, 503, { error: 'unavailable' });
        else res.end();
      });
      return;
    }
    const one = ONE_CONNECTOR.exec(url.pathname);
    const route: Handler | undefined = one
      ? async (d, params) => apiConnector(d, decodedId(one[1]!), params)
      : ROUTES[url.pathname];
    if (req.method !== 'GET' || !route) {
      const known = route !== undefined || url.pathname in RAW_ROUTES;
      send(res, known ? 405 : 404, { error: known ? 'only GET' : 'not found' });
      return;
    }
    route(deps, url.searchParams)
      .then(([status, body, type]) => send(res, status, body, type))
      .catch((error: unknown) => {
        if (error instanceof BadRequest) return send(res, 400, { error: error.message });
        deps.logger.warn({ err: coerceError(error), path: url.pathname }, 'ops endpoint failed');
        send(res, 503, { error: 'unavailable' });
      });
  });
  server.maxConnections = maxConnections;
  return server;
}

function healthz(deps: OpsDeps): Promise<Answer> {
  const idleMs = Date.now() - deps.worker.lastProgress;
  const healthy = idleMs < deps.stallMs;
  return Promise.resolve([
    healthy ? 200 : 503,
    {
      status: healthy ? 'ok' : 'stalled',
      state: deps.worker.state,
      leader: deps.worker.isLeader,
      lastProgressMsAgo: idleMs,
      // Alive is not syncing: these say whether passes get through (an outage is no restart).
      lastSuccessfulPassAt: deps.worker.lastSuccessAt?.toISOString() ?? null,
      failedPassesInARow: deps.worker.failedPassesInARow,
    },
  ]);
}

async function readyz(deps: OpsDeps): Promise<Answer> {
  try {
    const version = await schemaVersion(deps.pool, deps.schema);
    const latest = latestMigration();
    const current = version === latest;
    // A replica whose passes cannot reach Prefect is not ready: it would never sync.
    const prefect = deps.worker.prefectFailure;
    const ready = current && prefect === null;
    const status = !current ? 'schema not current' : ready ? 'ready' : 'cannot reach Prefect';
    const body = { status, schemaVersion: version, expected: latest };
    return [ready ? 200 : 503, prefect === null ? body : { ...body, error: prefect }];
  } catch (error) {
    return [503, { status: 'postgres unreachable', error: coerceError(error).message }];
  }
}

async function metrics(deps: OpsDeps): Promise<Answer> {
  return [200, await deps.metrics.registry.metrics(), deps.metrics.registry.contentType];
}

async function apiEvents(deps: OpsDeps, params: URLSearchParams): Promise<Answer> {
  const query = eventsQueryOf(params);
  const events = await queryEvents(deps.pool, deps.schema, query, deps.masker).catch(
    (error: unknown) => {
      if (error instanceof UnknownCursorError) throw new BadRequest(error.message);
      throw error;
    },
  );
  return [200, { events, next_cursor: events.length === query.limit ? events.at(-1)!.id : null }];
}

async function apiConnectors(deps: OpsDeps, params: URLSearchParams): Promise<Answer> {
  return [200, await fleetPage(deps, connectorsQueryOf(params))];
}

/** `/api/connectors/<id>`: its state, and its desired deployment beside Prefect's. */
const ONE_CONNECTOR = /^\/api\/connectors\/([^/]{1,600})$/;

function decodedId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequest('the connector id is not valid percent-encoding');
  }
}

async function apiConnector(deps: OpsDeps, id: string, params: URLSearchParams): Promise<Answer> {
  connectorQueryOf(id, params);
  const states = await pageStates(deps.pool, deps.schema, { id, limit: 1 });
  const suspensions = await loadSuspensions(deps.pool, deps.schema, [id]);
  const health = await loadRunHealth(deps.pool, deps.schema, [id]);
  const releases = await readConnectorReleases(deps.pool, deps.schema, [id]);
  const [connector = null] = (
    statusJson(states, suspensions, false, health, releases) as {
      connectors: Record<string, unknown>[];
    }
  ).connectors;
  // Prefect down (or slow) is no reason to hide the state: the comparison says why it is missing.
  const comparison = await deps.compare(id).then(
    (c) => ({ comparison: c, comparison_error: null }),
    (error: unknown) => ({ comparison: null, comparison_error: coerceError(error).message }),
  );
  if (!connector && !comparison.comparison?.desired && !comparison.comparison?.actual)
    return [404, { error: `no connector ${id} is known (no state, no row, no deployment)` }];
  return [200, { connector_id: id, connector, ...comparison }];
}

async function apiPasses(deps: OpsDeps, params: URLSearchParams): Promise<Answer> {
  const query = passesQueryOf(params);
  const passes = await recentPasses(deps.pool, deps.schema, query);
  const next = passes.length === query.limit ? passes.at(-1)!.id : null;
  return [200, { passes: passes.map(passJson), next_cursor: next }];
}

async function apiOverview(deps: OpsDeps, params: URLSearchParams): Promise<Answer> {
  onlyParams(params, []);
  return [200, await overview(deps)];
}

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  type?: string,
  headers: Record<string, string | string[]> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': type ?? 'application/json',
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Binds the ops server; `host` null means every interface (IPv6 and IPv4). */
export async function listen(
  server: http.Server,
  port: number,
  host: string | null,
): Promise<AddressInfo> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, ...(host === null ? {} : { host }) }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    throw new ConfigurationError([listenProblem(coerceError(error), port, host)]);
  }
  return server.address() as AddressInfo;
}

function listenProblem(error: Error, port: number, host: string | null): string {
  const where =
    host === null
      ? `port ${port} on every interface`
      : `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const code = (error as { code?: unknown }).code;
  const why: Record<string, string> = {
    EADDRINUSE: 'the address is already in use; choose another PORT or stop what holds it',
    EACCES: 'permission denied (ports below 1024 need privileges); choose another PORT',
    EADDRNOTAVAIL: 'no interface of this machine has that address; check HOST',
    ENOTFOUND: 'the host name does not resolve; check HOST',
    EAI_AGAIN: 'the host name does not resolve; check HOST',
  };
  const reason = (typeof code === 'string' && why[code]) || error.message;
  return `the ops HTTP server cannot listen on ${where} (http.host / http.port, env HOST / PORT): ${reason}`;
}
