// The source check (docs/concepts/ownership-and-safety.md): a source that
// suddenly reads far fewer rows than the last good pass is more likely broken
// (a view that briefly returns nothing, a truncated table, a config pointed at
// the wrong table) than emptied on purpose, so a full pass deletes nothing
// until it looks healthy again or the deletes are approved.

/** Below this many rows the share is not judged (only "none where there were some"). */
export const SHRINK_FROM_ROWS = 10;

/** What the worker remembers of the source between passes. */
export interface SourceHealth {
  /** Rows read by the last full pass that found the source healthy; null before the first. */
  goodRows: number | null;
  /** Since when the source has looked shrunk; null while it looks healthy. */
  shrankSince: Date | null;
}

/** What a full pass found: healthy (its rows become the good count) or shrunk past the limit. */
export interface SourceReading {
  rows: number;
  shrank: boolean;
}

/** The rows a read of the source counts: distinct connector ids (a view may repeat one). */
export function sourceRowCount(rows: readonly { id: string }[]): number {
  return new Set(rows.map((r) => r.id)).size;
}

/** `sourceShrinkLimit` as a share (0.5 for "50%"); null when the check is off. */
export function shrinkLimitOf(setting: string): number | null {
  return setting === 'off' ? null : Number(setting.replace('%', '')) / 100;
}

/**
 * The shrink, from the last good pass's rows to `rows`, when it is past the
 * limit (from SHRINK_FROM_ROWS rows up) or leaves no row where there were
 * some; null when the source looks healthy. Pure.
 */
export function shrinkOf(
  goodRows: number | null,
  rows: number,
  limit: number | null,
): { from: number; to: number } | null {
  if (limit === null || goodRows === null || goodRows === 0 || rows >= goodRows) return null;
  if (rows === 0) return { from: goodRows, to: 0 };
  if (goodRows < SHRINK_FROM_ROWS) return null;
  return (goodRows - rows) / goodRows > limit ? { from: goodRows, to: rows } : null;
}
