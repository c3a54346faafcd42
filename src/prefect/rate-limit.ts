/** Time as the limiter sees it; injected so tests need not wait for real seconds. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A global request-rate limit (docs/reference/configuration.md: `prefect.requestsPerSecond`): every
 * request takes the next free slot, slots 1/rate apart. No burst allowance,
 * so in any window of T seconds at most ⌊T·rate⌋ + 1 requests start —
 * including right after a Retry-After pause, when every waiting call would
 * otherwise go at once.
 */
export class RequestRateLimiter {
  private readonly intervalMs: number;
  /** The earliest moment the next slot may be handed out. */
  private nextSlot = Number.NEGATIVE_INFINITY;

  constructor(
    perSecond: number,
    private readonly clock: Clock = realClock,
  ) {
    if (!(perSecond > 0)) throw new RangeError('requests per second must be positive');
    this.intervalMs = 1000 / perSecond;
  }

  /** Resolves when the caller may send its request. */
  async take(): Promise<void> {
    const now = this.clock.now();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + this.intervalMs;
    if (slot > now) await this.clock.sleep(slot - now);
  }
}
