import { describe, expect, it } from 'vitest';
import { RequestRateLimiter, type Clock } from '../../../src/prefect/rate-limit.js';

/** A clock that only moves when someone sleeps: slots are exact, no real waiting. */
function fakeClock(): Clock & { slept: number[] } {
  let now = 1_000;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: (ms) => {
      slept.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

describe('RequestRateLimiter', () => {
  it('lets the first request go at once and spaces the next ones 1/rate apart', async () => {
    const clock = fakeClock();
    const limiter = new RequestRateLimiter(10, clock);
    const starts: number[] = [];
    for (let i = 0; i < 5; i++) {
      await limiter.take();
      starts.push(clock.now());
    }
    expect(starts).toEqual([1_000, 1_100, 1_200, 1_300, 1_400]);
  });

  it('hands concurrent callers consecutive slots (no burst)', async () => {
    let now = 0;
    const waits: number[] = [];
    const clock: Clock = {
      now: () => now,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    };
    const limiter = new RequestRateLimiter(4, clock);
    await Promise.all(Array.from({ length: 4 }, () => limiter.take()));
    expect(waits).toEqual([250, 500, 750]);
    now = 10_000; // idle for a long time: no credit is saved up
    waits.length = 0;
    await Promise.all([limiter.take(), limiter.take()]);
    expect(waits).toEqual([250]);
  });

  it('never starts more than ⌊T·rate⌋ + 1 requests in any window of T', async () => {
    const clock = fakeClock();
    const rate = 8; // slots 125 ms apart, exact in floating point
    const limiter = new RequestRateLimiter(rate, clock);
    const starts: number[] = [];
    for (let i = 0; i < 50; i++) {
      if (i % 6 === 0) await clock.sleep(333); // idle gaps now and then
      await limiter.take();
      starts.push(clock.now());
    }
    for (let i = 0; i < starts.length; i++) {
      const inWindow = starts.filter((t) => t >= starts[i]! && t < starts[i]! + 1_000).length;
      expect(inWindow).toBeLessThanOrEqual(rate);
    }
  });

  it('rejects a rate that is not positive', () => {
    expect(() => new RequestRateLimiter(0)).toThrow(RangeError);
    expect(() => new RequestRateLimiter(-1)).toThrow(RangeError);
  });
});
