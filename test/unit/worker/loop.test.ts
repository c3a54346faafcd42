import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PassOptions } from '../../../src/pass/context.js';
import { Worker, type WorkerDeps } from '../../../src/worker/loop.js';
import { freeLease, passResultOf } from '../../harness/plan-fixtures.js';
import { Metrics } from '../../../src/ops/metrics.js';
import type { PassResult } from '../../../src/pass/result.js';

// The worker's pacing after passes Prefect cut short, with the pass and the
// lock given to it: when does the next pass start?

const runPass = vi.fn<(options: PassOptions) => Promise<PassResult>>();

/** The worker's collaborators: the pass under test's control, a lock always free. */
function collaborators(): WorkerDeps {
  return {
    runPass,
    tryLock: () => Promise.resolve(freeLease()),
    countStatuses: () => Promise.resolve({}),
    metrics: new Metrics(),
    logger: pino({ level: 'silent' }),
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
  runPass.mockReset();
});
afterEach(() => vi.useRealTimers());

/** Runs the worker for `ms` of fake time; returns when each pass started. */
async function passStarts(
  outcomes: (string | null | Error)[],
  ms: number,
  during: (worker: Worker) => void = () => undefined,
): Promise<number[]> {
  const starts: number[] = [];
  runPass.mockImplementation(() => {
    starts.push(Date.now());
    const next = outcomes[starts.length - 1] ?? null;
    return next instanceof Error
      ? Promise.reject(next)
      : Promise.resolve(passResultOf({ aborted: next }));
  });
  const worker = new Worker(collaborators(), {
    leaderPollMs: 1_000,
    debounceMs: 0,
    heartbeatMs: 5_000,
  });
  void worker.start();
  during(worker);
  await vi.advanceTimersByTimeAsync(ms);
  await worker.stop(1_000);
  return starts;
}

const gaps = (starts: number[]): number[] => starts.slice(1).map((t, i) => t - starts[i]!);

describe('the worker after passes that Prefect cut short', () => {
  it('waits longer after each aborted pass in a row: 2 s, 4 s, 8 s (not 2 s every time)', async () => {
    const aborted = 'Prefect kept failing (5 changes in a row)';
    const starts = await passStarts([aborted, aborted, aborted, null], 30_000);
    expect(gaps(starts).slice(0, 3)).toEqual([2_000, 4_000, 8_000]);
  });

  it('backs off the same way after passes that threw (Prefect unreachable)', async () => {
    const down = new Error('Prefect GET /work_pools/{name} failed: ECONNREFUSED');
    const starts = await passStarts([down, down, down, null], 30_000);
    expect(gaps(starts).slice(0, 3)).toEqual([2_000, 4_000, 8_000]);
  });

  it('starts counting again after a pass that went through', async () => {
    const aborted = 'Prefect kept failing';
    const starts = await passStarts([aborted, aborted, null, aborted, aborted], 25_000, (w) => {
      // Pass 3 (t = 6 s) went through; the schedule asks for the next one at 20 s.
      setTimeout(() => w.requestFullPass(), 20_000);
    });
    expect(starts).toEqual([0, 2_000, 6_000, 20_000, 22_000]);
  });
});

describe('the worker after a pass that left intents too recent to settle', () => {
  it('comes back for their connectors (a targeted pass) once the first is old enough', async () => {
    const calls: { at: number; scope: string[] | undefined }[] = [];
    runPass.mockImplementation((options) => {
      calls.push({ at: Date.now(), scope: options.scope });
      const result = passResultOf();
      if (calls.length === 1)
        result.waiting = [
          { connectorId: '7', deploymentId: null, message: 'waiting', inMs: 5_000 },
          { connectorId: '8', deploymentId: 'd', message: 'waiting', inMs: 9_000 },
        ];
      return Promise.resolve(result);
    });
    const worker = new Worker(collaborators(), {
      leaderPollMs: 1_000,
      debounceMs: 0,
      heartbeatMs: 5_000,
    });
    void worker.start();
    await vi.advanceTimersByTimeAsync(20_000);
    await worker.stop(1_000);
    expect(calls.map((c) => c.scope)).toEqual([undefined, ['7', '8']]);
    // A little past the first one's time (timers may fire early; the database's clock decides).
    expect(calls[1]!.at).toBeGreaterThanOrEqual(5_000);
    expect(calls[1]!.at).toBeLessThan(6_000);
  });

  it('a waiting delete of a deployment without a connector brings a full pass', async () => {
    const calls: (string[] | undefined)[] = [];
    runPass.mockImplementation((options) => {
      calls.push(options.scope);
      const result = passResultOf();
      if (calls.length === 1)
        result.waiting = [
          { connectorId: null, deploymentId: 'd', message: 'waiting', inMs: 1_000 },
        ];
      return Promise.resolve(result);
    });
    const worker = new Worker(collaborators(), {
      leaderPollMs: 1_000,
      debounceMs: 0,
      heartbeatMs: 5_000,
    });
    void worker.start();
    await vi.advanceTimersByTimeAsync(5_000);
    await worker.stop(1_000);
    expect(calls).toEqual([undefined, undefined]);
  });
});

describe('connector_sync_connectors{status} after every pass', () => {
  it('is set after a pass that threw, one cut short and a targeted one, not only a full success', async () => {
    let counts: Record<string, number> = { synced: 3 };
    const deps = { ...collaborators(), countStatuses: () => Promise.resolve(counts) };
    const gauge = async (): Promise<Record<string, number>> =>
      Object.fromEntries(
        (await deps.metrics.connectors.get()).values.map((v) => [v.labels.status, v.value]),
      );
    const outcomes: (string | null | Error)[] = [new Error('ECONNREFUSED'), 'Prefect kept failing'];
    runPass.mockImplementation(() => {
      const next = outcomes.shift() ?? null;
      return next instanceof Error
        ? Promise.reject(next)
        : Promise.resolve(passResultOf({ aborted: next }));
    });
    const worker = new Worker(deps, { leaderPollMs: 1_000, debounceMs: 0, heartbeatMs: 5_000 });
    void worker.start();
    await vi.advanceTimersByTimeAsync(100); // the first pass threw
    expect(await gauge()).toEqual({ synced: 3 });
    counts = { synced: 2, failed: 1 };
    await vi.advanceTimersByTimeAsync(2_000); // the second was cut short
    expect(await gauge()).toEqual({ synced: 2, failed: 1 });
    counts = { synced: 1, invalid: 2 };
    worker.requestWakeup(['9']); // a targeted pass
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await gauge()).toEqual({ synced: 1, invalid: 2 });
    await worker.stop(1_000);
  });
});
