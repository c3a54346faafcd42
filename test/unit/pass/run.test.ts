import { describe, expect, it } from 'vitest';
import { Crash } from '../../harness/crash.js';
import { passWorld, type PassWorld } from '../../harness/pass-world.js';
import { PrefectError } from '../../../src/prefect/errors.js';

// The exactly-once core, against in-memory Prefect and store: an intent
// before every call, a confirm after it, a settle by reading Prefect when the
// outcome is unknown — and a process death at every step of a pass. These
// complement the real-services tests (crash, kill-suite, late-write), which
// prove the same against Postgres and Prefect 3.9.1.

/** Steps a pass took, without the read-only ones: what was written where, in order. */
function writes(world: PassWorld): string[] {
  return world.crasher.steps.filter((s) =>
    /recordIntent|confirmIntent|dropIntent|createDeployment|updateDeployment|deleteDeployment|appendEvents/.test(
      s,
    ),
  );
}

describe('a change: intent, call, confirm', () => {
  it('records the intent before the create, confirms it after: one event, no intent left', async () => {
    const world = passWorld();
    world.store.rows = [world.row('1')];
    const result = await world.pass();
    expect(result.applied.map((a) => a.change.action)).toEqual(['create']);
    expect(writes(world)).toEqual([
      'store recordIntent create 1',
      'prefect createDeployment connector-1',
      'prefect createDeployment connector-1 landed',
      'store confirmIntent created 1',
    ]);
    expect(world.store.intents.size).toBe(0);
    expect(world.store.events.map((e) => [e.action, e.connector_id])).toEqual([['created', '1']]);
    expect(world.store.states.get('1')?.status).toBe('synced');

    const again = await world.pass();
    expect(again.calls.writes).toBe(0);
    expect(world.store.events).toHaveLength(1);
  });

  it('a definite refusal drops the intent: no event for what did not happen', async () => {
    const world = passWorld();
    world.store.rows = [world.row('1')];
    world.prefect.fail({
      method: 'createDeployment',
      kind: 'refuse',
      error: () => new PrefectError('Prefect answered 409', 'conflict', 409, null),
    });
    const result = await world.pass();
    expect(result.failures.map((f) => f.status)).toEqual(['failed']);
    expect(world.store.intents.size).toBe(0);
    expect(world.store.events.map((e) => e.action)).toEqual(['failed']);
    expect(world.prefect.deployments.size).toBe(0);
  });

  it('an unknown outcome keeps the intent; the connector waits, then is settled by reading Prefect', async () => {
    const world = passWorld();
    world.store.rows = [world.row('1')];
    world.prefect.fail({ method: 'createDeployment', kind: 'lost' }); // applied, answer lost
    const first = await world.pass();
    expect(first.failures).toHaveLength(1);
    expect(world.store.intents.size).toBe(1);
    expect(world.prefect.deployments.size).toBe(1);

    const early = await world.pass();
    expect(early.waiting.map((w) => w.connectorId)).toEqual(['1']);
    expect(early.calls.writes).toBe(0); // not created again while its call may still land
    expect(world.store.states.get('1')?.status).toBe('pending');

    world.untilSettleable();
    const settled = await world.pass();
    expect(settled.settled).toEqual({ tookEffect: 1, didNot: 0 });
    expect(settled.calls.writes).toBe(0);
    expect(world.store.events.filter((e) => e.action === 'created')).toHaveLength(1);
    expect(world.store.states.get('1')?.status).toBe('synced');
  });

  it('a write that lands after its sender gave up is settled as taken effect, never as a second change', async () => {
    const world = passWorld();
    world.store.rows = [world.row('1')];
    await world.pass();
    world.store.rows = [world.row('1', { schedule: '0 2 * * *' })];
    world.prefect.fail({ method: 'updateDeployment', kind: 'late' });
    await world.pass();
    expect(world.store.intents.size).toBe(1);
    const waiting = await world.pass();
    expect(waiting.calls.writes).toBe(0);
    expect(world.prefect.releaseLate()).toBe(1); // it lands now
    world.untilSettleable();
    const settled = await world.pass();
    expect(settled.settled.tookEffect).toBe(1);
    expect(settled.calls.writes).toBe(0);
    const updated = world.store.events.filter((e) => e.action === 'updated');
    expect(updated).toHaveLength(1);
    expect(world.prefect.applied.filter((a) => a.method === 'updateDeployment')).toHaveLength(1);
  });
});

describe('a process death at every step of a pass', () => {
  /**
   * A world with every kind of change to make: a create, an update, a pause,
   * a delete, and a rename (a delete then a create of one connector).
   */
  async function busyWorld(): Promise<PassWorld> {
    const world = passWorld({ 'deployment.nameTemplate': 'c-{id}' });
    world.store.rows = ['1', '2', '3', '4', '5'].map((id) => world.row(id));
    await world.pass();
    return world;
  }

  function nextRows(world: PassWorld): void {
    world.store.rows = [
      world.row('1', { schedule: '0 3 * * *' }), // update
      world.row('2', { isActive: false }), // pause
      // 3: deleted
      world.row('4'),
      world.row('5'),
      world.row('6'), // create
    ];
  }

  it('kills the pass at each of its steps; the next passes converge with one event per change that took effect', async () => {
    // One clean run to count the steps of the pass to be broken.
    const probe = await busyWorld();
    nextRows(probe);
    probe.crasher.restart();
    await probe.pass();
    const steps = probe.crasher.steps.length;
    expect(steps).toBeGreaterThan(20);

    for (let at = 1; at <= steps; at++) {
      const world = await busyWorld();
      nextRows(world);
      world.crasher.restart(at);
      await world.pass().catch(() => undefined); // a pass that dies; what it wrote stays
      expect(world.crasher.crashed, `crash at step ${at}`).toBeInstanceOf(Crash);
      world.crasher.restart();
      world.untilSettleable();
      await world.pass();
      const quiet = await world.pass();
      const where = `crash at step ${at} (${world.crasher.steps.length} steps after)`;
      expect(quiet.calls.writes, where).toBe(0);
      expect(world.store.intents.size, where).toBe(0);
      expectOneEventPerWrite(world, where);
      expect([...world.prefect.deployments.values()].map((d) => d.name).sort(), where).toEqual([
        'c-1',
        'c-2',
        'c-4',
        'c-5',
        'c-6',
      ]);
      expect(
        [...world.store.states.values()].map((s) => `${s.connectorId}:${s.status}`).sort(),
        where,
      ).toEqual(['1:synced', '2:synced', '3:deleted', '4:synced', '5:synced', '6:synced']);
    }
  });

  it('a rename killed at each step never leaves a connector with two running deployments', async () => {
    const probe = passWorld();
    probe.store.rows = ['1', '2'].map((id) => probe.row(id));
    await probe.pass();
    const renamed = passWorld({ 'deployment.nameTemplate': 'cs-{id}' });
    const steps = await countSteps(probe, renamed);

    for (let at = 1; at <= steps; at++) {
      const before = passWorld();
      before.store.rows = ['1', '2'].map((id) => before.row(id));
      await before.pass();
      const after = passWorld({ 'deployment.nameTemplate': 'cs-{id}' });
      share(before, after);
      after.crasher.restart(at);
      await after.pass().catch(() => undefined);
      expect(after.crasher.crashed, `crash at step ${at}`).toBeInstanceOf(Crash);
      expect(twiceLive(after), `crash at step ${at}`).toEqual([]);
      after.crasher.restart();
      after.untilSettleable();
      await after.pass();
      expect([...after.prefect.deployments.values()].map((d) => d.name).sort()).toEqual([
        'cs-1',
        'cs-2',
      ]);
      expectOneEventPerWrite(after, `crash at step ${at}`);
    }
  });
});

/** Our log against what Prefect applied: per deployment, as many events of each kind as writes. */
function expectOneEventPerWrite(world: PassWorld, where: string): void {
  const kind = {
    createDeployment: 'created',
    updateDeployment: 'updated',
    deleteDeployment: 'deleted',
  };
  const fromPrefect = world.prefect.applied.map(
    (a) => `${kind[a.method as keyof typeof kind]} ${a.deploymentId}`,
  );
  const fromLog = world.store.events
    .filter((e) => e.action !== 'failed')
    .map(
      (e) =>
        `${e.action === 'paused' || e.action === 'resumed' ? 'updated' : e.action} ${e.deployment_id}`,
    );
  expect(fromLog.sort(), where).toEqual(fromPrefect.sort());
}

/** Connectors (by tag) with more than one unpaused deployment. */
function twiceLive(world: PassWorld): string[] {
  const live = new Map<string, string[]>();
  for (const d of world.prefect.deployments.values()) {
    if (d.paused) continue;
    const tag = d.tags.find((t) => t.startsWith('connector-'))!;
    live.set(tag, [...(live.get(tag) ?? []), d.name]);
  }
  return [...live].filter(([, names]) => names.length > 1).map(([tag]) => tag);
}

/** Gives `to` the same Prefect and store as `from` (the same services, another configuration). */
function share(from: PassWorld, to: PassWorld): void {
  for (const [id, d] of from.prefect.deployments) to.prefect.deployments.set(id, d);
  for (const [name, id] of from.prefect.flows) to.prefect.flows.set(name, id);
  to.prefect.workPools.clear();
  for (const [name, pool] of from.prefect.workPools) to.prefect.workPools.set(name, pool);
  to.prefect.applied.push(...from.prefect.applied);
  to.store.rows = from.store.rows;
  for (const [id, s] of from.store.states) to.store.states.set(id, s);
  to.store.events.push(...from.store.events);
}

async function countSteps(before: PassWorld, after: PassWorld): Promise<number> {
  share(before, after);
  after.crasher.restart();
  await after.pass();
  return after.crasher.steps.length;
}
