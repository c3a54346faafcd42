import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SECRET_KEYS, maskerOf } from '../../../src/domain/mask.js';
import { UnavailableError, LeadershipLostError } from '../../../src/domain/errors.js';
import { SHUTTING_DOWN } from '../../../src/pass/apply.js';
import type { PassOptions } from '../../../src/pass/context.js';
import { resultFor, syncOutcomeOf } from '../../../src/render/sync.js';
import { Worker } from '../../../src/worker/loop.js';
import { Metrics } from '../../../src/ops/metrics.js';
import { outcomesOf, type SyncRequests } from '../../../src/worker/sync-requests.js';
import {
  freeLease,
  emptyPlan,
  invalidProblem,
  managedOnly,
  passResultOf,
  specFor,
} from '../../harness/plan-fixtures.js';
import type { SyncOutcome, SyncRequest } from '../../../src/domain/sync-request.js';
import type { PassResult } from '../../../src/pass/result.js';

// `sync` / `retry` as the leader serves them: open requests first, in one
// targeted pass that holds nothing back, each told how its connectors ended.

const MASKER = maskerOf(DEFAULT_SECRET_KEYS);

const passResult = (overrides: Partial<PassResult> = {}): PassResult =>
  passResultOf({ passId: 'p1', ...overrides });

const request = (id: string, ...connectorIds: string[]): SyncRequest => ({
  id,
  connectorIds,
  requestedBy: 'alice',
  approvedDeletes: null,
});

/** Requests in memory: what is open, and what each was told. */
class Requests implements SyncRequests {
  told = new Map<string, SyncOutcome>();
  masker = MASKER;
  constructor(public waiting: SyncRequest[]) {}
  open(): Promise<SyncRequest[]> {
    return Promise.resolve(this.waiting.filter((r) => !this.told.has(r.id)));
  }
  finish(_pass: string | null, outcomes: { id: string; outcome: SyncOutcome }[]): Promise<void> {
    for (const { id, outcome } of outcomes) this.told.set(id, outcome);
    return Promise.resolve();
  }
}

describe('the worker serving sync requests', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  function workerWith(requests: Requests, runPass: (o: PassOptions) => Promise<PassResult>) {
    return new Worker(
      {
        runPass,
        tryLock: () => Promise.resolve(freeLease()),
        countStatuses: () => Promise.resolve({}),
        syncRequests: requests,
        metrics: new Metrics(),
        logger: pino({ level: 'silent' }),
      },
      { leaderPollMs: 1_000, debounceMs: 0, heartbeatMs: 5_000 },
    );
  }

  it('serves open requests before a new leader’s full pass, in one pass that lifts backoff', async () => {
    const requests = new Requests([request('1', '7'), request('2', '7', '8')]);
    const passes: PassOptions[] = [];
    const worker = workerWith(requests, (options) => {
      passes.push(options);
      const failures = options.scope ? [{ ...invalidProblem('8'), status: 'failed' as const }] : [];
      return Promise.resolve(passResult({ failures }));
    });
    void worker.start();
    await vi.advanceTimersByTimeAsync(100);
    await worker.stop(1_000);
    expect(passes.map((p) => p.scope)).toEqual([['7', '8'], undefined]);
    expect(passes[0]).toMatchObject({ retryDeferred: true, honourBackoff: true, dryRun: false });
    expect(passes[1]!.retryDeferred).toBeUndefined();
    expect(requests.told.get('1')!.exitCode).toBe(0);
    expect(requests.told.get('2')!.exitCode).toBe(1); // 8 failed
  });

  it('serves a request that arrives while the next full pass is held back after failures', async () => {
    const requests = new Requests([]);
    const passes: { at: number; scope: string[] | undefined }[] = [];
    const worker = workerWith(requests, (options) => {
      passes.push({ at: Date.now(), scope: options.scope });
      return Promise.resolve(
        passResult({ aborted: options.scope ? null : 'Prefect kept failing' }),
      );
    });
    void worker.start();
    await vi.advanceTimersByTimeAsync(500); // the full pass was cut short: next one in 2 s
    requests.waiting.push(request('3', '9'));
    worker.requestSync();
    await vi.advanceTimersByTimeAsync(10);
    await worker.stop(1_000);
    expect(passes).toEqual([
      { at: 0, scope: undefined },
      { at: 500, scope: ['9'] },
    ]);
    expect(requests.told.get('3')!.exitCode).toBe(0);
  });
});

describe('the worker serving approvals (approve-deletes)', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('serves approvals first in a full pass of their own, then sync requests in a targeted one', async () => {
    const approval: SyncRequest = {
      id: '5',
      connectorIds: [],
      requestedBy: 'bob',
      approvedDeletes: ['dep-a', 'dep-b'],
    };
    const requests = new Requests([request('4', '7'), approval]);
    const passes: PassOptions[] = [];
    const worker = new Worker(
      {
        runPass: (options) => {
          passes.push(options);
          return Promise.resolve(passResult());
        },
        tryLock: () => Promise.resolve(freeLease()),
        countStatuses: () => Promise.resolve({}),
        syncRequests: requests,
        metrics: new Metrics(),
        logger: pino({ level: 'silent' }),
      },
      { leaderPollMs: 1_000, debounceMs: 0, heartbeatMs: 5_000 },
    );
    void worker.start();
    await vi.advanceTimersByTimeAsync(100);
    await worker.stop(1_000);
    expect(passes[0]).toMatchObject({ approvedDeletes: new Set(['dep-a', 'dep-b']) });
    expect(passes[0]!.scope).toBeUndefined();
    expect(passes[1]).toMatchObject({ scope: ['7'], retryDeferred: true });
    expect(passes[1]!.approvedDeletes).toBeUndefined();
    expect(requests.told.get('5')!.json).toMatchObject({ approved_deletes: ['dep-a', 'dep-b'] });
    expect(requests.told.get('4')!.exitCode).toBe(0);
  });
});

describe('outcomesOf', () => {
  const open = [request('1', '7'), request('2', '8')];

  it('leaves the requests open when the pass lost the lock or was stopped by shutdown', () => {
    expect(
      outcomesOf({ error: new LeadershipLostError('connection closed') }, open, MASKER),
    ).toBeNull();
    expect(outcomesOf({ result: passResult({ aborted: SHUTTING_DOWN }) }, open, MASKER)).toBeNull();
  });

  it('tells every request of a pass that failed its one line and exit code', () => {
    const told = outcomesOf(
      { error: new UnavailableError('Postgres is unreachable') },
      open,
      MASKER,
    );
    expect(told!.passId).toBeNull();
    expect(told!.outcomes.map((o) => o.outcome)).toEqual([
      {
        exitCode: 69,
        text: 'The pass failed: Postgres is unreachable',
        json: { error: 'Postgres is unreachable' },
      },
      {
        exitCode: 69,
        text: 'The pass failed: Postgres is unreachable',
        json: { error: 'Postgres is unreachable' },
      },
    ]);
  });

  it('tells each request about its own connectors: a pass Prefect cut short is exit 69', () => {
    const result = passResult({
      plan: emptyPlan({ problems: [invalidProblem('8')] }),
    });
    const told = outcomesOf({ result }, open, MASKER)!;
    expect(told.passId).toBe('p1');
    expect(told.outcomes.map((o) => o.outcome.exitCode)).toEqual([0, 1]);
    const cut = outcomesOf(
      { result: passResult({ aborted: 'Prefect kept failing' }) },
      open,
      MASKER,
    )!;
    expect(cut.outcomes.map((o) => o.outcome.exitCode)).toEqual([69, 69]);
  });
});

describe('resultFor and syncOutcomeOf', () => {
  it('keep the changes, problems and waits of the requested connectors only', () => {
    const created = { action: 'create' as const, connectorId: '7', spec: specFor('7') };
    const other = { action: 'create' as const, connectorId: '9', spec: specFor('9') };
    const result = passResult({
      plan: emptyPlan({
        changes: [created, other],
        problems: [invalidProblem('9')],
        unchanged: ['7', '9'],
      }),
      applied: [
        { change: created, result: managedOnly('7'), eventId: 'e7' },
        { change: other, result: managedOnly('9'), eventId: 'e9' },
      ],
      waiting: [{ connectorId: '9', deploymentId: null, message: 'waiting', inMs: 1 }],
    });
    const mine = resultFor(result, ['7']);
    expect(mine.plan.changes).toEqual([created]);
    expect(mine.plan.problems).toEqual([]);
    expect(mine.plan.unchanged).toEqual(['7']);
    expect(mine.applied.map((a) => a.eventId)).toEqual(['e7']);
    expect(mine.waiting).toEqual([]);
    const outcome = syncOutcomeOf(result, ['7'], MASKER);
    expect(outcome.exitCode).toBe(0);
    expect(outcome.json).toMatchObject({ connectors: ['7'], pass_id: 'p1' });
    expect(outcome.text).toContain('connector-7');
    expect(outcome.text).not.toContain('connector-9');
    expect(syncOutcomeOf(result, ['9'], MASKER).exitCode).toBe(1);
  });
});
