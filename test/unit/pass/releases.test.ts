import { describe, expect, it } from 'vitest';
import { passWorld, type PassWorld } from '../../harness/pass-world.js';

// Releases through whole passes against the in-memory fakes: the ledger's
// baseline, a release in waves gated on the runs it triggers, the wave that
// fails and rolls back on its own, the timeout that names an idle pool, and
// today's one-pass release with `waves: ["100%"]`, `verify: none`.
// releases.test.ts (integration) proves the same on Prefect 3.9.1 with a
// process worker running the flows.

const WAVES = { rollout: { waves: [1, '50%', '100%'], verify: 'trigger', gateTimeout: '10m' } };

function world(overrides: Record<string, unknown> = WAVES): PassWorld {
  const w = passWorld({ deployment: { version: '1.0.0' }, ...overrides });
  w.store.rows = ['1', '2', '3', '4'].map((id, i) =>
    // Connector 3 runs most often: it is the first canary.
    w.row(id, { schedule: id === '3' ? '*/5 * * * *' : `0 ${i} * * *` }),
  );
  return w;
}

/** Connector id → the release its deployment is on (the version's prefix). */
function versions(w: PassWorld): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of w.prefect.deployments.values())
    out[d.name.replace('connector-', '')] = String(d.version).split('+')[0]!;
  return out;
}

const releaseEvents = (w: PassWorld) =>
  w.store.events.filter((e) => e.action.startsWith('release-')).map((e) => e.action);

/** A release of 2.0.0 after a first pass on 1.0.0. */
async function shipped(w: PassWorld): Promise<void> {
  await w.pass();
  w.config.deployment.version = '2.0.0';
  await w.pass();
}

const gateRuns = (w: PassWorld) => [...w.prefect.runs.values()];

describe('the release ledger', () => {
  it('begins with the release the fleet is on: complete, no event, every connector on it', async () => {
    const w = world();
    await w.pass();
    expect([...w.store.releases.values()].map((r) => [r.id, r.state])).toEqual([
      ['1.0.0', 'complete'],
    ]);
    expect(releaseEvents(w)).toEqual([]);
    expect(Object.fromEntries(w.store.connectorReleases)).toEqual({
      '1': '1.0.0',
      '2': '1.0.0',
      '3': '1.0.0',
      '4': '1.0.0',
    });
  });
});

describe('a release in waves', () => {
  it('reaches the first wave only, and triggers one tagged run for it', async () => {
    const w = world();
    await shipped(w);
    expect(versions(w)).toEqual({ '1': '1.0.0', '2': '1.0.0', '3': '2.0.0', '4': '1.0.0' });
    const release = w.store.releases.get('2.0.0')!;
    expect(release).toMatchObject({ state: 'rolling-out', previous: '1.0.0', members: ['3'] });
    expect(gateRuns(w)).toHaveLength(1);
    expect(gateRuns(w)[0]!.tags).toEqual(['connector-sync-release:2.0.0']);
    expect(gateRuns(w)[0]!.deploymentVersion).toMatch(/^2\.0\.0\+/);
    expect(releaseEvents(w)).toEqual(['release-started']);
    expect(w.store.connectorReleases.get('3')).toBe('2.0.0');

    // Until the run finishes, passes change nothing and trigger nothing more.
    const again = await w.pass();
    expect(again.calls.writes).toBe(0);
    expect(gateRuns(w)).toHaveLength(1);
  });

  it('goes through every wave as each one’s runs complete', async () => {
    const w = world();
    await shipped(w);
    for (const expected of [2, 4]) {
      for (const run of gateRuns(w))
        if (run.stateType === 'SCHEDULED') w.prefect.finishRun(run.id, 'COMPLETED');
      await w.pass(); // the wave passes
      await w.pass(); // the next one is written and its runs triggered
      expect(Object.values(versions(w)).filter((v) => v === '2.0.0')).toHaveLength(expected);
    }
    for (const run of gateRuns(w))
      if (run.stateType === 'SCHEDULED') w.prefect.finishRun(run.id, 'COMPLETED');
    await w.pass();
    expect(w.store.releases.get('2.0.0')!.state).toBe('complete');
    expect(releaseEvents(w)).toEqual([
      'release-started',
      'release-wave-passed',
      'release-wave-passed',
      'release-wave-passed',
      'release-completed',
    ]);
    expect(gateRuns(w)).toHaveLength(4); // one per connector, never two
  });

  it('a crashed run fails the wave; its connectors go back; the rest never carried it', async () => {
    const w = world();
    await shipped(w);
    const [run] = gateRuns(w);
    w.prefect.finishRun(run!.id, 'CRASHED', 'Flow could not be retrieved from deployment.');
    await w.pass(); // judged: failed
    const failed = w.store.releases.get('2.0.0')!;
    expect(failed.state).toBe('failed');
    expect(failed.reason).toBe(
      `run ${run!.id} of 2.0.0 ended Crashed: Flow could not be retrieved from deployment.`,
    );
    await w.pass(); // connector 3 goes back to 1.0.0
    expect(versions(w)).toEqual({ '1': '1.0.0', '2': '1.0.0', '3': '1.0.0', '4': '1.0.0' });
    expect(releaseEvents(w)).toEqual(['release-started', 'release-failed', 'release-rolled-back']);
    const updated = w.store.events.filter((e) => e.action === 'updated').map((e) => e.connector_id);
    expect(updated).toEqual(['3', '3']); // there and back; no other connector touched

    // The template still says 2.0.0: the fleet stays where it is.
    const later = await w.pass();
    expect(later.calls.writes).toBe(0);
    expect(later.plan.notices.map((n) => n.message).join('\n')).toContain(
      "the template's release 2.0.0 is failed",
    );
  });

  it('a wave whose runs do not finish in time fails, naming the pool no worker polls', async () => {
    const w = world();
    w.prefect.idlePools.add('default');
    await shipped(w);
    w.clock.advance(11 * 60_000);
    await w.pass();
    expect(w.store.releases.get('2.0.0')).toMatchObject({
      state: 'failed',
      reason:
        '0 of 1 runs of wave 1 finished within the gate timeout (no worker has polled pool default)',
    });
  });

  it('a connector created mid-rollout starts on the last good release', async () => {
    const w = world();
    await shipped(w);
    w.store.rows.push(w.row('5'));
    await w.pass();
    expect(versions(w)['5']).toBe('1.0.0');
  });

  it('a newer release supersedes the one in progress', async () => {
    const w = world();
    await shipped(w);
    w.config.deployment.version = '3.0.0';
    await w.pass();
    expect(w.store.releases.get('2.0.0')!.state).toBe('superseded');
    expect(w.store.releases.get('3.0.0')).toMatchObject({
      state: 'rolling-out',
      previous: '1.0.0',
    });
  });
});

describe('the template going back to an earlier release', () => {
  it('gives the fleet that release at once; the one after it is superseded; named again, it rolls out anew', async () => {
    const w = world({ rollout: { waves: ['100%'], verify: 'none' } });
    await shipped(w);
    expect(Object.values(versions(w))).toEqual(['2.0.0', '2.0.0', '2.0.0', '2.0.0']);
    w.config.deployment.version = '1.0.0';
    await w.pass();
    expect(Object.values(versions(w))).toEqual(['1.0.0', '1.0.0', '1.0.0', '1.0.0']);
    expect(w.store.releases.get('2.0.0')).toMatchObject({
      state: 'superseded',
      reason: 'the template went back to 1.0.0',
    });
    expect((await w.pass()).calls.writes).toBe(0);

    w.config.deployment.version = '2.0.0';
    await w.pass();
    expect(Object.values(versions(w))).toEqual(['2.0.0', '2.0.0', '2.0.0', '2.0.0']);
    expect(w.store.releases.get('2.0.0')!.state).toBe('complete');
    expect(releaseEvents(w).filter((a) => a === 'release-started')).toHaveLength(2);
  });

  it('supersedes a release in progress when the template goes back to the last good one', async () => {
    const w = world();
    await shipped(w);
    expect(w.store.releases.get('2.0.0')!.state).toBe('rolling-out');
    w.config.deployment.version = '1.0.0';
    await w.pass();
    expect(w.store.releases.get('2.0.0')!.state).toBe('superseded');
    expect(Object.values(versions(w))).toEqual(['1.0.0', '1.0.0', '1.0.0', '1.0.0']);
  });
});

describe('a fleet smaller than its waves', () => {
  it('skips the waves that would add nobody: one gate, then complete', async () => {
    const w = passWorld({
      deployment: { version: '1.0.0' },
      rollout: { waves: [1, '10%', '100%'], verify: 'trigger' },
    });
    w.store.rows = [w.row('1')];
    await shipped(w);
    w.prefect.finishRun(gateRuns(w)[0]!.id, 'COMPLETED');
    await w.pass();
    expect(w.store.releases.get('2.0.0')!.state).toBe('complete');
    expect(releaseEvents(w)).toEqual([
      'release-started',
      'release-wave-passed',
      'release-completed',
    ]);
  });
});

describe("waves: ['100%'], verify: none", () => {
  it('is one pass for the whole fleet, as before releases had waves', async () => {
    const w = world({ rollout: { waves: ['100%'], verify: 'none' } });
    await shipped(w);
    expect(Object.values(versions(w))).toEqual(['2.0.0', '2.0.0', '2.0.0', '2.0.0']);
    expect(w.store.releases.get('2.0.0')!.state).toBe('complete');
    expect(releaseEvents(w)).toEqual([
      'release-started',
      'release-wave-passed',
      'release-completed',
    ]);
    expect(gateRuns(w)).toEqual([]);
  });
});

describe('a process killed at any step of a release', () => {
  it('starts it, writes its first wave and triggers its run exactly once', async () => {
    const clean = world();
    await clean.pass();
    clean.config.deployment.version = '2.0.0';
    clean.crasher.restart();
    await clean.pass();
    const steps = clean.crasher.steps.length;
    for (let at = 1; at <= steps; at++) {
      const w = world();
      await w.pass();
      w.config.deployment.version = '2.0.0';
      w.crasher.restart(at);
      await w.pass().catch(() => undefined);
      w.crasher.restart();
      w.untilSettleable();
      await w.pass();
      await w.pass();
      const label = `killed at step ${at}`;
      expect(releaseEvents(w), label).toEqual(['release-started']);
      expect(gateRuns(w), label).toHaveLength(1);
      expect(w.store.releases.get('2.0.0')!.members, label).toEqual(['3']);
      expect(versions(w), label).toEqual({
        '1': '1.0.0',
        '2': '1.0.0',
        '3': '2.0.0',
        '4': '1.0.0',
      });
      w.prefect.finishRun(gateRuns(w)[0]!.id, 'COMPLETED');
      await w.pass();
      expect(releaseEvents(w), label).toEqual(['release-started', 'release-wave-passed']);
    }
  });
});
