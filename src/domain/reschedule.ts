import { CronExpressionParser } from 'cron-parser';
import type { Change, ScheduleSpec } from './types.js';

// Writes that never cost a scheduled run (docs/concepts/how-a-pass-works.md,
// "Updates and scheduled runs"). Prefect deletes a deployment's future
// auto-scheduled runs on every PATCH, and its scheduler makes them again only
// from the moment it next looks — so a run due before then is lost. After an
// update that leaves the deployment scheduled, with a run due soon, the apply
// step asks Prefect to schedule the deployment's runs from the moment before
// the PATCH went out: Prefect's own scheduling, under its own idempotency key
// per slot, so what the PATCH deleted comes back and nothing is doubled.

interface CronOf {
  cron: string;
  timezone: string;
}

/** The active cron schedules a deployment has after `change`; none when it ends paused. */
export function schedulesAfter(change: Change): CronOf[] {
  if (change.action !== 'update' && change.action !== 'resume') return [];
  const paused = (change.fields.paused?.to as boolean | undefined) ?? change.deployment.paused;
  if (paused) return [];
  if (change.fields.schedules) {
    const wanted = change.fields.schedules.to as ScheduleSpec[];
    return wanted.filter((s) => s.active).map((s) => ({ cron: s.cron, timezone: s.timezone }));
  }
  return change.deployment.schedules.flatMap((s) => {
    const { cron, timezone } = s.schedule as { cron?: unknown; timezone?: unknown };
    return s.active && typeof cron === 'string'
      ? [{ cron, timezone: typeof timezone === 'string' ? timezone : 'UTC' }]
      : [];
  });
}

/** The first time one of `schedules` fires after `now`; null when none can be read. */
export function nextSlot(schedules: CronOf[], now: Date): Date | null {
  let first: Date | null = null;
  for (const { cron, timezone } of schedules) {
    try {
      const next = CronExpressionParser.parse(cron, { currentDate: now, tz: timezone })
        .next()
        .toDate();
      if (first === null || next < first) first = next;
    } catch {
      // A macro or croniter dialect cron-parser does not read: treated as due soon.
      return now;
    }
  }
  return first;
}

/**
 * Whether an applied update must be followed by re-creating its runs: it
 * leaves the deployment scheduled and a run is due within `withinSeconds`
 * (beyond that, Prefect's scheduler makes the runs again long before they are
 * due). 0 turns it off.
 */
export function reschedulesAfter(change: Change, now: Date, withinSeconds: number): boolean {
  if (withinSeconds <= 0) return false;
  const next = nextSlot(schedulesAfter(change), now);
  return next !== null && next.getTime() - now.getTime() <= withinSeconds * 1000;
}
