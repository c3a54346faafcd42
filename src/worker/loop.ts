import type { Logger } from 'pino';
import { passRetryDelayMs } from '../core/backoff.js';
import { LeadershipLostError, ReconcileLock } from '../db/lock.js';
import { countByStatus } from '../db/state.js';
import { coerceError } from '../errors.js';
import type { PassDeps } from '../reconcile/context.js';
import { runPass, type PassResult } from '../reconcile/pass.js';
import type { Metrics } from './metrics.js';
import type { Wakeup } from './wakeups.js';

/**
 * The long-running worker as a small state machine:
 *
 *   following ──lock taken──▶ idle ──work queued──▶ reconciling ──pass done──▶ idle
 *       ▲                      │                         │
 *       └────lock lost─────────┴─────────────────────────┘        any ──stop()──▶ stopping ──▶ stopped
 *
 * Work comes from the schedule (a full pass), from wake-ups (just the
 * connectors they name, or a full pass) and from becoming leader (a full
 * pass). One pass at a time; requests arriving meanwhile are merged.
 */
export type WorkerState = 'following' | 'idle' | 'reconciling' | 'stopping' | 'stopped';

export interface WorkerOptions {
  /** How often a follower tries to take the lock. */
  leaderPollMs: number;
  /** Wake-ups arriving within this window become one pass. */
  debounceMs: number;
  /** Longest sleep between loop turns (the heartbeat /healthz watches). */
  heartbeatMs: number;
}

export const DEFAULT_WORKER_OPTIONS: WorkerOptions = {
  leaderPollMs: 2_000,
  debounceMs: 100,
  heartbeatMs: 5_000,
};

interface Pending {
  full: boolean;
  ids: Set<string>;
  /** Targeted work waits for the debounce window; a failed pass waits for its retry delay. */
  notBefore: number;
}

export class Worker {
  state: WorkerState = 'following';
  /** Last moment the loop proved it is alive (a turn, or a Prefect answer). */
  lastProgress = Date.now();
  passesRun = 0;
  /** When the last pass that ran to its end finished; null before the first. */
  lastSuccessAt: Date | null = null;
  private pending: Pending = { full: true, ids: new Set(), notBefore: 0 };
  private lock: ReconcileLock | null = null;
  private wakeLoop: (() => void) | null = null;
  private stopping = false;
  private failures = 0;
  private loopDone: Promise<void> | null = null;
  /** A pass to come back for connectors whose open intents were too young to settle. */
  private comeBack: { at: number; timer: NodeJS.Timeout; ids: Set<string>; full: boolean } | null =
    null;
  private readonly log: Logger;

  constructor(
    private readonly deps: PassDeps,
    private readonly metrics: Metrics,
    private readonly options: WorkerOptions = DEFAULT_WORKER_OPTIONS,
  ) {
    this.log = deps.logger.child({ component: 'worker' });
  }

  /** Passes in a row that failed or were cut short ("alive but not syncing" when it grows). */
  get failedPassesInARow(): number {
    return this.failures;
  }

  get isLeader(): boolean {
    return this.lock !== null && !this.lock.lost;
  }

  beat(): void {
    this.lastProgress = Date.now();
  }

  /** The schedule fired: a full pass (drift, orphans, everything). */
  requestFullPass(): void {
    this.pending.full = true;
    this.wake();
  }

  /** A NOTIFY arrived: just these connectors (after the debounce window), or a full pass. */
  requestWakeup(wakeup: Wakeup): void {
    if (wakeup === null) return this.requestFullPass();
    const fresh = this.pending.ids.size === 0 && !this.pending.full;
    for (const id of wakeup) this.pending.ids.add(id);
    if (fresh)
      this.pending.notBefore = Math.max(
        this.pending.notBefore,
        Date.now() + this.options.debounceMs,
      );
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
    if (this.comeBack) clearTimeout(this.comeBack.timer);
    this.comeBack = null;
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
    await this.releaseLock();
    this.state = 'stopped';
    return outcome;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.beat();
      if (!this.isLeader && !(await this.becomeLeader())) {
        this.state = 'following';
        await this.sleep(this.options.leaderPollMs);
        continue;
      }
      const work = this.takeWork();
      if (!work) {
        this.state = 'idle';
        await this.sleep(this.waitMs());
        continue;
      }
      this.state = 'reconciling';
      await this.runOnePass(work);
    }
    this.state = 'stopping';
  }

  private async becomeLeader(): Promise<boolean> {
    if (this.lock) {
      this.log.warn('lost the reconcile lock; following until it can be taken again');
      await this.releaseLock();
    }
    try {
      this.lock = await ReconcileLock.tryAcquire(
        this.deps.config.database.url,
        this.deps.config.database.schema,
        this.deps.logger,
      );
    } catch (error) {
      this.log.warn(
        { err: coerceError(error).message },
        'cannot reach Postgres to take the reconcile lock',
      );
      this.lock = null;
    }
    if (!this.lock) return false;
    this.metrics.leader.set(1);
    this.log.info('took the reconcile lock: leading');
    this.pending.full = true; // a new leader trusts nothing: full pass first
    return true;
  }

  private takeWork(): { scope: string[] | undefined } | null {
    const now = Date.now();
    if (now < this.pending.notBefore) return null;
    if (this.pending.full) {
      this.pending = { full: false, ids: new Set(), notBefore: 0 };
      return { scope: undefined };
    }
    if (this.pending.ids.size > 0) {
      const scope = [...this.pending.ids];
      this.pending.ids = new Set();
      return { scope };
    }
    return null;
  }

  private waitMs(): number {
    const untilReady = this.pending.notBefore - Date.now();
    return untilReady > 0
      ? Math.min(untilReady, this.options.heartbeatMs)
      : this.options.heartbeatMs;
  }

  private async runOnePass(work: { scope: string[] | undefined }): Promise<void> {
    const kind = work.scope ? 'targeted' : 'full';
    const started = performance.now();
    const lock = this.lock!;
    try {
      const result = await runPass(this.deps, {
        dryRun: false,
        allowMassDelete: false,
        scope: work.scope,
        honourBackoff: true,
        guard: () => lock.assertHeld(),
        shouldStop: () => this.stopping,
      });
      this.recordPass(result, kind);
      this.comeBackFor(result);
      if (kind === 'full') await this.refreshStatusGauge();
    } catch (error) {
      const err = coerceError(error);
      this.metrics.passes.inc({ result: 'error', kind });
      if (err instanceof LeadershipLostError) {
        this.metrics.leader.set(0);
        this.log.warn({ err: err.message }, 'pass stopped: this replica lost the reconcile lock');
      } else {
        // Postgres or Prefect down: try again with a growing pause, as a full pass.
        const delay = this.backOff();
        this.log.error({ err: err.message, retryInMs: delay }, 'pass failed');
      }
      if (work.scope && !(err instanceof LeadershipLostError))
        for (const id of work.scope) this.pending.ids.add(id);
    } finally {
      this.passesRun++;
      this.metrics.passDuration.observe({ kind }, (performance.now() - started) / 1000);
    }
  }

  private recordPass(result: PassResult, kind: 'full' | 'targeted'): void {
    const problems = result.plan.problems.length + result.failures.length;
    const outcome = result.aborted
      ? 'aborted'
      : problems > 0 || result.plan.heldDeletes
        ? 'problems'
        : 'ok';
    this.metrics.passes.inc({ result: outcome, kind });
    for (const applied of result.applied)
      this.metrics.changes.inc({ action: applied.change.action });
    if (kind === 'full') this.metrics.heldDeletes.set(result.plan.heldDeletes?.count ?? 0);
    if (!result.aborted) {
      this.failures = 0;
      this.metrics.failedInARow.set(0);
      this.lastSuccessAt = new Date();
      this.metrics.lastSuccess.set(this.lastSuccessAt.getTime() / 1000);
    } else if (!this.stopping) {
      // Cut short because Prefect kept failing: the same growing pause as a failed pass.
      const delay = this.backOff();
      this.log.warn({ reason: result.aborted, retryInMs: delay }, 'pass aborted');
    }
  }

  /**
   * Intents too young to settle: come back with a targeted pass (a full one
   * for a deployment without a connector) as soon as the first is old enough,
   * rather than after the next scheduled pass, which may be an hour away. That
   * pass reschedules for the ones still too young.
   */
  private comeBackFor(result: PassResult): void {
    if (result.waiting.length === 0) return;
    // A little past the bound: the database's clock decides, and timers may fire early.
    const at = Date.now() + Math.min(...result.waiting.map((w) => w.inMs)) + 250;
    const previous = this.comeBack;
    const ids = previous?.ids ?? new Set<string>();
    let full = previous?.full ?? false;
    for (const w of result.waiting) {
      if (w.connectorId === null) full = true;
      else ids.add(w.connectorId);
    }
    if (previous && previous.at <= at) {
      previous.full = full;
      return;
    }
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => {
      const due = this.comeBack;
      this.comeBack = null;
      if (!due || this.stopping) return;
      if (due.full) this.requestFullPass();
      else this.requestWakeup([...due.ids]);
    }, at - Date.now());
    timer.unref();
    this.comeBack = { at, timer, ids, full };
    this.log.info(
      { connectors: [...ids], inMs: at - Date.now() },
      'open intents too recent to settle; coming back for them',
    );
  }

  /** Counts one more failed pass and holds the next (full) pass back accordingly. */
  private backOff(): number {
    this.failures++;
    this.metrics.failedInARow.set(this.failures);
    const delay = passRetryDelayMs(this.failures);
    this.pending.full = true;
    this.pending.notBefore = Math.max(this.pending.notBefore, Date.now() + delay);
    return delay;
  }

  private async refreshStatusGauge(): Promise<void> {
    try {
      const counts = await countByStatus(this.deps.pool, this.deps.config.database.schema);
      this.metrics.connectors.reset();
      for (const [status, n] of Object.entries(counts)) this.metrics.connectors.set({ status }, n);
    } catch {
      /* a metric is not worth failing a pass for */
    }
  }

  private async releaseLock(): Promise<void> {
    const lock = this.lock;
    this.lock = null;
    this.metrics.leader.set(0);
    await lock?.release();
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
