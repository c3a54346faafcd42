import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { failedEvent, heldEvent, recoveredEvent } from '../../../src/domain/connector-events.js';
import { updatedEvent, type RelatedContext, type StoredEvent } from '../../../src/domain/events.js';
import { planPass } from '../../../src/domain/plan.js';
import type { HeldConnector } from '../../../src/domain/types.js';
import { prefectEventOf } from '../../../src/publish/prefect-events.js';
import { statesAfterPass, type AfterPassInput } from '../../../src/domain/states-after-pass.js';
import { recordStates } from '../../../src/pass/record-states.js';
import { withStatus, type ConnectorState } from '../../../src/domain/connector-state.js';
import { FakeStore } from '../../harness/fake-store.js';
import { passWorld } from '../../harness/pass-world.js';
import {
  deploymentFor,
  FLOW_ID,
  invalidProblem,
  managedOnly,
  specFor,
  planInputOf,
  emptyPlan,
  perPassHold,
} from '../../harness/plan-fixtures.js';
import { DEFAULT_SECRET_KEYS } from '../../../src/domain/mask.js';

// The events about a connector rather than a deployment change: recovered
// (only out of failed, invalid or conflict), held (a delete the mass-delete
// guard held back), and the drift mark on an update (only when Prefect has
// the version of this very spec and the row is as last synced).

const NOW = new Date('2026-12-01T08:00:00Z');
const POOL_ID = '7a7a7a7a-0000-4000-8000-000000000009';
const context: RelatedContext = {
  flow: { id: FLOW_ID, name: 'run_connector_pipeline' },
  workPools: [{ id: POOL_ID, name: 'default' }],
};
const deployment = managedOnly('42', { id: 'dep-42', work_queue_id: 'wq-1' });
const subject = { deployment, context };
const relatedOfDeployment = [
  {
    'prefect.resource.id': 'prefect.deployment.dep-42',
    'prefect.resource.name': 'connector-42',
    'prefect.resource.role': 'deployment',
  },
  {
    'prefect.resource.id': `prefect.flow.${FLOW_ID}`,
    'prefect.resource.role': 'flow',
    'prefect.resource.name': 'run_connector_pipeline',
  },
  {
    'prefect.resource.id': 'prefect.work-queue.wq-1',
    'prefect.resource.role': 'work-queue',
    'prefect.resource.name': 'default',
  },
  {
    'prefect.resource.id': `prefect.work-pool.${POOL_ID}`,
    'prefect.resource.role': 'work-pool',
    'prefect.resource.name': 'default',
  },
];

describe('the events about a connector: resource the connector, its deployment related with role deployment', () => {
  it('recovered carries where it came from', () => {
    const event = recoveredEvent(
      { id: '42', name: 'Orders' },
      { status: 'conflict', message: 'a stranger holds the name' },
      subject,
    );
    expect(event).toEqual({
      event: 'connector-sync.connector.recovered',
      action: 'recovered',
      connector_id: '42',
      deployment_id: 'dep-42',
      resource: {
        'prefect.resource.id': 'connector-sync.connector.42',
        'prefect.resource.name': 'Orders',
      },
      related: relatedOfDeployment,
      payload: { from: 'conflict', was: 'a stranger holds the name' },
    });
  });

  it('held carries the message that says why and what waits with it', () => {
    const event = heldEvent(
      { connectorId: '42', connectorName: null, message: 'delete held back: 11 of 12' },
      subject,
    );
    expect(event).toMatchObject({
      event: 'connector-sync.connector.held',
      action: 'held',
      deployment_id: 'dep-42',
      resource: { 'prefect.resource.id': 'connector-sync.connector.42' },
      related: relatedOfDeployment,
      payload: { message: 'delete held back: 11 of 12' },
    });
    expect(event.resource).not.toHaveProperty('prefect.resource.name');
  });

  it('a failure with its deployment relates to it; without a deployment, to nothing', () => {
    expect(failedEvent(invalidProblem('42'), subject).related).toEqual(relatedOfDeployment);
    expect(failedEvent(invalidProblem('42'), subject).deployment_id).toBe('dep-42');
    const alone = recoveredEvent(
      { id: '42', name: null },
      { status: 'failed', message: null },
      { deployment: null, context },
    );
    expect(alone.related).toEqual([]);
    expect(alone.deployment_id).toBeNull();
  });
});

function afterPassInput(overrides: Partial<AfterPassInput> = {}): AfterPassInput {
  return {
    plan: emptyPlan(),
    applied: [],
    failures: [],
    states: new Map(),
    hashes: new Map(),
    liveRows: new Set(['42']),
    managed: [deployment],
    scope: null,
    deferred: new Set(),
    waiting: new Map(),
    configTags: ['team:data', 'managed-by:connector-sync'],
    backoff: { baseSeconds: 10, maxSeconds: 3600 },
    now: NOW,
    random: () => 0.5,
    ...overrides,
  };
}

const stateOf = (status: ConnectorState['status'], lastError: string | null = 'was wrong') =>
  new Map([['42', withStatus(undefined, '42', status, { lastError, deploymentId: 'dep-42' })]]);

describe('recovered: only out of a problem state (failed, invalid, conflict)', () => {
  it.each([
    ['failed', true],
    ['invalid', true],
    ['conflict', true],
    // A held connector waits for an operator; its release is the changes that follow.
    ['held', false],
    ['pending', false],
    ['synced', false],
    ['deleted', false],
  ] as const)('synced again after %s: recovered = %s', (status, recovers) => {
    const out = statesAfterPass(
      afterPassInput({ plan: emptyPlan({ unchanged: ['42'] }), states: stateOf(status) }),
    );
    expect(out.states.find((s) => s.connectorId === '42')?.status).toBe('synced');
    expect(out.recovered).toEqual(
      recovers ? [{ connectorId: '42', from: { status, message: 'was wrong' } }] : [],
    );
  });

  it('a confirmed change that synced it is a recovery too', () => {
    const update = {
      action: 'update' as const,
      connectorId: '42',
      connectorName: 'Connector 42',
      deployment,
      fields: { description: { from: 'a', to: 'b' } },
    };
    const out = statesAfterPass(
      afterPassInput({
        plan: emptyPlan({ changes: [update] }),
        applied: [{ change: update, result: deployment, eventId: 'e1' }],
        states: stateOf('failed', 'Prefect answered 503'),
      }),
    );
    expect(out.recovered).toEqual([
      { connectorId: '42', from: { status: 'failed', message: 'Prefect answered 503' } },
    ]);
  });

  it('still in a problem (the same or another one), or not judged this pass: no recovery', () => {
    const still = statesAfterPass(
      afterPassInput({
        plan: emptyPlan({ problems: [invalidProblem('42')] }),
        states: stateOf('failed'),
      }),
    );
    expect(still.recovered).toEqual([]);
    const unjudged = statesAfterPass(afterPassInput({ states: stateOf('invalid') }));
    expect(unjudged.recovered).toEqual([]);
  });
});

describe('held: one event when a connector is newly held back, or held for a new reason', () => {
  const held = (message: string): HeldConnector => ({
    connectorId: '42',
    connectorName: 'Connector 42',
    message,
    notCreated: null,
  });
  const planHolding = (message: string) =>
    emptyPlan({
      heldDeletes: perPassHold({
        deletes: [],
        connectors: [held(message)],
      }),
    });

  it.each([
    ['synced', null, 'held back: 11 deletes', true],
    ['failed', 'Prefect answered 503', 'held back: 11 deletes', true],
    ['held', 'held back: 11 deletes', 'held back: 11 deletes', false],
    ['held', 'held back: 11 deletes', 'held back: 14 deletes', true],
  ] as const)('before %s (%s), now held "%s": event = %s', (status, before, now, newly) => {
    const out = statesAfterPass(
      afterPassInput({ plan: planHolding(now), states: stateOf(status, before) }),
    );
    // A state as it was is not written again.
    const written = out.states.find((s) => s.connectorId === '42');
    expect(written === undefined).toBe(!newly);
    expect(written ?? stateOf(status, before).get('42')).toMatchObject({
      status: 'held',
      lastError: now,
    });
    expect(out.newlyHeld).toEqual(newly ? [held(now)] : []);
  });

  it('a row problem stands over the hold: not held, no held event', () => {
    const out = statesAfterPass(
      afterPassInput({
        plan: { ...planHolding('held back'), problems: [invalidProblem('42')] },
        states: stateOf('synced', null),
      }),
    );
    expect(out.newlyHeld).toEqual([]);
    expect(out.states.find((s) => s.connectorId === '42')?.status).toBe('invalid');
  });
});

describe('recordStates writes the recovered and held events with the pass and the connector deployment', () => {
  it('one recovered and one held event, each about its connector and related to its deployment', async () => {
    const store = new FakeStore({ now: () => NOW });
    const other = managedOnly('7', { id: 'dep-7', work_queue_id: null });
    const input = afterPassInput({
      plan: emptyPlan({
        unchanged: ['42'],
        heldDeletes: perPassHold({
          deletes: [],
          connectors: [
            { connectorId: '7', connectorName: 'Seven', message: 'held', notCreated: null },
          ],
        }),
      }),
      managed: [deployment, other],
      liveRows: new Set(['42', '7']),
      states: new Map([
        ['42', withStatus(undefined, '42', 'conflict', { lastError: 'taken' })],
        ['7', withStatus(undefined, '7', 'synced', { deploymentId: 'dep-7' })],
      ]),
    });
    let n = 0;
    const deps = {
      store,
      config: { masking: { keys: DEFAULT_SECRET_KEYS } },
      logger: pino({ level: 'silent' }),
      newId: () => `event-${++n}`,
    } as unknown as Parameters<typeof recordStates>[0];
    expect(await recordStates(deps, 'pass-1', input, context)).toBe(2);
    expect(
      store.events.map((e) => [e.id, e.action, e.connector_id, e.deployment_id, e.pass_id]),
    ).toEqual([
      ['event-1', 'recovered', '42', 'dep-42', 'pass-1'],
      ['event-2', 'held', '7', 'dep-7', 'pass-1'],
    ]);
    expect(store.events[0]!.related).toEqual(relatedOfDeployment);
    expect(store.events[0]!.payload).toEqual({ from: 'conflict', was: 'taken' });
    expect(store.events[1]!.related[0]).toMatchObject({
      'prefect.resource.id': 'prefect.deployment.dep-7',
      'prefect.resource.role': 'deployment',
    });
    expect(store.events.every((e) => e.occurred.getTime() === NOW.getTime())).toBe(true);
    expect(store.states.get('42')?.status).toBe('synced');
    expect(store.states.get('7')?.status).toBe('held');
  });
});

const planInput = planInputOf;

describe('drift: marked only when Prefect has this spec version and the row is as last synced', () => {
  const spec = specFor('1');
  it.each([
    // what was edited in Prefect, its version, row as synced, the change, drift?
    ['description', { description: 'edited' }, spec.version, true, 'update', true],
    ['description', { description: 'edited' }, 'an older version', true, 'update', false],
    ['description', { description: 'edited' }, spec.version, false, 'update', false],
    ['paused', { paused: true }, spec.version, true, 'resume', true],
    ['paused', { paused: true }, spec.version, false, 'resume', false],
    ['tags', { tags: ['by-hand'] as string[] }, 'an older version', false, 'update', false],
  ] as const)(
    '%s edited, version %s, row as synced %s: %s, drift %s',
    (_what, edit, version, asSynced, action, drift) => {
      const actual = deploymentFor(spec, { ...edit, version });
      const [change] = planPass(
        planInput({
          specs: [spec],
          managed: [actual],
          rowAsSynced: new Set(asSynced ? ['1'] : []),
        }),
      ).changes;
      expect(change?.action).toBe(action);
      if (drift) expect(change).toMatchObject({ cause: 'drift' });
      else expect(change).not.toHaveProperty('cause');
    },
  );

  it('the drift mark is what makes the update a connector-sync event for Prefect', () => {
    const fields = { description: { from: 'edited', to: 'Connector 1' } };
    const marked = updatedEvent(deployment, fields, { id: '42', name: 'Orders' }, context, true);
    const plain = updatedEvent(deployment, fields, { id: '42', name: 'Orders' }, context);
    expect(marked.payload).toMatchObject({ drift: true });
    expect(plain.payload).not.toHaveProperty('drift');
    // As the log stores it (resources are plain JSON objects there).
    const stored = (e: typeof marked) =>
      ({ ...e, id: 'e', occurred: NOW, pass_id: 'p' }) as unknown as StoredEvent;
    expect(prefectEventOf(stored(marked))?.event).toBe('connector-sync.deployment.drift-reverted');
    expect(prefectEventOf(stored(plain))).toBeNull();
  });
});

describe('drift across passes (in-memory Prefect and store)', () => {
  it('an edit in Prefect is reverted with a drift mark; a row change is not a drift; nor an edit while the connector was failing', async () => {
    const world = passWorld();
    world.store.rows = [world.row('1')];
    await world.pass();
    const edit = (patch: Record<string, unknown>) => {
      const [d] = world.prefect.deployments.values();
      Object.assign(d!, patch);
    };
    const updates = () => world.store.events.filter((e) => e.action === 'updated');
    const lastUpdate = () => updates().at(-1);

    edit({ description: 'edited by hand' });
    await world.pass();
    expect(updates()).toHaveLength(1);
    expect(lastUpdate()).toMatchObject({ action: 'updated', payload: { drift: true } });

    world.store.rows = [world.row('1', { schedule: '0 2 * * *' })];
    await world.pass();
    expect(updates()).toHaveLength(2);
    expect(lastUpdate()!.payload).not.toHaveProperty('drift');

    // The row changes and Prefect is edited too: the row's change is ours, so no drift.
    world.store.rows = [world.row('1', { schedule: '0 3 * * *' })];
    edit({ description: 'edited again' });
    await world.pass();
    expect(updates()).toHaveLength(3);
    expect(lastUpdate()!.payload).not.toHaveProperty('drift');
    expect(lastUpdate()!.payload.updated_fields).toEqual(
      expect.arrayContaining(['description', 'schedules']),
    );

    // Not synced (it failed last time): the state does not vouch for the row, no drift.
    world.store.states.set('1', { ...world.store.states.get('1')!, status: 'failed' });
    edit({ description: 'edited once more' });
    await world.pass();
    expect(updates()).toHaveLength(4);
    expect(lastUpdate()!.payload).not.toHaveProperty('drift');
    expect(world.store.events.at(-1)).toMatchObject({
      action: 'recovered',
      payload: { from: 'failed' },
    });
  });
});
