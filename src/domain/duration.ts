// Durations as people write them, in the configuration and on the command
// line alike: `45s`, `30m`, `2h`, `7d`, `2w`, `1h30m`.

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 };

export const DURATION_EXAMPLES = '45s, 30m, 2h or 7d';

/** Seconds, or null when `text` is not a duration (a bare number too: its unit would be a guess). */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim();
  if (!/^(\d+[smhdw])+$/.test(trimmed)) return null;
  let seconds = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhdw])/g))
    seconds += Number(amount) * UNIT_SECONDS[unit!]!;
  return seconds;
}
