import type { Logger } from 'pino';
import type { LoopView } from '../ops/loop-view.js';
import { Leadership, type HeldLease } from '../postgres/lease.js';
import { coerceError } from '../domain/errors.js';
import type { PassOptions } from '../pass/context.js';
import { ComeBack } from './come-back.js';
import type { Metrics } from '../ops/metrics.js';
import { nextStep, type FailureEpisode, type NextStep, type PassEnding } from './next-step.js';
import { serveSyncRequests, type SyncRequests } from './sync-requests.js';
import type { Wakeup } from './wakeups.js';
import { realClock, WorkQueue, type Clock } from './work-queue.js';
import type { PassResult } from '../pass/result.js';
import { HOLD_RULES, type HeldDeletes } from '../domain/types.js';

/**
 * The long-running worker as a small state machine:
 *
 *   following ──lock taken──▶ idle ──work queued──▶ reconciling ──pass done──▶ idle
 *       ▲                      │                         │
 *       └────lock lost─────────┴─────────────────────────┘        any ──stop()──▶ stopping ──▶ stopped
 *
 * Work comes from the schedule (a full pass), from wake-ups (just the
 * connectors they name, or a full pass) and from becoming leader (a full
 * pass). One pass at a time; requests arriving meanwhile are merged. What
 * follows a pass is decided by `nextStep` (next-step.ts).
 */
export type WorkerState = LoopView['state'];

export interface WorkerOptions {
  /** How often a follower tries to take the lock. */
  leaderPollMs: number;
  /** Wake-ups arriving within this window become one pass. */
  debounceMs: number;
  /** Longest sleep between loop turns (the heartbeat /healthz watches). */
  heartbeatMs: number;
}

const LEADING_WORDS = {
  taken: 'took the reconcile lock: leading',
  lost: 'lost the reconcile lock; following until it can be taken again',
  unreachable: 'cannot reach Postgres to take the reconcile lock',
};

export const DEFAULT_WORKER_OPTIONS: WorkerOptions = {
  leaderPollMs: 2_000,
  debounceMs: 100,
  heartbeatMs: 5_000,
};

/** What the worker works with, injected: the pass, the lock, the status counts, the clock. */
export interface WorkerDeps {
  runPass(options: PassOptions): Promise<PassResult>;
  /** Takes the reconcile lock if it is free; null when another process holds it. */
  tryLock(): Promise<HeldLease | null>;
  /** Connectors by status, for the gauge after every pass. */
  countStatuses(): Promise<Record<string, number>>;
  /** Operators' `sync` / `retry` requests (none in tests that do not need them). */
  syncRequests?: SyncRequests;
  metrics: Metrics;
  logger: Logger;
  clock?: Clock;
}

export class Worker implements LoopView {
  state: WorkerState = 'following';
  /** Last moment the loop proved it is alive (a turn, or a Prefect answer). */
  lastProgress: number;
  passesRun = 0;
  /** When the last pass that ran to its end finished; null before the first. */
  lastSuccessAt: Date | null = null;
  private readonly clock: Clock;
  private readonly work: WorkQueue;
  private readonly comeBack: ComeBack;
  private readonly leadership: Leadership<HeldLease>;
  private wakeLoop: (() => void) | null = null;
  private stopping = false;
  private failures = 0;
  /** What the passes in a row that failed met (said once in the log); null after a good one. */
  private episode: FailureEpisode | null = null;
  private loopDone: Promise<void> | null = null;
  private readonly log: Logger;

  constructor(
    private readonly deps: WorkerDeps,
    private readonly options: WorkerOptions = DEFAULT_WORKER_OPTIONS,
  ) {
    this.clock = deps.clock ?? realClock;
    this.lastProgress = this.clock.now();
    this.log = deps.logger.child({ component: 'worker' });
    this.leadership = new Leadership(
      () => deps.tryLock(),
      this.log,
      LEADING_WORDS,
      (leading) => {
        deps.metrics.leader.set(leading ? 1 : 0);
        // A new leader trusts nothing: a full pass first.
        if (leading) this.work.requestFull();
      },
    );
    this.work = new WorkQueue(this.clock, options.debounceMs);
    this.comeBack = new ComeBack(this.clock, this.log, (due) => {
      if (this.stopping) return;
      if (due.full) this.requestFullPass();
      else this.requestWakeup([...due.connectors]);
    });
  }

  /** Passes in a row that failed or were cut short ("alive but not syncing" when it grows). */
  get failedPassesInARow(): number {
    return this.failures;
  }

  /** The last pass failed on Prefect (or was cut short by it): what it met; null once one gets through. */
  get prefectFailure(): string | null {
    return this.episode?.prefect ? this.episode.text : null;
  }

  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  beat(): void {
    this.lastProgress = this.clock.now();
  }

  /** The schedule fired: a full pass (drift, orphans, everything). */
  requestFullPass(): void {
    this.work.requestFull();
    this.wake();
  }

  /** A NOTIFY arrived: just these connectors (after the debounce window), or a full pass. */
  requestWakeup(wakeup: Wakeup): void {
    if (wakeup === null) return this.requestFullPass();
    this.work.requestConnectors(wakeup);
    this.wake();
  }

  /** An operator's `sync` / `retry` was written: served before anything else. */
  requestSync(): void {
    this.work.requestSync();
    this.wake();
  }

  start(): Promise<void> {
    this.loopDone ??= this.loop();
    return this.loopDone;
  }

  /**
   * Graceful stop: no new pass, no new change; the changes in flight finish
   * (and get their events) within `timeoutMs`; then the lock is released.
   */
  async stop(timeoutMs: number): Promise<'drained' | 'timed out'> {
    this.stopping = true;
    this.comeBack.cancel();
    if (this.state !== 'stopped') this.state = 'stopping';
    this.wake();
    const done = this.loopDone ?? Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      done.then(() => 'drained' as const),
      new Promise<'timed out'>(
        (resolve) => (timer = setTimeout(() => resolve('timed out'), timeoutMs)),
      ),
    ]);
    clearTimeout(timer);
    await this.leadership.release();
    this.state = 'stopped';
    return outcome;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.beat();
      const lease = await this.leadership.lead();
      if (!lease) {
        this.state = 'following';
        await this.sleep(this.options.leaderPollMs);
        continue;
      }
      const work = this.work.take();
      if (!work) {
        this.state = 'idle';
        await this.sleep(this.work.waitMs(this.options.heartbeatMs));
        continue;
      }
      this.state = 'reconciling';
      if (!work.sync) await this.runOnePass(lease, { scope: work.scope });
      else if (this.deps.syncRequests)
        await serveSyncRequests(
          this.deps.syncRequests,
          (pass) => this.runOnePass(lease, pass),
          this.log,
        );
    }
    this.state = 'stopping';
  }

  private async runOnePass(
    lock: HeldLease,
    pass: Pick<PassOptions, 'scope' | 'retryDeferred' | 'approvedDeletes'>,
  ): Promise<PassEnding> {
    const { scope } = pass;
    const kind = scope ? 'targeted' : 'full';
    const started = performance.now();
    const ending: PassEnding = await this.deps
      .runPass({
        ...pass,
        dryRun: false,
        allowMassDelete: false,
        honourBackoff: true,
        guard: () => lock.assertHeld(),
        shouldStop: () => this.stopping,
      })
      .then(
        (result) => ({ result }),
        (error: unknown) => ({ error: coerceError(error) }),
      );
    const next = nextStep(ending, {
      failures: this.failures,
      stopping: this.stopping,
      scope,
      episode: this.episode,
    });
    this.follow(next, ending, kind);
    // After every pass, however it ended: a failed or cut-short pass changes states too.
    await this.refreshStatusGauge();
    this.passesRun++;
    this.deps.metrics.passDuration.observe({ kind }, (performance.now() - started) / 1000);
    return ending;
  }

  /** Does what `nextStep` decided: metrics, logs, the retry pause, requeues, the come-back. */
  private follow(next: NextStep, ending: PassEnding, kind: 'full' | 'targeted'): void {
    const { metrics } = this.deps;
    metrics.passes.inc({ result: next.verdict, kind });
    if ('result' in ending) {
      for (const applied of ending.result.applied)
        metrics.changes.inc({ action: applied.change.action });
      if (kind === 'full') setHeldDeletes(metrics, ending.result.plan.heldDeletes);
      if (kind === 'full' && ending.result.runHealth)
        metrics.observeRunHealth(ending.result.runHealth);
      if (kind === 'full' && ending.result.releases)
        metrics.observeReleases(ending.result.releases);
    }
    this.failures = next.failures;
    this.episode = next.episode;
    metrics.failedInARow.set(next.failures);
    if (next.succeeded) {
      this.lastSuccessAt = new Date(this.clock.now());
      metrics.lastSuccess.set(this.lastSuccessAt.getTime() / 1000);
    }
    if (next.lostLeadership) metrics.leader.set(0);
    if (next.retryFullInMs !== null) this.work.holdFullFor(next.retryFullInMs);
    this.work.requeue(next.requeue);
    if (next.comeBack) this.comeBack.schedule(next.comeBack);
    if (next.log) this.log[next.log.level](next.log.fields, next.log.msg);
  }

  private async refreshStatusGauge(): Promise<void> {
    try {
      const counts = await this.deps.countStatuses();
      this.deps.metrics.connectors.reset();
      for (const [status, n] of Object.entries(counts))
        this.deps.metrics.connectors.set({ status }, n);
    } catch {
      /* a metric is not worth failing a pass for */
    }
  }

  private wake(): void {
    this.wakeLoop?.();
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeLoop = done;
    });
  }
}

/** The delete guards' gauges, from a full pass's plan (every rule's, so one that lets go reads 0). */
function setHeldDeletes(metrics: Metrics, held: HeldDeletes | null): void {
  metrics.heldDeletes.set(held?.count ?? 0);
  for (const rule of HOLD_RULES)
    metrics.heldDeletesByRule.set({ rule }, held?.rule === rule ? held.count : 0);
  metrics.sourceShrunk.set(held?.rule === 'source-shrank' ? 1 : 0);
}
