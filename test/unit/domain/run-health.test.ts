import { describe, expect, it } from 'vitest';
import {
  isLate,
  runHealthTotals,
  summariseRunHealth,
  type RunSummary,
  type WatchedDeployment,
} from '../../../src/domain/run-health.js';

const NOW = new Date('2026-12-07T10:00:00Z');
const minutesAgo = (m: number): Date => new Date(NOW.getTime() - m * 60_000);

function deployment(id: string, overrides: Partial<WatchedDeployment> = {}): WatchedDeployment {
  return {
    connectorId: id,
    deploymentId: `d-${id}`,
    paused: false,
    readiness: 'READY',
    ...overrides,
  };
}

/** A run of connector `id`'s deployment, expected `m` minutes ago, started then unless scheduled. */
function run(id: string, m: number, stateType: string, stateName?: string): RunSummary {
  return {
    deploymentId: `d-${id}`,
    stateType,
    stateName: stateName ?? stateType[0] + stateType.slice(1).toLowerCase(),
    expectedStartTime: minutesAgo(m),
    startTime: stateType === 'SCHEDULED' ? null : minutesAgo(m - 0.5),
  };
}

const summarise = (
  deployments: WatchedDeployment[],
  runs: RunSummary[],
  options: { lastRuns?: number; truncated?: boolean } = {},
) =>
  summariseRunHealth(deployments, runs, {
    now: NOW,
    lastRuns: options.lastRuns ?? 5,
    truncated: options.truncated ?? false,
  });

describe('summariseRunHealth', () => {
  it('runs that complete on a ready deployment: healthy, with the newest run and when it started', () => {
    const [one] = summarise(
      [deployment('1')],
      [run('1', 120, 'COMPLETED'), run('1', 60, 'COMPLETED'), run('1', 1, 'RUNNING')],
    );
    expect(one).toEqual({
      connectorId: '1',
      deploymentId: 'd-1',
      readiness: 'READY',
      health: 'healthy',
      lastRunState: 'Running',
      lastRunStateType: 'RUNNING',
      lastRunAt: minutesAgo(0.5),
      runsLate: 0,
      failedRuns: 0,
      runsConsidered: 3,
    });
  });

  it('a crash as the last finished run is failing, even while a newer run is running', () => {
    const [one] = summarise(
      [deployment('1')],
      [run('1', 120, 'COMPLETED'), run('1', 60, 'CRASHED'), run('1', 1, 'RUNNING')],
    );
    expect(one).toMatchObject({ health: 'failing', failedRuns: 1, lastRunState: 'Running' });
  });

  it('FAILED (TimedOut among them) counts as CRASHED does; CANCELLED does not', () => {
    const [timedOut, cancelled] = summarise(
      [deployment('1'), deployment('2')],
      [run('1', 10, 'FAILED', 'TimedOut'), run('2', 10, 'CANCELLED')],
    );
    expect(timedOut).toMatchObject({ health: 'failing', failedRuns: 1, lastRunState: 'TimedOut' });
    expect(cancelled).toMatchObject({ health: 'healthy', failedRuns: 0 });
  });

  it('failed of the last N: only the newest N runs count; half or more of them failed is failing', () => {
    const runs = [
      run('1', 50, 'FAILED'),
      run('1', 40, 'FAILED'),
      run('1', 30, 'CRASHED'),
      run('1', 20, 'COMPLETED'),
      run('1', 10, 'COMPLETED'),
    ];
    expect(summarise([deployment('1')], runs, { lastRuns: 2 })[0]).toMatchObject({
      health: 'healthy',
      failedRuns: 0,
      runsConsidered: 2,
    });
    expect(summarise([deployment('1')], runs, { lastRuns: 4 })[0]).toMatchObject({
      health: 'failing', // 2 of the last 4
      failedRuns: 2,
      runsConsidered: 4,
    });
    expect(summarise([deployment('1')], runs, { lastRuns: 5 })[0]).toMatchObject({
      failedRuns: 3,
      runsConsidered: 5,
    });
  });

  it('a run still scheduled past its expected start is late: Prefect’s Late at once, a plain Scheduled after a minute', () => {
    const [late, justDue, named] = summarise(
      [deployment('1'), deployment('2'), deployment('3')],
      [
        run('1', 5, 'SCHEDULED'),
        run('1', 3, 'SCHEDULED'),
        run('2', 0.5, 'SCHEDULED'),
        run('3', 0.3, 'SCHEDULED', 'Late'),
      ],
    );
    expect(late).toMatchObject({ health: 'late', runsLate: 2, lastRunState: 'Scheduled' });
    expect(late!.lastRunAt).toEqual(minutesAgo(3)); // not started: when it was expected
    expect(justDue).toMatchObject({ health: 'healthy', runsLate: 0 });
    expect(named).toMatchObject({ health: 'late', runsLate: 1 });
  });

  it('future scheduled runs say nothing: a deployment with only those has no runs', () => {
    const future: RunSummary = { ...run('1', 0, 'SCHEDULED'), expectedStartTime: minutesAgo(-60) };
    expect(summarise([deployment('1')], [future])[0]).toMatchObject({
      health: 'no-runs',
      lastRunState: null,
      lastRunAt: null,
      runsConsidered: 0,
    });
  });

  it('NOT_READY (no worker polls its pool) when its runs neither fail nor are late; no runs is no-runs, or unknown when the read was cut short', () => {
    const rows = summarise(
      [
        deployment('1', { readiness: 'NOT_READY' }),
        deployment('2', { readiness: 'NOT_READY' }),
        deployment('3'),
      ],
      [run('1', 10, 'COMPLETED'), run('2', 10, 'CRASHED')],
    );
    expect(rows.map((r) => r.health)).toEqual(['not-ready', 'failing', 'no-runs']);
    expect(summarise([deployment('3')], [], { truncated: true })[0]!.health).toBe('unknown');
  });

  it('a paused deployment is paused whatever its old runs say; a failing one is never healthy', () => {
    const rows = summarise(
      [deployment('1', { paused: true }), deployment('2', { readiness: null })],
      [run('1', 10, 'CRASHED'), run('2', 10, 'CRASHED'), run('2', 1, 'SCHEDULED', 'Late')],
    );
    expect(rows.map((r) => r.health)).toEqual(['paused', 'failing']);
  });

  it("runs of other deployments are not a connector's", () => {
    const stranger: RunSummary = { ...run('1', 5, 'CRASHED'), deploymentId: 'someone-else' };
    expect(summarise([deployment('1')], [stranger, run('1', 10, 'COMPLETED')])[0]).toMatchObject({
      health: 'healthy',
      runsConsidered: 1,
    });
  });
});

describe('isLate', () => {
  it('only SCHEDULED runs are late', () => {
    expect(isLate(run('1', 10, 'PENDING'), NOW)).toBe(false);
    expect(isLate(run('1', 10, 'SCHEDULED'), NOW)).toBe(true);
  });
});

describe('runHealthTotals', () => {
  it('counts every verdict (0 when none) and the late runs', () => {
    const rows = summarise(
      [deployment('1'), deployment('2'), deployment('3')],
      [run('1', 10, 'CRASHED'), run('2', 5, 'SCHEDULED'), run('2', 4, 'SCHEDULED')],
    );
    expect(runHealthTotals(rows)).toEqual({
      byHealth: {
        failing: 1,
        late: 1,
        'not-ready': 0,
        'no-runs': 1,
        unknown: 0,
        paused: 0,
        healthy: 0,
      },
      runsLate: 2,
    });
  });
});
