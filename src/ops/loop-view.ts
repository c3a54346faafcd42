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
}
