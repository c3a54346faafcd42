import type { Queryable } from './pool.js';

// The wake-up a running worker LISTENs for (worker/wakeups.ts): connector
// ids separated by commas for a targeted pass, empty for a full one. Sent by
// `resume`, the release controls and the console's actions.

export const WAKEUP_CHANNEL = 'connector_sync_wakeup';

/** NOTIFYs a running worker: a targeted pass of `ids`, or a full pass for null. */
export async function notifyWakeup(db: Queryable, ids: readonly string[] | null): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [WAKEUP_CHANNEL, ids ? ids.join(',') : '']);
}
