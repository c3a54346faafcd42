import type { Logger } from 'pino';
import { backoffSeconds } from '../domain/backoff.js';
import { backlogOf } from '../postgres/outbox.js';
import type { Queryable } from '../postgres/pool.js';
import { coerceError } from '../domain/errors.js';
import { deliverNext } from './deliver.js';
import { pruneOnce, type RetentionPolicy } from './retention.js';
import type { Sink } from './sink.js';
import type { Masker } from '../domain/mask.js';
import { Leadership, type Releasable } from '../postgres/lease.js';

// The outbox's publisher (docs/concepts/event-log.md, "Sinks"): one replica at a time (the
// holder of the publisher lock) reads the log after each sink's cursor and
// delivers it, in commit order, retrying with backoff while a sink is down.
// It never runs inside a pass: a pass commits its events and is done.

/** The metrics it keeps (worker/metrics.ts); structural, so tests can pass their own. */
export interface PublishMetrics {
  published: { inc(labels: { sink: string }, n: number): void };
  publishFailures: { inc(labels: { sink: string }): void };
  publishBacklogEvents: { set(labels: { sink: string }, n: number): void };
  publishBacklogSeconds: { set(labels: { sink: string }, n: number): void };
  pruned: { inc(labels: { table: string }, n: number): void };
}

export interface PublisherDeps {
  db: Queryable;
  schema: string;
  /** Events leave masked (docs/guides/security.md). */
  masker: Masker;
  sinks: Sink[];
  retention: RetentionPolicy;
  logger: Logger;
  metrics: PublishMetrics | null;
  /** The publisher's lease: null while another replica holds it. */
  tryLock: () => Promise<Releasable | null>;
  random?: () => number;
}

const PUBLISHING_WORDS = {
  taken: 'publishing the event log',
  lost: 'lost the publisher lock; waiting to take it again',
  unreachable: 'cannot take the publisher lock; retrying',
};

/** A sink that has everything is asked again this often even without a NOTIFY (one missed is not lost). */
const POLL_MS = 5_000;
/** How often a replica without the publisher lock tries for it. */
const LOCK_RETRY_MS = 5_000;
const RETENTION_EVERY_MS = 60 * 60 * 1000;
/** Backoff of a failing sink: 0.5 s doubling to 5 s, so the backlog drains within seconds of a recovery. */
const SINK_BACKOFF = { baseSeconds: 0.5, maxSeconds: 5 };

export class Publisher {
  private stopped = false;
  private readonly signals = new Map<string, Signal>();
  private readonly idle = new Signal();
  private running: Promise<void> | null = null;

  constructor(private readonly deps: PublisherDeps) {
    for (const sink of deps.sinks) this.signals.set(sink.name, new Signal());
  }

  start(): void {
    this.running ??= this.lead();
  }

  /** New events were committed (a NOTIFY on the log): the sinks look now. */
  nudge(): void {
    for (const signal of this.signals.values()) signal.fire();
  }

  /** Stops within `timeoutMs` (a delivery in flight is left to the next leader) and closes the sinks. */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.stopped = true;
    this.nudge();
    this.idle.fire();
    if (this.running) await Promise.race([this.running, sleep(timeoutMs)]);
    await Promise.all(this.deps.sinks.map((s) => s.close().catch(() => undefined)));
  }

  private async lead(): Promise<void> {
    const { logger, sinks } = this.deps;
    const leadership = new Leadership(() => this.deps.tryLock(), logger, {
      ...PUBLISHING_WORDS,
      context: { sinks: sinks.map((s) => s.name) },
    });
    while (!this.stopped) {
      const lease = await leadership.lead();
      if (!lease) {
        await this.idle.wait(LOCK_RETRY_MS);
        continue;
      }
      const holding = () => !this.stopped && !lease.lost;
      try {
        await Promise.all([
          ...sinks.map((sink) => this.follow(sink, holding)),
          this.pruneEvery(holding),
        ]);
      } finally {
        await leadership.release();
      }
    }
  }

  /** Keeps one sink caught up while `holding()`: deliver until it has all, then wait for news. */
  private async follow(sink: Sink, holding: () => boolean): Promise<void> {
    const signal = this.signals.get(sink.name)!;
    let failures = 0;
    while (holding()) {
      const step = await drainStep(this.deps, sink, failures);
      failures = step.failures;
      await this.refreshBacklog(sink);
      if (step.delivered > 0) continue;
      await signal.wait(failures > 0 ? retryDelayMs(failures, this.deps.random) : POLL_MS);
    }
  }

  private async pruneEvery(holding: () => boolean): Promise<void> {
    while (holding()) {
      await pruneOnce(this.deps, holding);
      // Waited in slices: a lost lock must end this round within seconds, not
      // an hour, so the lock is released and asked for again.
      const next = Date.now() + RETENTION_EVERY_MS;
      while (holding() && Date.now() < next)
        await this.idle.wait(Math.min(POLL_MS, next - Date.now()));
    }
  }

  private async refreshBacklog(sink: Sink): Promise<void> {
    const { metrics, db, schema } = this.deps;
    if (!metrics) return;
    try {
      const { events, oldest } = await backlogOf(db, schema, sink.name);
      metrics.publishBacklogEvents.set({ sink: sink.name }, events);
      const age = oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0;
      metrics.publishBacklogSeconds.set({ sink: sink.name }, age);
    } catch {
      /* a gauge is not worth failing the publisher for */
    }
  }
}

/**
 * One attempt to deliver the next batch to a sink: how many went, and the
 * failures in a row after it (logged on the first and at each doubling).
 */
export async function drainStep(
  deps: PublisherDeps,
  sink: Sink,
  failuresBefore: number,
): Promise<{ delivered: number; failures: number }> {
  const { db, schema, logger, metrics } = deps;
  try {
    const delivered = await deliverNext(db, schema, sink, deps.masker);
    if (delivered > 0) metrics?.published.inc({ sink: sink.name }, delivered);
    if (failuresBefore > 0) logger.info({ sink: sink.name }, 'sink reachable again; publishing');
    return { delivered, failures: 0 };
  } catch (error) {
    const failures = failuresBefore + 1;
    metrics?.publishFailures.inc({ sink: sink.name });
    if ((failures & (failures - 1)) === 0)
      logger.warn(
        { err: coerceError(error), sink: sink.name, failures },
        'cannot publish events to the sink; retrying with backoff (nothing is lost: they wait in the log)',
      );
    return { delivered: 0, failures };
  }
}

export function retryDelayMs(failures: number, random: (() => number) | undefined): number {
  return backoffSeconds(failures, SINK_BACKOFF, (random ?? Math.random)()) * 1000;
}

/**
 * What a one-shot run does after its pass: delivers to every sink until each
 * has the whole log or `timeoutMs` is up, then prunes once (for up to
 * `timeoutMs` more). Skipped when
 * another process holds the publisher lock (a worker publishes meanwhile).
 * Returns the events each sink is still missing.
 */
export async function flushSinks(
  deps: PublisherDeps,
  timeoutMs: number,
): Promise<{ sink: string; left: number }[] | 'another process publishes'> {
  const lock = await deps.tryLock();
  if (!lock) return 'another process publishes';
  const deadline = Date.now() + timeoutMs;
  const inTime = () => !lock.lost && Date.now() < deadline;
  try {
    const left = await Promise.all(
      deps.sinks.map(async (sink) => {
        let failures = 0;
        while (inTime()) {
          const step = await drainStep(deps, sink, failures);
          failures = step.failures;
          if (failures === 0 && step.delivered === 0) break;
          if (failures > 0)
            await sleep(Math.min(retryDelayMs(failures, deps.random), deadline - Date.now()));
        }
        return { sink: sink.name, left: (await backlogOf(deps.db, deps.schema, sink.name)).events };
      }),
    );
    // Pruning has a budget of its own: a sink that was down all along must
    // not stop the log from being trimmed (what it lacks is never pruned).
    const pruneDeadline = Date.now() + timeoutMs;
    await pruneOnce(deps, () => !lock.lost && Date.now() < pruneDeadline);
    return left;
  } finally {
    await lock.release();
  }
}

/** A wait that ends at a timeout or when fired; a fire with no one waiting ends the next wait at once. */
export class Signal {
  private wake: (() => void) | null = null;
  private pending = false;

  fire(): void {
    if (this.wake) this.wake();
    else this.pending = true;
  }

  async wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      timer.unref();
      this.wake = done;
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}
