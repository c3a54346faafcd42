import cron from 'node-cron';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { Lease, LEASES } from '../postgres/lease.js';
import { prepareSchemaForRun } from '../postgres/schema-check.js';
import { countByStatus } from '../postgres/state.js';
import { Publisher } from '../publish/publisher.js';
import { prepareSinks, publisherDepsOf, sinksOf } from '../publish/sinks.js';
import { compareConnector } from '../pass/compare.js';
import { heldNow } from '../ops/controls/held-deletes.js';
import { runRecordedPass } from '../pass/history.js';
import { createRuntime, type Runtime } from '../runtime.js';
import { DEFAULT_WORKER_OPTIONS, Worker, type WorkerOptions } from './loop.js';
import { Metrics } from '../ops/metrics.js';
import { createOpsServer, listen } from '../ops/server.js';
import { parseWakeup, WAKEUP_CHANNEL, wakeupListener } from './wakeups.js';
import { SYNC_CHANNEL } from '../postgres/sync-requests.js';
import { syncRequestsOf } from './sync-requests.js';
import { EVENTS_CHANNEL } from '../postgres/eventlog.js';
import { maskerOf } from '../domain/mask.js';
import { coerceError, ConfigurationError } from '../domain/errors.js';

export interface Daemon {
  worker: Worker;
  /** The address the ops server is bound to ('::' or '0.0.0.0': every interface). */
  host: string;
  port: number;
  /** Graceful stop (docs/guides/kubernetes.md); resolves once the lock is released and everything is closed. */
  stop(): Promise<'drained' | 'timed out'>;
}

/** Wires the long-running worker: schedule, wake-ups, leader loop, ops HTTP. */
export async function startDaemon(
  config: Config,
  logger: Logger,
  options: Partial<WorkerOptions> = {},
): Promise<Daemon> {
  const metrics = new Metrics();
  let worker: Worker | null = null;
  const runtime = createRuntime(config, logger, (call) => {
    metrics.observePrefect(call);
    worker?.beat(); // an answer from Prefect is progress, even in a long pass
  });
  await prepareSchemaForRun(runtime.pool, config.database.schema, logger);
  await claimInstallation(runtime);
  const publisher = await publisherUnlessObserving(runtime, metrics);
  worker = workerOf(runtime, metrics, { ...DEFAULT_WORKER_OPTIONS, ...options });
  const w = worker;

  const server = opsServerOf(runtime, w, metrics, options);
  warnIfOpen(config, logger);
  const { address: host, port } = await listen(server, config.http.port, config.http.host);
  const listener = wakeupListener(config.database.url, logger, {
    [WAKEUP_CHANNEL]: (payload) => w.requestWakeup(parseWakeup(payload)),
    [SYNC_CHANNEL]: () => w.requestSync(),
  });
  await listener.start();
  const schedule = cron.schedule(config.reconcile.schedule, () => w.requestFullPass(), {
    name: 'reconcile',
    noOverlap: true,
  });
  const loop = w.start();
  logger.info({ host, port, schedule: config.reconcile.schedule }, 'worker started');

  return {
    worker: w,
    host,
    port,
    stop: async () => {
      await schedule.stop();
      await listener.stop();
      const outcome = await w.stop(config.reconcile.shutdownTimeoutSeconds * 1000);
      if (outcome === 'drained') await loop;
      await publisher.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await runtime.close();
      logger.info({ outcome }, 'worker stopped');
      return outcome;
    },
  };
}

/** The ops HTTP server over this runtime (it reads Postgres, and Prefect for a comparison). */
function opsServerOf(
  runtime: Runtime,
  worker: Worker,
  metrics: Metrics,
  options: Partial<WorkerOptions>,
): ReturnType<typeof createOpsServer> {
  const { config, logger } = runtime;
  return createOpsServer({
    pool: runtime.pool,
    schema: config.database.schema,
    masker: maskerOf(config.masking.keys),
    worker,
    metrics,
    logger,
    stallMs: Math.max(60_000, 3 * (options.heartbeatMs ?? DEFAULT_WORKER_OPTIONS.heartbeatMs)),
    databaseUrl: config.database.url,
    uiUrl: config.prefect.uiUrl,
    sourceTable: config.source.table,
    compare: (id) => compareConnector(runtime, id),
    auth: config.http.auth,
    actions: {
      config,
      newId: runtime.newId,
      heldDeletes: () => heldNow(runtime),
      waitMs: 20_000,
    },
  });
}

function warnIfOpen(config: Config, logger: Logger): void {
  if (config.http.auth.token === null && config.http.auth.basic === null)
    logger.warn(
      'the ops API and console are open: anyone who can reach the port reads the event log; set http.auth.token (env CONNECTOR_SYNC_HTTP_TOKEN)',
    );
}

/** Observe mode writes nothing to Prefect: not even its event feed (the publisher). */
async function publisherUnlessObserving(
  runtime: Runtime,
  metrics: Metrics,
): Promise<{ stop(): Promise<void> }> {
  if (runtime.config.reconcile.mode !== 'observe') return startPublisher(runtime, metrics);
  runtime.logger.info(
    'observe mode (reconcile.mode: observe): every pass plans only; nothing is written to Prefect',
  );
  return { stop: () => Promise.resolve() };
}

/**
 * The publisher of the log to the enabled sinks, woken by every event
 * committed; their cursors exist before the first pass writes.
 */
async function startPublisher(
  runtime: Runtime,
  metrics: Metrics,
): Promise<{ stop(): Promise<void> }> {
  const { config, logger, pool } = runtime;
  const sinks = sinksOf(config, logger, runtime.prefect.http, (call) =>
    metrics.observePrefect(call),
  );
  await prepareSinks(pool, config.database.schema, sinks);
  for (const sink of sinks) {
    // Present from the start, so an alert on the backlog has a series to read.
    metrics.publishBacklogEvents.set({ sink: sink.name }, 0);
    metrics.publishBacklogSeconds.set({ sink: sink.name }, 0);
    metrics.published.inc({ sink: sink.name }, 0);
    metrics.publishFailures.inc({ sink: sink.name }, 0);
  }
  const publisher = new Publisher(publisherDepsOf(config, pool, sinks, logger, metrics));
  const committed = wakeupListener(config.database.url, logger, {
    [EVENTS_CHANNEL]: () => publisher.nudge(),
  });
  await committed.start();
  publisher.start();
  return {
    stop: async () => {
      await committed.stop();
      await publisher.stop();
    },
  };
}

/**
 * Another source's installation of this name refuses the worker at start
 * (exit 64), before it leads or writes. A Prefect that does not answer yet is
 * no reason not to start: every pass checks first until the check has passed.
 */
async function claimInstallation(runtime: Runtime): Promise<void> {
  try {
    await runtime.installation.ensure(runtime.config.reconcile.mode !== 'observe');
  } catch (error) {
    if (error instanceof ConfigurationError) {
      await runtime.close().catch(() => undefined);
      throw error;
    }
    runtime.logger.warn(
      { err: coerceError(error) },
      "could not check this installation's name in Prefect yet; every pass checks it first",
    );
  }
}

/** The worker with its real collaborators: passes over this runtime, the Postgres advisory lock. */
function workerOf(runtime: Runtime, metrics: Metrics, options: WorkerOptions): Worker {
  const { url, schema } = runtime.config.database;
  return new Worker(
    {
      // Observe mode: every pass is a dry run (plans, logs, metrics; no writes, no events).
      runPass: (passOptions) =>
        runRecordedPass(runtime, {
          ...passOptions,
          dryRun: passOptions.dryRun || runtime.config.reconcile.mode === 'observe',
        }),
      tryLock: () => Lease.tryTake(url, LEASES.reconcile(schema), runtime.logger),
      countStatuses: () => countByStatus(runtime.pool, schema),
      syncRequests: syncRequestsOf(runtime.pool, schema, maskerOf(runtime.config.masking.keys)),
      metrics,
      logger: runtime.logger,
    },
    options,
  );
}
