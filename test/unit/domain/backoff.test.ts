import { describe, expect, it } from 'vitest';
import { backoffSeconds, passRetryDelayMs } from '../../../src/domain/backoff.js';

describe('backoffSeconds (per connector)', () => {
  const policy = { baseSeconds: 10, maxSeconds: 3600 };

  it('grows exponentially with equal jitter: half fixed, half random', () => {
    expect(backoffSeconds(1, policy, 0)).toBe(5);
    expect(backoffSeconds(1, policy, 1)).toBe(10);
    expect(backoffSeconds(2, policy, 0)).toBe(10);
    expect(backoffSeconds(3, policy, 0.5)).toBe(30);
  });

  it('is capped at maxSeconds, whatever the attempts', () => {
    expect(backoffSeconds(20, policy, 1)).toBe(3600);
    expect(backoffSeconds(1_000, policy, 0)).toBe(1800);
  });
});

describe('passRetryDelayMs (long-running worker after a failed or aborted pass)', () => {
  it('doubles from 2 s with each failure in a row and stops at a minute', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map(passRetryDelayMs)).toEqual([
      2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000,
    ]);
  });

  it('never retries at once, even when asked for zero failures', () => {
    expect(passRetryDelayMs(0)).toBe(2_000);
  });
});
