import type { Logger } from 'pino';
import type { Queryable } from '../postgres/pool.js';
import { deliveredToAll, pruneEvents, prunePasses } from '../postgres/retention.js';
import { pruneSyncRequests } from '../postgres/sync-requests.js';
import { coerceError } from '../domain/errors.js';

export interface RetentionPolicy {
  /** Days an event is kept; null keeps every event. */
  eventDays: number | null;
  /** Days a row of the pass history is kept; null keeps them all. */
  passDays: number | null;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Rows per DELETE: each statement is short, and a pause between lets passes write. */
const PRUNE_BATCH = 1_000;
const PAUSE_MS = 50;

interface RetentionDeps {
  db: Queryable;
  schema: string;
  sinks: { name: string }[];
  retention: RetentionPolicy;
  logger: Logger;
  metrics: { pruned: { inc(labels: { table: string }, n: number): void } } | null;
}

/**
 * Prunes what retention allows, in batches, while `going()`: events older
 * than eventDays that every enabled sink has (an event a sink still lacks
 * stays, however old), and pass rows (and served sync requests) older
 * than passDays. A failure is logged and left to the next round.
 */
export async function pruneOnce(deps: RetentionDeps, going: () => boolean): Promise<void> {
  const { db, schema, retention, logger, metrics } = deps;
  const now = Date.now();
  try {
    let events = 0;
    let passes = 0;
    if (retention.eventDays !== null) {
      const upTo = await deliveredToAll(
        db,
        schema,
        deps.sinks.map((s) => s.name),
      );
      const before = new Date(now - retention.eventDays * DAY_MS);
      events = await inBatches(going, () => pruneEvents(db, schema, before, upTo, PRUNE_BATCH));
      metrics?.pruned.inc({ table: 'events' }, events);
    }
    if (retention.passDays !== null) {
      const before = new Date(now - retention.passDays * DAY_MS);
      passes = await inBatches(going, () => prunePasses(db, schema, before, PRUNE_BATCH));
      metrics?.pruned.inc({ table: 'passes' }, passes);
      // Served `sync` requests are history of the same kind, kept as long.
      await inBatches(going, () => pruneSyncRequests(db, schema, before, PRUNE_BATCH));
    }
    if (events + passes > 0) logger.info({ events, passes }, 'retention: pruned old rows');
  } catch (error) {
    logger.warn({ err: coerceError(error) }, 'retention: could not prune; trying again later');
  }
}

async function inBatches(going: () => boolean, prune: () => Promise<number>): Promise<number> {
  let total = 0;
  while (going()) {
    const n = await prune();
    total += n;
    if (n < PRUNE_BATCH) break;
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
  }
  return total;
}
