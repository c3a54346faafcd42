import { sourceShrankEvent } from '../domain/connector-events.js';
import type { Plan, SourceSnapshot } from '../domain/types.js';
import { sourceRowCount, type SourceHealth } from '../domain/source-health.js';
import type { PassDeps } from './context.js';
import { eventRow } from './event-row.js';

// The source check's memory, kept at the end of a full pass's act step
// (docs/concepts/ownership-and-safety.md, "The source check"): a healthy read
// becomes the good count; a shrunk one is one WARN line and one event when
// its episode starts, and nothing more while it lasts.

export interface SourceCheckInput {
  passId: string;
  source: SourceSnapshot;
  /** What observe read; null in a targeted pass, which keeps nothing. */
  health: SourceHealth | null;
  plan: Plan;
}

/** Returns the number of events written (1 when an episode starts). */
export async function keepSourceHealth(deps: PassDeps, input: SourceCheckInput): Promise<number> {
  if (!input.health) return 0;
  const rows = sourceRowCount(input.source.rows);
  const held = input.plan.heldDeletes;
  if (held?.rule !== 'source-shrank') {
    if (input.health.shrankSince)
      deps.logger.info(
        { rows, was: input.health.goodRows },
        'source check: the source looks healthy again; deletes go as usual',
      );
    await deps.store.recordSourceHealth({ rows, shrank: false }, []);
    return 0;
  }
  const starts = input.health.shrankSince === null;
  const { table } = deps.config.source;
  const limit = deps.config.reconcile.sourceShrinkLimit;
  if (starts)
    deps.logger.warn(
      { table, fromRows: held.limit, toRows: rows, limit, heldDeletes: held.count },
      `source check: ${table} shrank from ${held.limit} to ${rows} rows since the last good pass (limit ${limit}); every delete is held until it looks healthy again or they are approved`,
    );
  const events = starts
    ? [
        eventRow(
          deps,
          sourceShrankEvent({ table, from: held.limit, to: rows, limit, held: held.count }),
          input.passId,
          deps.now(),
        ),
      ]
    : [];
  await deps.store.recordSourceHealth({ rows, shrank: true }, events);
  return events.length;
}
