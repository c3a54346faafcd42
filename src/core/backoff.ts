/**
 * Delay before a failing connector is tried again (SPEC §8): exponential from
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
