/** The worker's clock (Date.now by default): injected so tests can drive time. */
export interface Clock {
  now(): number;
}

export const realClock: Clock = { now: () => Date.now() };

/**
 * The work waiting for the next pass: an operator's sync requests, a full
 * pass, or some connectors. Sync requests come first (someone waits for
 * them) and wait for nothing; a full pass covers every connector, so
 * it absorbs them; connectors named by wake-ups arriving within the debounce
 * window become one targeted pass; a failed pass makes the next one wait.
 */
export type Work = { sync: true } | { sync: false; scope: string[] | undefined };

export class WorkQueue {
  /** A new leader trusts nothing: a full pass first. */
  private full = true;
  /** Look for open sync requests (a new leader, a full pass and a NOTIFY all ask). */
  private sync = true;
  private ids = new Set<string>();
  /** Targeted work waits for the debounce window; a failed pass waits for its retry delay. */
  private notBefore = 0;

  constructor(
    private readonly clock: Clock,
    private readonly debounceMs: number,
  ) {}

  /** A full pass; open sync requests are looked for too (a NOTIFY may have been missed). */
  requestFull(): void {
    this.full = true;
    this.sync = true;
  }

  requestSync(): void {
    this.sync = true;
  }

  /** Connectors to reconcile; the first of a burst opens the debounce window. */
  requestConnectors(ids: Iterable<string>): void {
    const fresh = this.ids.size === 0 && !this.full;
    for (const id of ids) this.ids.add(id);
    if (fresh) this.notBefore = Math.max(this.notBefore, this.clock.now() + this.debounceMs);
  }

  /** Connectors of a pass that failed: asked for again, within no new window. */
  requeue(ids: string[]): void {
    for (const id of ids) this.ids.add(id);
  }

  /** The next pass is a full one, not before `ms` from now. */
  holdFullFor(ms: number): void {
    this.full = true;
    this.notBefore = Math.max(this.notBefore, this.clock.now() + ms);
  }

  /** The work of the next pass, if it may start now: undefined scope = a full pass. */
  take(): Work | null {
    if (this.sync) {
      this.sync = false;
      return { sync: true };
    }
    if (this.clock.now() < this.notBefore) return null;
    if (this.full) {
      this.full = false;
      this.ids = new Set();
      this.notBefore = 0;
      return { sync: false, scope: undefined };
    }
    if (this.ids.size === 0) return null;
    const scope = [...this.ids];
    this.ids = new Set();
    return { sync: false, scope };
  }

  /** How long to sleep before looking again (at most `heartbeatMs`). */
  waitMs(heartbeatMs: number): number {
    if (this.sync) return 0;
    const untilReady = this.notBefore - this.clock.now();
    return untilReady > 0 ? Math.min(untilReady, heartbeatMs) : heartbeatMs;
  }
}
