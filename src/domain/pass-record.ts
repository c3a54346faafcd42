import type { PassResultKind } from './vocabulary.js';

export interface PassRecord {
  id: string;
  startedAt: Date;
  finishedAt: Date;
  kind: 'full' | 'targeted';
  result: PassResultKind;
  /** Changes applied, by action. */
  changes: Record<string, number>;
  problems: number;
  events: number;
  calls: { reads: number; writes: number };
  durationMs: number;
  error: string | null;
}
