import { describe, expect, it } from 'vitest';
import { nextSlot, reschedulesAfter, schedulesAfter } from '../../../src/domain/reschedule.js';
import { pauseChange } from '../../../src/domain/changes.js';
import type { Change, Deployment, FieldChanges, ScheduleSpec } from '../../../src/domain/types.js';
import { deploymentFor, specFor } from '../../harness/plan-fixtures.js';

const at = (iso: string): Date => new Date(iso);

function every(cron: string, timezone = 'UTC'): ScheduleSpec {
  return { cron, timezone, day_or: true, active: true, slug: 'connector-sync' };
}

function deployment(cron: string, overrides: Partial<Deployment> = {}): Deployment {
  return deploymentFor(specFor('1', { cron }), overrides);
}

function update(before: Deployment, fields: FieldChanges): Change {
  return { action: 'update', connectorId: '1', connectorName: 'One', deployment: before, fields };
}

describe('reschedulesAfter', () => {
  it('an update with a run due within the window: yes; beyond it: no', () => {
    const d = deployment('* * * * *');
    const change = update(d, { description: { from: 'a', to: 'b' } });
    expect(reschedulesAfter(change, at('2026-12-07T10:00:58Z'), 300)).toBe(true);
    const hourly = update(deployment('0 * * * *'), { description: { from: 'a', to: 'b' } });
    expect(reschedulesAfter(hourly, at('2026-12-07T10:54:59Z'), 300)).toBe(false);
    expect(reschedulesAfter(hourly, at('2026-12-07T10:55:00Z'), 300)).toBe(true);
    expect(reschedulesAfter(change, at('2026-12-07T10:00:58Z'), 0)).toBe(false); // off
  });

  it('reads the schedule the update sends, in its timezone', () => {
    const d = deployment('0 3 * * *');
    const change = update(d, {
      schedules: { from: [], to: [every('30 11 * * *', 'Europe/Berlin')] },
    });
    expect(schedulesAfter(change)).toEqual([{ cron: '30 11 * * *', timezone: 'Europe/Berlin' }]);
    // 11:30 in Berlin is 10:30 UTC in December.
    expect(nextSlot(schedulesAfter(change), at('2026-12-07T10:00:00Z'))).toEqual(
      at('2026-12-07T10:30:00Z'),
    );
  });

  it('never after a pause, a delete or a create; nor when the update leaves it paused or unscheduled', () => {
    const d = deployment('* * * * *');
    const now = at('2026-12-07T10:00:58Z');
    expect(reschedulesAfter(pauseChange(d, '1', 'One', 'row invalid'), now, 300)).toBe(false);
    expect(
      reschedulesAfter(
        {
          action: 'delete',
          connectorId: '1',
          connectorName: 'One',
          deployment: d,
          reason: 'row deleted',
        },
        now,
        300,
      ),
    ).toBe(false);
    const paused = deployment('* * * * *', { paused: true });
    expect(reschedulesAfter(update(paused, { tags: { from: [], to: ['x'] } }), now, 300)).toBe(
      false,
    );
    const inactive = update(d, {
      schedules: { from: [], to: [{ ...every('* * * * *'), active: false }] },
    });
    expect(reschedulesAfter(inactive, now, 300)).toBe(false);
  });

  it('a resume is followed by its runs when one is due soon', () => {
    const d = deployment('* * * * *', { paused: true });
    const resume: Change = {
      action: 'resume',
      connectorId: '1',
      connectorName: 'One',
      deployment: d,
      fields: { paused: { from: true, to: false } },
    };
    expect(reschedulesAfter(resume, at('2026-12-07T10:00:30Z'), 300)).toBe(true);
  });
});
