/**
 * What the ops server reads of the worker's loop (worker/loop.ts Worker has
 * it all): ops/ only reads, so it knows the loop by this view, never the loop.
 */
export interface LoopView {
  readonly state: 'following' | 'idle' | 'reconciling' | 'stopping' | 'stopped';
  readonly isLeader: boolean;
  /** Last moment the loop proved it is alive (ms since the epoch). */
  readonly lastProgress: number;
  readonly lastSuccessAt: Date | null;
  readonly failedPassesInARow: number;
  /** What the last pass met when Prefect failed it (PREFECT_API_URL and what it answered); null once a pass gets through. */
  readonly prefectFailure: string | null;
}
