import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { Lease, LEASES } from '../postgres/lease.js';
import { ensureCursor } from '../postgres/outbox.js';
import type { Queryable } from '../postgres/pool.js';
import { PrefectClient } from '../prefect/client.js';
import { PrefectHttp, type PrefectHttpOptions } from '../prefect/http.js';
import { NatsSink } from './nats-sink.js';
import { PrefectSink } from './prefect-sink.js';
import type { PublisherDeps, PublishMetrics } from './publisher.js';
import type { Sink } from './sink.js';
import { maskerOf } from '../domain/mask.js';

/** The sinks the configuration enables (events.publish), each with its own connection. */
export function sinksOf(
  config: Config,
  logger: Logger,
  /** The passes' client: the sink keeps to its rate limit and Retry-After pauses. */
  passes: PrefectHttp,
  observe?: PrefectHttpOptions['observe'],
): Sink[] {
  const sinks: Sink[] = [];
  const { publish } = config.events;
  if (publish.prefect) {
    const p = config.prefect;
    // Its own client, so its calls are not counted as a pass's, but under the
    // same rate limit and Retry-After pauses (Prefect's limits are per account).
    // Few retries of its own: the publisher's backoff takes over.
    const http = new PrefectHttp({
      apiUrl: p.apiUrl,
      apiKey: p.apiKey,
      authString: p.authString,
      timeoutMs: p.timeoutMs,
      requestsPerSecond: p.requestsPerSecond,
      retries: 1,
      minRetryDelayMs: p.retryMinDelayMs,
      maxRetryDelayMs: p.retryMaxDelayMs,
      logger: logger.child({ component: 'publisher' }),
      observe,
      userAgent: 'connector-sync (publisher)',
      sharesLimitsWith: passes,
    });
    sinks.push(new PrefectSink(new PrefectClient(http)));
  }
  if (publish.nats.url !== null)
    sinks.push(
      new NatsSink(
        { url: publish.nats.url, subject: publish.nats.subject, stream: publish.nats.stream },
        logger.child({ component: 'publisher' }),
      ),
    );
  return sinks;
}

/** Gives every enabled sink its cursor (at the log's end) before the first pass writes. */
export async function prepareSinks(db: Queryable, schema: string, sinks: Sink[]): Promise<void> {
  for (const sink of sinks) await ensureCursor(db, schema, sink.name);
}

/** What the publisher needs in this process: the pool, the sinks, retention, the publisher lock. */
export function publisherDepsOf(
  config: Config,
  db: Queryable,
  sinks: Sink[],
  logger: Logger,
  metrics: PublishMetrics | null,
): PublisherDeps {
  const { url, schema } = config.database;
  return {
    db,
    schema,
    masker: maskerOf(config.masking.keys),
    sinks,
    retention: {
      eventDays: config.events.retentionDays,
      passDays: config.events.passRetentionDays,
    },
    logger: logger.child({ component: 'publisher' }),
    metrics,
    tryLock: () => Lease.tryTake(url, LEASES.publisher(schema), logger),
  };
}
