import { eventsAfterSeq } from '../postgres/eventlog.js';
import { advanceCursor, cursorOf } from '../postgres/outbox.js';
import type { Queryable } from '../postgres/pool.js';
import type { Sink } from './sink.js';
import type { Masker } from '../domain/mask.js';

/** Events read and handed to a sink at a time. */
export const BATCH_SIZE = 500;

/**
 * One step of the outbox for one sink: the events after its cursor (in
 * commit order), delivered, then the cursor moved past them. A crash between
 * the two delivers them again, which a sink absorbs by event id. Returns how
 * many were delivered (0: the sink has the whole log).
 */
export async function deliverNext(
  db: Queryable,
  schema: string,
  sink: Sink,
  masker: Masker,
  limit = BATCH_SIZE,
): Promise<number> {
  const from = await cursorOf(db, schema, sink.name);
  const batch = await eventsAfterSeq(db, schema, {}, from, limit, masker);
  if (batch.length === 0) return 0;
  await sink.deliver(batch);
  // Another publisher moved the cursor meanwhile (two replicas in a lock
  // handover): its cursor stands, and the copies we sent are dropped by id.
  const moved = await advanceCursor(db, schema, sink.name, from, batch.at(-1)!.seq);
  return moved ? batch.length : 0;
}
