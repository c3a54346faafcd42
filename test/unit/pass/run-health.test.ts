import { describe, expect, it } from 'vitest';
import { passWorld, type PassWorld } from '../../harness/pass-world.js';
import { unavailable } from '../../harness/fake-prefect.js';
import type { RunSummary } from '../../../src/domain/run-health.js';

// Step 7 of a full pass: one batched read of the managed deployments' runs,
// summarised per connector and kept — never in a dry run or a targeted pass,
// and a read that fails changes nothing else of the pass.

async function world(): Promise<PassWorld> {
  const w = passWorld();
  w.store.rows = [w.row('1'), w.row('2'), w.row('3', { isActive: false })];
  await w.pass();
  return w;
}

function runOf(
  w: PassWorld,
  connectorId: string,
  minutesAgo: number,
  stateType: string,
): RunSummary {
  const deployment = [...w.prefect.deployments.values()].find(
    (d) => d.name === `connector-${connectorId}`,
  )!;
  const expected = new Date(w.clock.now().getTime() - minutesAgo * 60_000);
  return {
    deploymentId: deployment.id,
    stateType,
    stateName: stateType[0] + stateType.slice(1).toLowerCase(),
    expectedStartTime: expected,
    startTime: stateType === 'SCHEDULED' ? null : expected,
  };
}

describe('run health in a pass', () => {
  it('a full pass reads the runs once and keeps each connector’s health: crashes are failing whatever the sync status', async () => {
    const w = await world();
    w.prefect.recentRuns.push(runOf(w, '1', 10, 'COMPLETED'), runOf(w, '2', 10, 'CRASHED'));
    const result = await w.pass();
    expect(result.calls.byRoute).toEqual({ readFlowId: 1, listByTag: 1, readRecentRuns: 1 });
    expect(w.store.states.get('2')!.status).toBe('synced');
    expect([...w.store.runHealth.values()].map((h) => [h.connectorId, h.health])).toEqual([
      ['1', 'healthy'],
      ['2', 'failing'],
      ['3', 'paused'],
    ]);
    expect(w.store.runHealth.get('2')).toMatchObject({ failedRuns: 1, lastRunState: 'Crashed' });
    expect(w.store.runHealthCheckedAt).toEqual(w.clock.now());
    expect(result.runHealth).toMatchObject({
      byHealth: { healthy: 1, failing: 1, paused: 1, late: 0 },
      runsLate: 0,
      runs: 2,
      truncated: false,
    });
  });

  it('a deployment created in the pass is there at once (no runs yet); a deleted one is gone', async () => {
    const w = await world();
    w.store.rows = [w.row('1'), w.row('4')]; // 2 and 3 deleted, 4 new
    await w.pass({ allowMassDelete: true });
    expect([...w.store.runHealth.keys()]).toEqual(['1', '4']);
    expect(w.store.runHealth.get('4')!.health).toBe('no-runs');
  });

  it('a dry run and a targeted pass neither read runs nor write run health', async () => {
    const w = await world();
    const before = new Map(w.store.runHealth);
    w.prefect.recentRuns.push(runOf(w, '1', 10, 'CRASHED'));
    const dry = await w.pass({ dryRun: true });
    const targeted = await w.pass({ scope: ['1'] });
    expect(dry.calls.byRoute).not.toHaveProperty('readRecentRuns');
    expect(targeted.calls.byRoute).not.toHaveProperty('readRecentRuns');
    expect(dry.runHealth ?? null).toBeNull();
    expect(w.store.runHealth).toEqual(before);
  });

  it('off (runHealth.enabled: false): no read, nothing written', async () => {
    const w = passWorld({ 'runHealth.enabled': false });
    w.store.rows = [w.row('1')];
    const result = await w.pass();
    expect(result.calls.byRoute).not.toHaveProperty('readRecentRuns');
    expect(w.store.runHealthCheckedAt).toBeNull();
  });

  it('a read that fails leaves the last reading and the pass as they were', async () => {
    const w = await world();
    const before = new Map(w.store.runHealth);
    w.prefect.fail({ method: 'readRecentRuns', kind: 'refuse', error: unavailable });
    w.prefect.recentRuns.push(runOf(w, '1', 10, 'CRASHED'));
    const result = await w.pass();
    expect(result.aborted).toBeNull();
    expect(result.runHealth).toBeNull();
    expect(w.store.runHealth).toEqual(before);
  });
});
