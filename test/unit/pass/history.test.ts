import pino from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { SHUTTING_DOWN } from '../../../src/pass/apply.js';
import type { PassDeps, PassOptions } from '../../../src/pass/context.js';
import { runRecordedPass } from '../../../src/pass/history.js';
import { unavailable } from '../../harness/fake-prefect.js';
import { passWorld, type PassWorld } from '../../harness/pass-world.js';
import { LeadershipLostError } from '../../../src/domain/errors.js';

// A real pass leaves one row of history however it ends, and an event for
// ops only when it is news: it failed, or Prefect cut it short. A lost lock
// (another replica carries on) and the worker's own shutdown are not news;
// a dry run writes nothing at all.

const PASS_ID = '0190cccc-0000-7000-8000-000000000001';

/** The world's fakes as a pass's deps, with a clock that moves 25 ms at every reading. */
function depsOf(world: PassWorld, lines: Record<string, unknown>[] = []): PassDeps {
  return {
    prefect: world.prefect,
    store: world.store,
    config: world.config,
    logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) }),
    now: () => {
      world.clock.advance(25);
      return world.clock.now();
    },
    newId: () => uuidv7(),
    random: () => 0.5,
  };
}

function run(
  world: PassWorld,
  options: Partial<PassOptions> = {},
  lines?: Record<string, unknown>[],
) {
  return runRecordedPass(depsOf(world, lines), {
    dryRun: false,
    allowMassDelete: false,
    passId: PASS_ID,
    ...options,
  });
}

const passEvents = (world: PassWorld) =>
  world.store.events.filter((e) => e.action === 'pass-failed' || e.action === 'pass-aborted');

describe('runRecordedPass', () => {
  it('a pass that went well: one history row with its changes and calls, and no pass event', async () => {
    const world = passWorld();
    world.store.rows = [world.row('1'), world.row('2')];
    const result = await run(world);
    expect(world.store.passes).toHaveLength(1);
    const [pass] = world.store.passes;
    expect(pass).toMatchObject({
      id: PASS_ID,
      kind: 'full',
      result: 'ok',
      changes: { create: 2 },
      problems: 0,
      events: result.events,
      calls: { reads: result.calls.reads, writes: result.calls.writes }, // the flow and two creates
      error: null,
    });
    expect(result.calls.writes).toBe(3);
    expect(pass!.durationMs).toBe(pass!.finishedAt.getTime() - pass!.startedAt.getTime());
    expect(pass!.durationMs).toBeGreaterThan(0);
    expect(passEvents(world)).toEqual([]);
    expect(world.store.events.map((e) => e.action)).toEqual(['created', 'created']);
  });

  it('a targeted pass is recorded as one, with its problems counted', async () => {
    const world = passWorld();
    world.store.rows = [world.row('1', { timezone: 'Mars/Olympus' }), world.row('2')];
    await run(world, { scope: ['1'] });
    expect(world.store.passes[0]).toMatchObject({
      kind: 'targeted',
      result: 'problems',
      problems: 1,
    });
    expect(passEvents(world)).toEqual([]);
  });

  it('a pass without an id of its own gets a new one', async () => {
    const world = passWorld();
    await run(world, { passId: undefined });
    expect(world.store.passes[0]!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(world.store.passes[0]!.id).not.toBe(PASS_ID);
  });

  it('a lost lock: the error goes on, the pass is recorded aborted, and no event (a handover, not news)', async () => {
    const world = passWorld();
    world.store.rows = [world.row('1')];
    const lost = new LeadershipLostError('the lock connection closed');
    await expect(run(world, { guard: () => Promise.reject(lost) })).rejects.toBe(lost);
    expect(world.store.passes).toHaveLength(1);
    expect(world.store.passes[0]).toMatchObject({
      id: PASS_ID,
      result: 'aborted',
      error: 'lost the reconcile lock: the lock connection closed',
      changes: {},
      events: 0,
    });
    expect(world.store.events).toEqual([]);
  });

  it('any other error: the error goes on, the pass is recorded as an error, and a pass-failed event tells ops', async () => {
    const world = passWorld();
    world.store.rows = [world.row('1')];
    const broken = new Error('Postgres went away');
    await expect(run(world, { guard: () => Promise.reject(broken) })).rejects.toBe(broken);
    const [pass] = world.store.passes;
    expect(pass).toMatchObject({ result: 'error', error: 'Postgres went away' });
    expect(pass!.calls.reads).toBeGreaterThan(0); // the pass listed Prefect before it failed
    expect(passEvents(world)).toHaveLength(1);
    const [event] = passEvents(world);
    expect(event).toMatchObject({
      event: 'connector-sync.pass.failed',
      action: 'pass-failed',
      connector_id: null,
      deployment_id: null,
      pass_id: PASS_ID,
      resource: {
        'prefect.resource.id': `connector-sync.pass.${PASS_ID}`,
        'prefect.resource.name': 'full pass',
      },
      related: [],
      payload: { kind: 'full', error: 'Postgres went away', duration_ms: pass!.durationMs },
    });
    expect(event!.occurred.getTime()).toBe(pass!.finishedAt.getTime());
    expect(event!.id).not.toBe(PASS_ID);
  });

  it('Prefect kept failing: the pass is aborted, recorded so, and a pass-aborted event says why', async () => {
    const world = passWorld();
    world.store.rows = ['1', '2', '3', '4', '5', '6'].map((id) => world.row(id));
    world.prefect.fail({
      method: 'createDeployment',
      kind: 'refuse',
      error: unavailable,
      times: 6,
    });
    const result = await run(world);
    expect(result.aborted).toMatch(/^Prefect kept failing/);
    expect(world.store.passes[0]).toMatchObject({ result: 'aborted', error: result.aborted });
    expect(passEvents(world).map((e) => [e.event, e.payload.error])).toEqual([
      ['connector-sync.pass.aborted', result.aborted],
    ]);
  });

  it("cut short by the worker's own shutdown: recorded aborted, but no event", async () => {
    const world = passWorld();
    world.store.rows = [world.row('1')];
    const result = await run(world, { shouldStop: () => true });
    expect(result.aborted).toBe(SHUTTING_DOWN);
    expect(world.store.passes[0]).toMatchObject({ result: 'aborted', error: SHUTTING_DOWN });
    expect(passEvents(world)).toEqual([]);
  });

  it('a dry run records nothing: no history, no event, no state', async () => {
    const world = passWorld();
    world.store.rows = [world.row('1')];
    const result = await run(world, { dryRun: true });
    expect(result.plan.changes.map((c) => c.action)).toEqual(['create']);
    expect(world.store.passes).toEqual([]);
    expect(world.store.events).toEqual([]);
    expect(world.store.states.size).toBe(0);
  });

  it('a history that cannot be written is logged, and fails neither the pass nor hides its error', async () => {
    const world = passWorld();
    world.store.rows = [world.row('1')];
    world.store.recordPass = () => Promise.reject(new Error('passes table missing'));
    const lines: Record<string, unknown>[] = [];
    const result = await run(world, {}, lines);
    expect(result.applied).toHaveLength(1);
    const broken = new Error('boom');
    await expect(run(world, { guard: () => Promise.reject(broken) }, lines)).rejects.toBe(broken);
    const warnings = lines.filter((l) => l.msg === 'could not record the pass in its history');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ pass: PASS_ID });
    expect(passEvents(world)).toEqual([]); // the event goes only with its history row
  });
});
