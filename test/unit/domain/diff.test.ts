import { describe, expect, it } from 'vitest';
import { diffDeployment, scheduleView, updateAction } from '../../../src/domain/diff.js';
import type { DeploymentSchedule, DeploymentSpec } from '../../../src/domain/types.js';
import { deploymentFor, specFor } from '../../harness/plan-fixtures.js';

const spec = specFor('42', { name: 'Orders', cron: '0 1 * * *', timezone: 'UTC' });

function schedule(overrides: Partial<DeploymentSchedule> = {}): DeploymentSchedule {
  return {
    id: 'sched-1',
    schedule: { cron: '0 1 * * *', timezone: 'UTC', day_or: true },
    active: true,
    slug: 'connector-sync',
    parameters: {},
    max_scheduled_runs: null,
    ...overrides,
  };
}

const ourView = {
  cron: '0 1 * * *',
  timezone: 'UTC',
  day_or: true,
  active: true,
  slug: 'connector-sync',
};

describe('diffDeployment: nothing to change', () => {
  it('finds no change when Prefect holds exactly the spec', () => {
    expect(diffDeployment(spec, deploymentFor(spec))).toEqual({});
  });

  it('compares tags as a set (order and repeats are noise)', () => {
    const actual = deploymentFor(spec, { tags: [...spec.tags].reverse().concat(spec.tags[0]!) });
    expect(diffDeployment(spec, actual)).toEqual({});
  });

  it('normalises whitespace in the cron Prefect holds', () => {
    const actual = deploymentFor(spec, {
      schedules: [schedule({ schedule: { cron: ' 0   1 * * * ', timezone: 'UTC', day_or: true } })],
    });
    expect(diffDeployment(spec, actual)).toEqual({});
  });

  it('reads a schedule without a timezone as UTC', () => {
    const actual = deploymentFor(spec, {
      schedules: [schedule({ schedule: { cron: '0 1 * * *', day_or: true } })],
    });
    expect(diffDeployment(spec, actual)).toEqual({});
  });

  it('treats null schedule parameters like {}', () => {
    const actual = deploymentFor(spec, { schedules: [schedule({ parameters: null })] });
    expect(diffDeployment(spec, actual)).toEqual({});
  });

  it('ignores parameter key order', () => {
    const s = specFor('42', { parameters: { a: 1, b: { x: 1, y: 2 } } });
    const actual = deploymentFor(s, {
      parameters: { b: { y: 2, x: 1 }, connector_id: 42, a: 1 },
    });
    expect(diffDeployment(s, actual)).toEqual({});
  });

  it('treats a null description as an empty one', () => {
    const s: DeploymentSpec = { ...spec, description: '' };
    expect(diffDeployment(s, deploymentFor(s, { description: null }))).toEqual({});
  });

  describe('null, {} and [] are the same', () => {
    const bare: DeploymentSpec = {
      ...spec,
      parameters: {},
      job_variables: {},
      pull_steps: null,
      path: null,
    };

    it.each([null, {}, []])('job_variables %j against {}', (value) => {
      expect(diffDeployment(bare, deploymentFor(bare, { job_variables: value as never }))).toEqual(
        {},
      );
    });

    it.each([null, {}, []])('pull_steps %j against null', (value) => {
      expect(diffDeployment(bare, deploymentFor(bare, { pull_steps: value as never }))).toEqual({});
    });

    it.each([null, {}, []])('parameters %j against {}', (value) => {
      expect(diffDeployment(bare, deploymentFor(bare, { parameters: value as never }))).toEqual({});
    });

    it.each([null, '', {}, []])('path %j against null', (value) => {
      expect(diffDeployment(bare, deploymentFor(bare, { path: value as never }))).toEqual({});
    });

    it('an empty pull_steps list in the spec matches a null in Prefect', () => {
      const s: DeploymentSpec = { ...bare, pull_steps: [] };
      expect(diffDeployment(s, deploymentFor(s, { pull_steps: null }))).toEqual({});
    });
  });
});

describe('diffDeployment: changes, with from/to', () => {
  it('description', () => {
    expect(diffDeployment(spec, deploymentFor(spec, { description: 'Old name' }))).toEqual({
      description: { from: 'Old name', to: spec.description },
    });
    expect(spec.description).toMatch(/^Orders\n\nManaged by connector-sync from row 42 of /);
  });

  it('a null description against a name', () => {
    expect(diffDeployment(spec, deploymentFor(spec, { description: null }))).toEqual({
      description: { from: null, to: spec.description },
    });
  });

  it('paused (pause)', () => {
    expect(diffDeployment(spec, deploymentFor(spec, { paused: true }))).toEqual({
      paused: { from: true, to: false },
    });
  });

  it('paused (resume direction)', () => {
    const s = specFor('42', { isActive: false });
    expect(diffDeployment(s, deploymentFor(s, { paused: false }))).toEqual({
      paused: { from: false, to: true },
    });
  });

  it('parameters: a changed value', () => {
    const actual = deploymentFor(spec, { parameters: { source: 'erp', connector_id: 42 } });
    expect(diffDeployment(spec, actual)).toEqual({
      parameters: {
        from: { source: 'erp', connector_id: 42 },
        to: { source: 'crm', connector_id: 42 },
      },
    });
  });

  it('parameters: a connector_id of the wrong JSON type', () => {
    const actual = deploymentFor(spec, { parameters: { source: 'crm', connector_id: '42' } });
    expect(Object.keys(diffDeployment(spec, actual))).toEqual(['parameters']);
  });

  it('parameters: an extra key in Prefect', () => {
    const actual = deploymentFor(spec, {
      parameters: { source: 'crm', connector_id: 42, debug: true },
    });
    expect(Object.keys(diffDeployment(spec, actual))).toEqual(['parameters']);
  });

  it('tags: a missing managed tag shows sorted from and the spec tags as to', () => {
    const actual = deploymentFor(spec, { tags: ['team:data', 'connector-42'] });
    expect(diffDeployment(spec, actual)).toEqual({
      tags: { from: ['connector-42', 'team:data'], to: spec.tags },
    });
  });

  it('tags: an extra tag is drift too', () => {
    const actual = deploymentFor(spec, { tags: [...spec.tags, 'hand-edited'] });
    expect(Object.keys(diffDeployment(spec, actual))).toEqual(['tags']);
  });

  it.each([
    ['work_pool_name', 'other-pool'],
    ['work_queue_name', 'urgent'],
    ['entrypoint', 'flows/other.py:run'],
  ] as const)('%s', (field, value) => {
    const changes = diffDeployment(spec, deploymentFor(spec, { [field]: value }));
    expect(changes).toEqual({ [field]: { from: value, to: spec[field] } });
  });

  it('job_variables set in Prefect but empty in the spec', () => {
    expect(diffDeployment(spec, deploymentFor(spec, { job_variables: { image: 'x' } }))).toEqual({
      job_variables: { from: { image: 'x' }, to: {} },
    });
  });

  it('job_variables in the spec but null in Prefect', () => {
    const s: DeploymentSpec = { ...spec, job_variables: { image: 'flows:2' } };
    expect(diffDeployment(s, deploymentFor(s, { job_variables: null }))).toEqual({
      job_variables: { from: null, to: { image: 'flows:2' } },
    });
  });

  it('path', () => {
    const s: DeploymentSpec = { ...spec, path: '/opt/flows' };
    expect(diffDeployment(s, deploymentFor(s, { path: null }))).toEqual({
      path: { from: null, to: '/opt/flows' },
    });
  });

  it('pull_steps', () => {
    const steps = [{ 'prefect.deployments.steps.set_working_directory': { directory: '/a' } }];
    const s: DeploymentSpec = { ...spec, pull_steps: steps };
    expect(diffDeployment(s, deploymentFor(s, { pull_steps: [] }))).toEqual({
      pull_steps: { from: [], to: steps },
    });
  });

  it('several fields at once are all reported', () => {
    const actual = deploymentFor(spec, { description: 'x', paused: true, tags: [] });
    expect(Object.keys(diffDeployment(spec, actual)).sort()).toEqual([
      'description',
      'paused',
      'tags',
    ]);
  });
});

describe('diffDeployment: schedule drift', () => {
  function drift(schedules: DeploymentSchedule[], s: DeploymentSpec = spec) {
    return diffDeployment(s, deploymentFor(s, { schedules }));
  }

  it('another cron', () => {
    expect(
      drift([schedule({ schedule: { cron: '0 */6 * * *', timezone: 'UTC', day_or: true } })]),
    ).toEqual({
      schedules: { from: [{ ...ourView, cron: '0 */6 * * *' }], to: spec.schedules },
    });
  });

  it('another timezone', () => {
    expect(
      drift([
        schedule({ schedule: { cron: '0 1 * * *', timezone: 'Europe/Berlin', day_or: true } }),
      ]),
    ).toEqual({
      schedules: { from: [{ ...ourView, timezone: 'Europe/Berlin' }], to: spec.schedules },
    });
  });

  it('day_or false', () => {
    expect(
      drift([schedule({ schedule: { cron: '0 1 * * *', timezone: 'UTC', day_or: false } })]),
    ).toEqual({
      schedules: { from: [{ ...ourView, day_or: false }], to: spec.schedules },
    });
  });

  it('a schedule switched off (active false)', () => {
    expect(drift([schedule({ active: false })])).toEqual({
      schedules: { from: [{ ...ourView, active: false }], to: spec.schedules },
    });
  });

  it('an extra schedule besides ours', () => {
    const extra = schedule({
      id: 'sched-2',
      slug: 'nightly',
      schedule: { cron: '0 3 * * *', timezone: 'UTC', day_or: true },
    });
    expect(drift([schedule(), extra])).toEqual({
      schedules: {
        from: [ourView, { ...ourView, cron: '0 3 * * *', slug: 'nightly' }],
        to: spec.schedules,
      },
    });
  });

  it('a schedule without our slug', () => {
    expect(drift([schedule({ slug: null })])).toEqual({
      schedules: { from: [{ ...ourView, slug: null }], to: spec.schedules },
    });
  });

  it('an interval schedule in place of our cron', () => {
    const interval = schedule({
      schedule: { interval: 3600, anchor_date: '2024-01-01T00:00:00Z', timezone: 'UTC' },
    });
    expect(drift([interval])).toEqual({
      schedules: {
        from: [
          {
            interval: 3600,
            anchor_date: '2024-01-01T00:00:00Z',
            timezone: 'UTC',
            active: true,
            slug: 'connector-sync',
          },
        ],
        to: spec.schedules,
      },
    });
  });

  it('an extra key in the schedule (rrule-style fields) is drift', () => {
    const odd = schedule({
      schedule: { cron: '0 1 * * *', timezone: 'UTC', day_or: true, rrule: 'FREQ=DAILY' },
    });
    expect(Object.keys(drift([odd]))).toEqual(['schedules']);
  });

  it('non-empty schedule parameters', () => {
    expect(drift([schedule({ parameters: { full_refresh: true } })])).toEqual({
      schedules: {
        from: [{ ...ourView, parameters: { full_refresh: true } }],
        to: spec.schedules,
      },
    });
  });

  it('a schedule in Prefect for a connector without one', () => {
    const s = specFor('42', { cron: null });
    expect(drift([schedule()], s)).toEqual({ schedules: { from: [ourView], to: [] } });
  });

  it('no schedule in Prefect for a connector with one', () => {
    expect(drift([])).toEqual({ schedules: { from: [], to: spec.schedules } });
  });

  it('no schedule on either side is no change', () => {
    const s = specFor('42', { cron: null });
    expect(drift([], s)).toEqual({});
  });
});

describe('scheduleView', () => {
  it('shows what a schedule does, not its ids, and omits empty parameters', () => {
    expect(scheduleView(schedule({ id: 'x', max_scheduled_runs: 5 }))).toEqual(ourView);
  });

  it('keeps non-empty parameters', () => {
    expect(scheduleView(schedule({ parameters: { a: 1 } }))).toEqual({
      ...ourView,
      parameters: { a: 1 },
    });
  });
});

describe('updateAction', () => {
  it('pause when paused false -> true is the only change', () => {
    expect(updateAction({ paused: { from: false, to: true } })).toBe('pause');
  });

  it('resume when paused true -> false is the only change', () => {
    expect(updateAction({ paused: { from: true, to: false } })).toBe('resume');
  });

  it('update when paused moves together with another field', () => {
    expect(
      updateAction({ paused: { from: false, to: true }, description: { from: 'a', to: 'b' } }),
    ).toBe('update');
  });

  it('update when paused is not among the fields', () => {
    expect(updateAction({ tags: { from: [], to: ['x'] } })).toBe('update');
  });

  it('update for an empty set of fields', () => {
    expect(updateAction({})).toBe('update');
  });
});
