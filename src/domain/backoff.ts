/**
 * Delay before a failing connector is tried again (docs/guides/operating.md): exponential from
 * `baseSeconds`, capped at `maxSeconds`, with "equal jitter" (half fixed, half
 * random) so many failing connectors do not retry in lockstep.
 */
export function backoffSeconds(
  attempts: number,
  policy: { baseSeconds: number; maxSeconds: number },
  random: number,
): number {
  const exponent = Math.max(0, attempts - 1);
  const ceiling = Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** Math.min(exponent, 40));
  return ceiling / 2 + (ceiling / 2) * Math.min(1, Math.max(0, random));
}

/**
 * Delay before the long-running worker tries again after a pass that failed
 * or was cut short because Prefect or Postgres kept failing: 2 s, 4 s, 8 s …
 * up to a minute, so a struggling Prefect is not hammered by pass after pass.
 */
export function passRetryDelayMs(consecutiveFailures: number): number {
  return Math.min(60_000, 1_000 * 2 ** Math.min(Math.max(1, consecutiveFailures), 6));
}
