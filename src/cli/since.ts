import { DURATION_EXAMPLES, parseDuration } from '../domain/duration.js';

// `events --since`: a date, or how long ago.

/**
 * `--since`: an ISO date or date-time, or a duration before `now` such as
 * `45s`, `30m`, `2h`, `7d`, `2w` or `1h30m`. Returns an error message for
 * anything else, including a bare number (its unit would be a guess).
 */
export function parseSince(value: string, now: Date): Date | string {
  const text = value.trim();
  const seconds = parseDuration(text);
  if (seconds !== null) {
    const since = new Date(now.getTime() - seconds * 1_000);
    if (!Number.isNaN(since.getTime())) return since;
  } else if (/^\d{4}-\d{2}-\d{2}([T ]\S.*)?$/.test(text)) {
    const date = new Date(text);
    if (!Number.isNaN(date.getTime())) return date;
  }
  return `expected an ISO date such as 2026-01-31 or 2026-01-31T08:00:00Z, or a duration such as ${DURATION_EXAMPLES}`;
}
