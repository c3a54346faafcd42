import { describe, expect, it } from 'vitest';
import { COME_BACK_MARGIN_MS, nextStep } from '../../../src/worker/next-step.js';
import { passResultOf } from '../../harness/plan-fixtures.js';
import { LeadershipLostError } from '../../../src/domain/errors.js';
import { PrefectError } from '../../../src/prefect/errors.js';

// What follows a pass, from how it ended: one pure decision (next-step.ts).

const result = passResultOf;

const context = { failures: 0, stopping: false, scope: undefined };

describe('nextStep', () => {
  it('a pass that ran to its end: success, the failure count starts again, no pause', () => {
    const next = nextStep({ result: result() }, { ...context, failures: 3 });
    expect(next).toMatchObject({
      verdict: 'ok',
      succeeded: true,
      failures: 0,
      retryFullInMs: null,
    });
    expect(next.log).toBeNull();
  });

  it('problems are still a pass that ran to its end', () => {
    const problem = {
      connectorId: '1',
      connectorName: null,
      status: 'invalid' as const,
      message: 'x',
      retryable: false,
    };
    const next = nextStep({ result: result({ failures: [problem] }) }, context);
    expect(next).toMatchObject({ verdict: 'problems', succeeded: true });
  });

  it('a pass cut short: the next full pass waits 2 s, 4 s, 8 s … as failures add up', () => {
    const aborted = result({ aborted: 'Prefect kept failing' });
    expect(nextStep({ result: aborted }, context)).toMatchObject({
      verdict: 'aborted',
      failures: 1,
      retryFullInMs: 2_000,
    });
    expect(nextStep({ result: aborted }, { ...context, failures: 2 }).retryFullInMs).toBe(8_000);
    expect(nextStep({ result: aborted }, { ...context, failures: 2 }).log).toMatchObject({
      level: 'warn',
      msg: 'pass aborted',
    });
  });

  it('a pass cut short by the shutdown is no failure', () => {
    const next = nextStep(
      { result: result({ aborted: 'shutting down' }) },
      { ...context, stopping: true, failures: 1 },
    );
    expect(next).toMatchObject({ verdict: 'aborted', failures: 1, retryFullInMs: null, log: null });
  });

  it("a pass that threw: a growing pause, and a targeted pass's connectors asked for again", () => {
    const next = nextStep(
      { error: new Error('ECONNREFUSED') },
      { ...context, failures: 1, scope: ['4', '5'] },
    );
    expect(next).toMatchObject({
      verdict: 'error',
      succeeded: false,
      failures: 2,
      retryFullInMs: 4_000,
      requeue: ['4', '5'],
    });
    expect(next.log).toMatchObject({ level: 'error', msg: 'pass failed' });
  });

  it('a failure episode: said once (error, in words), "again" after, and the recovery once', () => {
    const down = new PrefectError(
      'PREFECT_API_URL http://p:1/api: GET /x failed: connection refused (ECONNREFUSED)',
      'network',
      null,
      null,
    );
    const first = nextStep({ error: down }, context);
    expect(first.log).toMatchObject({
      level: 'error',
      fields: { error: down.message, class: 'unreachable', failures: 1 },
    });
    expect(first.log!.fields).not.toHaveProperty('err');
    expect(first.episode).toEqual({ text: down.message, prefect: true });
    const second = nextStep({ error: down }, { ...context, failures: 1, episode: first.episode });
    expect(second.log).toMatchObject({
      level: 'info',
      msg: 'pass failed',
      fields: { again: true },
    });
    expect(second.log!.fields).not.toHaveProperty('error');
    // Another failure is news again.
    const other = new Error('relation "x" does not exist');
    const third = nextStep({ error: other }, { ...context, failures: 2, episode: second.episode });
    expect(third.log).toMatchObject({ level: 'error', fields: { error: other.message } });
    // A bug keeps its stack.
    expect(third.log!.fields).toHaveProperty('err', other);
    expect(third.episode).toEqual({ text: other.message, prefect: false });
    const back = nextStep(
      { result: result() },
      { ...context, failures: 3, episode: third.episode },
    );
    expect(back.log).toMatchObject({
      level: 'info',
      msg: 'passes get through again',
      fields: { failedPassesBefore: 3, failure: other.message },
    });
    expect(back.episode).toBeNull();
  });

  it('a lost lock: follow, no pause, nothing requeued, the failure count stands', () => {
    const next = nextStep(
      { error: new LeadershipLostError('connection closed') },
      { ...context, failures: 1, scope: ['4'] },
    );
    expect(next).toMatchObject({
      verdict: 'error',
      lostLeadership: true,
      failures: 1,
      retryFullInMs: null,
      requeue: [],
    });
  });

  it('comes back for connectors whose intents were too young, a little after the first may settle', () => {
    const waiting = [
      { connectorId: '7', deploymentId: null, message: 'w', inMs: 5_000 },
      { connectorId: '8', deploymentId: 'd', message: 'w', inMs: 9_000 },
    ];
    expect(nextStep({ result: result({ waiting }) }, context).comeBack).toEqual({
      inMs: 5_000 + COME_BACK_MARGIN_MS,
      connectors: ['7', '8'],
      full: false,
    });
    const orphan = [{ connectorId: null, deploymentId: 'd', message: 'w', inMs: 1_000 }];
    expect(nextStep({ result: result({ waiting: orphan }) }, context).comeBack?.full).toBe(true);
  });

  it('comes back for a full pass while a release moves: at once after a wave passed, else after checkEvery', () => {
    expect(nextStep({ result: result({ releaseComeBackInMs: 0 }) }, context).comeBack).toEqual({
      inMs: 0,
      connectors: [],
      full: true,
    });
    const waiting = [{ connectorId: '7', deploymentId: null, message: 'w', inMs: 5_000 }];
    expect(
      nextStep({ result: result({ waiting, releaseComeBackInMs: 15_000 }) }, context).comeBack,
    ).toEqual({ inMs: 5_000 + COME_BACK_MARGIN_MS, connectors: ['7'], full: true });
    expect(nextStep({ result: result({}) }, context).comeBack).toBeNull();
  });
});
