import type { Releasable } from '../../../src/postgres/lease.js';
import type { Logger } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SECRET_KEYS, maskerOf } from '../../../src/domain/mask.js';
import { deliverNext } from '../../../src/publish/deliver.js';

const MASKER = maskerOf(DEFAULT_SECRET_KEYS);
import {
  drainStep,
  flushSinks,
  Publisher,
  retryDelayMs,
  Signal,
  type PublisherDeps,
  type PublishMetrics,
} from '../../../src/publish/publisher.js';
import type { Sink } from '../../../src/publish/sink.js';
import { FakeOutboxDb } from '../../harness/fake-outbox.js';
import type { SequencedEvent } from '../../../src/domain/events.js';

// The outbox's publisher without Postgres: the log and the cursors in
// memory (fake-outbox.ts), sinks that record what they were given and fail
// when told to.

class FakeSink implements Sink {
  readonly delivered: string[] = [];
  readonly batches: number[] = [];
  /** Deliveries that fail before one goes through; Infinity: down for good. */
  failing = 0;
  closed = false;

  constructor(readonly name: 'prefect' | 'nats' = 'prefect') {}

  deliver(events: SequencedEvent[]): Promise<void> {
    if (this.failing > 0) {
      this.failing--;
      return Promise.reject(new Error(`${this.name} is down`));
    }
    this.batches.push(events.length);
    this.delivered.push(...events.map((e) => e.seq));
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function fakeLogger() {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void =>
      void lines.push({ level, msg, fields });
  const logger = { warn: at('warn'), info: at('info'), debug: at('debug'), error: at('error') };
  return { logger: logger as unknown as Logger, lines };
}

function fakeMetrics() {
  const seen = { published: 0, failures: 0, backlog: new Map<string, number>() };
  const metrics: PublishMetrics = {
    published: { inc: (_l, n) => void (seen.published += n) },
    publishFailures: { inc: () => void seen.failures++ },
    publishBacklogEvents: { set: (l, n) => void seen.backlog.set(l.sink, n) },
    publishBacklogSeconds: { set: () => undefined },
    pruned: { inc: () => undefined },
  };
  return { metrics, seen };
}

class FakeLock implements Releasable {
  lost = false;
  released = 0;
  release(): Promise<void> {
    this.released++;
    return Promise.resolve();
  }
}

function depsWith(
  db: FakeOutboxDb,
  sinks: Sink[],
  overrides: Partial<PublisherDeps> = {},
): PublisherDeps & { lines: ReturnType<typeof fakeLogger>['lines']; lock: FakeLock } {
  const { logger, lines } = fakeLogger();
  const lock = new FakeLock();
  return {
    db: db.queryable,
    schema: 'connector_sync',
    masker: MASKER,
    sinks,
    retention: { eventDays: null, passDays: null },
    logger,
    metrics: null,
    tryLock: () => Promise.resolve(lock),
    random: () => 0,
    lines,
    lock,
    ...overrides,
  };
}

afterEach(() => {
  vi.useRealTimers();
});

/** Waits for what the publisher does on its own; generous, as other sessions share the machine. */
function eventually(check: () => void): Promise<void> {
  return vi.waitFor(check, { timeout: 15_000, interval: 10 });
}

describe('Signal', () => {
  it('a wait ends at its timeout when nothing fires', async () => {
    vi.useFakeTimers();
    const signal = new Signal();
    let done = false;
    const waiting = signal.wait(1_000).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await waiting;
    expect(done).toBe(true);
  });

  it('a fire ends the wait at once, long before its timeout', async () => {
    vi.useFakeTimers();
    const signal = new Signal();
    let done = false;
    const waiting = signal.wait(60_000).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(10);
    expect(done).toBe(false);
    signal.fire();
    await waiting;
    expect(done).toBe(true);
    expect(vi.getTimerCount()).toBe(0); // its timer was cleared
  });

  it('a fire with no one waiting is not lost: it ends the next wait at once, and only that one', async () => {
    vi.useFakeTimers();
    const signal = new Signal();
    signal.fire();
    signal.fire(); // fires do not add up
    let first = false;
    void signal.wait(60_000).then(() => (first = true));
    await vi.advanceTimersByTimeAsync(0); // no time passes: only the kept fire can end it
    expect(first).toBe(true);
    let second = false;
    const waiting = signal.wait(1_000).then(() => (second = true));
    await vi.advanceTimersByTimeAsync(500);
    expect(second).toBe(false);
    await vi.advanceTimersByTimeAsync(500);
    await waiting;
    expect(second).toBe(true);
  });

  it('a negative timeout ends the wait at the next tick', async () => {
    vi.useFakeTimers();
    const waiting = new Signal().wait(-5);
    await vi.advanceTimersByTimeAsync(0);
    await expect(waiting).resolves.toBeUndefined();
  });
});

describe('retryDelayMs: a failing sink backs off from 0.5 s, doubling, to 5 s, with jitter', () => {
  it.each([
    // failures, delay with no jitter (random 0: half the ceiling), with the most (random 1)
    [1, 250, 500],
    [2, 500, 1_000],
    [3, 1_000, 2_000],
    [4, 2_000, 4_000],
    [5, 2_500, 5_000],
    [12, 2_500, 5_000],
  ])('after %i failures: %i to %i ms', (failures, low, high) => {
    expect(retryDelayMs(failures, () => 0)).toBe(low);
    expect(retryDelayMs(failures, () => 1)).toBe(high);
    expect(retryDelayMs(failures, () => 0.5)).toBe((low + high) / 2);
  });

  it('Math.random without a jitter source', () => {
    const spy = vi.spyOn(Math, 'random').mockReturnValue(0.5);
    try {
      expect(retryDelayMs(1, undefined)).toBe(375);
      expect(spy).toHaveBeenCalledOnce();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('deliverNext', () => {
  it('delivers the events after the cursor in commit order, a batch at a time, then moves the cursor', async () => {
    const db = new FakeOutboxDb();
    db.append(7);
    db.cursors.set('prefect', 2);
    const sink = new FakeSink();
    expect(await deliverNext(db.queryable, 's', sink, MASKER, 3)).toBe(3);
    expect(sink.delivered).toEqual(['3', '4', '5']);
    expect(db.cursors.get('prefect')).toBe(5);
    expect(await deliverNext(db.queryable, 's', sink, MASKER, 3)).toBe(2);
    expect(await deliverNext(db.queryable, 's', sink, MASKER, 3)).toBe(0); // it has the whole log
    expect(sink.delivered).toEqual(['3', '4', '5', '6', '7']);
    expect(db.cursors.get('prefect')).toBe(7);
  });

  it('a sink without a cursor starts at the beginning; a failed delivery leaves the cursor where it was', async () => {
    const db = new FakeOutboxDb();
    db.append(2);
    const sink = new FakeSink('nats');
    sink.failing = 1;
    await expect(deliverNext(db.queryable, 's', sink, MASKER)).rejects.toThrow('nats is down');
    expect(db.cursors.has('nats')).toBe(false);
    expect(await deliverNext(db.queryable, 's', sink, MASKER)).toBe(2);
    expect(sink.delivered).toEqual(['1', '2']);
  });

  it('another publisher moved the cursor meanwhile: its cursor stands and none count as delivered', async () => {
    const db = new FakeOutboxDb();
    db.append(4);
    db.cursors.set('prefect', 1);
    db.beforeAdvance = () => db.cursors.set('prefect', 4);
    const sink = new FakeSink();
    expect(await deliverNext(db.queryable, 's', sink, MASKER)).toBe(0);
    expect(sink.delivered).toEqual(['2', '3', '4']); // sent again: the sink drops copies by id
    expect(db.cursors.get('prefect')).toBe(4);
  });
});

describe('drainStep', () => {
  it('counts what went, resets the failures, and says so once the sink is reachable again', async () => {
    const db = new FakeOutboxDb();
    db.append(3);
    const { metrics, seen } = fakeMetrics();
    const deps = depsWith(db, [], { metrics });
    const sink = new FakeSink();
    expect(await drainStep(deps, sink, 0)).toEqual({ delivered: 3, failures: 0 });
    expect(seen.published).toBe(3);
    expect(deps.lines).toEqual([]);
    db.append(1);
    expect(await drainStep(deps, sink, 5)).toEqual({ delivered: 1, failures: 0 });
    expect(deps.lines.map((l) => [l.level, l.msg])).toEqual([
      ['info', 'sink reachable again; publishing'],
    ]);
  });

  it('a failure counts one more in a row, and is logged on the first and at each doubling (1, 2, 4, 8, …)', async () => {
    const db = new FakeOutboxDb();
    db.append(1);
    const { metrics, seen } = fakeMetrics();
    const deps = depsWith(db, [], { metrics });
    const sink = new FakeSink();
    sink.failing = Infinity;
    let failures = 0;
    for (let i = 0; i < 40; i++) {
      const step = await drainStep(deps, sink, failures);
      expect(step).toEqual({ delivered: 0, failures: failures + 1 });
      failures = step.failures;
    }
    expect(deps.lines.map((l) => l.fields.failures)).toEqual([1, 2, 4, 8, 16, 32]);
    expect(new Set(deps.lines.map((l) => l.level))).toEqual(new Set(['warn']));
    expect(deps.lines[0]!.fields).toMatchObject({ sink: 'prefect' });
    expect(seen.failures).toBe(40);
    expect(seen.published).toBe(0);
  });

  it('Postgres down fails the step the same way (nothing delivered, nothing lost)', async () => {
    const db = new FakeOutboxDb();
    db.append(1);
    db.down = new Error('connection refused');
    const deps = depsWith(db, []);
    const sink = new FakeSink();
    expect(await drainStep(deps, sink, 0)).toEqual({ delivered: 0, failures: 1 });
    expect(sink.delivered).toEqual([]);
    expect(deps.lines[0]!.level).toBe('warn');
  });
});

describe('flushSinks (run --once)', () => {
  it('another process holds the publisher lock: nothing delivered', async () => {
    const db = new FakeOutboxDb();
    db.append(1);
    const sink = new FakeSink();
    const deps = depsWith(db, [sink], { tryLock: () => Promise.resolve(null) });
    expect(await flushSinks(deps, 1_000)).toBe('another process publishes');
    expect(sink.delivered).toEqual([]);
  });

  it('drains every sink to the end of the log, batch after batch, then releases the lock', async () => {
    const db = new FakeOutboxDb();
    db.append(1_203);
    const prefectSink = new FakeSink('prefect');
    const nats = new FakeSink('nats');
    db.cursors.set('nats', 1_200);
    const deps = depsWith(db, [prefectSink, nats]);
    expect(await flushSinks(deps, 30_000)).toEqual([
      { sink: 'prefect', left: 0 },
      { sink: 'nats', left: 0 },
    ]);
    expect(prefectSink.batches).toEqual([500, 500, 203]);
    expect(nats.delivered).toEqual(['1201', '1202', '1203']);
    expect(deps.lock.released).toBe(1);
  });

  it('retries a failing sink with backoff until it takes the events', async () => {
    const db = new FakeOutboxDb();
    db.append(2);
    const sink = new FakeSink();
    sink.failing = 2;
    const deps = depsWith(db, [sink]);
    expect(await flushSinks(deps, 30_000)).toEqual([{ sink: 'prefect', left: 0 }]);
    expect(sink.delivered).toEqual(['1', '2']);
  });

  it('a sink down all along: what it lacks is left (and counted) once the time is up; the lock is released', async () => {
    const db = new FakeOutboxDb();
    db.append(5);
    const down = new FakeSink('nats');
    down.failing = Infinity;
    const up = new FakeSink('prefect');
    const deps = depsWith(db, [up, down]);
    expect(await flushSinks(deps, 300)).toEqual([
      { sink: 'prefect', left: 0 },
      { sink: 'nats', left: 5 },
    ]);
    expect(deps.lock.released).toBe(1);
  });

  it('a lock lost midway stops the flush', async () => {
    const db = new FakeOutboxDb();
    db.append(1_000);
    const sink = new FakeSink();
    const deps = depsWith(db, [sink]);
    db.beforeAdvance = () => void (deps.lock.lost = true);
    expect(await flushSinks(deps, 30_000)).toEqual([{ sink: 'prefect', left: 500 }]);
    expect(sink.batches).toEqual([500]);
  });
});

describe('Publisher', () => {
  it('holding the lock: delivers the backlog, then what a nudge announces; stop releases the lock and closes the sinks', async () => {
    const db = new FakeOutboxDb();
    db.append(3);
    const sink = new FakeSink();
    const { metrics, seen } = fakeMetrics();
    const deps = depsWith(db, [sink], { metrics });
    const publisher = new Publisher(deps);
    publisher.start();
    publisher.start(); // a second start is the same publisher
    await eventually(() => expect(sink.delivered).toEqual(['1', '2', '3']));
    db.append(2);
    publisher.nudge();
    await eventually(() => expect(sink.delivered).toEqual(['1', '2', '3', '4', '5']));
    await eventually(() => expect(seen.backlog.get('prefect')).toBe(0));
    await publisher.stop();
    expect(deps.lock.released).toBe(1);
    expect(sink.closed).toBe(true);
    expect(seen.published).toBe(5);
    expect(deps.lines.map((l) => l.msg)).toContain('publishing the event log');
  });

  it('a sink that fails is retried with backoff and catches up; the other sink is not held back', async () => {
    const db = new FakeOutboxDb();
    db.append(2);
    const flaky = new FakeSink('nats');
    flaky.failing = 2;
    const steady = new FakeSink('prefect');
    const { metrics, seen } = fakeMetrics();
    const deps = depsWith(db, [steady, flaky], { metrics });
    const publisher = new Publisher(deps);
    publisher.start();
    await eventually(() => expect(steady.delivered).toEqual(['1', '2']));
    await eventually(() => expect(flaky.delivered).toEqual(['1', '2']));
    await publisher.stop();
    expect(seen.failures).toBe(2);
    expect(deps.lines.filter((l) => l.level === 'warn').map((l) => l.fields.failures)).toEqual([
      1, 2,
    ]);
    expect(deps.lines.map((l) => l.msg)).toContain('sink reachable again; publishing');
  });

  it('while another replica holds the lock it delivers nothing; stop still ends it', async () => {
    const db = new FakeOutboxDb();
    db.append(2);
    const sink = new FakeSink();
    let asked = 0;
    const publisher = new Publisher(
      depsWith(db, [sink], { tryLock: () => Promise.resolve((asked++, null)) }),
    );
    publisher.start();
    await eventually(() => expect(asked).toBe(1));
    await publisher.stop();
    expect(sink.delivered).toEqual([]);
    expect(sink.closed).toBe(true);
  });

  it('a lock that cannot be taken (Postgres down) is logged and tried again, not thrown', async () => {
    const db = new FakeOutboxDb();
    const deps = depsWith(db, [new FakeSink()], {
      tryLock: () => Promise.reject(new Error('connection refused')),
    });
    const publisher = new Publisher(deps);
    publisher.start();
    await eventually(() =>
      expect(deps.lines.map((l) => l.msg)).toContain('cannot take the publisher lock; retrying'),
    );
    await publisher.stop();
  });
});

describe('Publisher: a lost publisher lock', () => {
  /** A publisher whose first lock is lost once it delivered the backlog; the next tryLock gets a second one. */
  async function losingItsLock() {
    vi.useFakeTimers();
    const db = new FakeOutboxDb();
    db.append(1);
    const sink = new FakeSink();
    const locks = [new FakeLock(), new FakeLock()];
    let asked = 0;
    const publisher = new Publisher(
      depsWith(db, [sink], { tryLock: () => Promise.resolve(locks[asked++] ?? null) }),
    );
    publisher.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(sink.delivered).toEqual(['1']);
    locks[0]!.lost = true;
    db.append(1);
    return { db, sink, locks, publisher, asked: () => asked };
  }

  async function stop(publisher: Publisher): Promise<void> {
    const stopping = publisher.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    await stopping;
  }

  it('stops delivering under the lost lock, releases it, takes the lock again and carries on', async () => {
    const { sink, locks, publisher, asked } = await losingItsLock();
    publisher.nudge();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sink.delivered).toEqual(['1']); // nothing more under the lost lock
    expect(asked()).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(locks[0]!.released).toBe(1);
    expect(asked()).toBe(2);
    expect(sink.delivered).toEqual(['1', '2']); // delivered under the second lock
    await stop(publisher);
    expect(locks[1]!.released).toBe(1);
  });

  // The retention round waits in slices, so it ends with the lock too.
  it('releases a lost lock and asks again within seconds', async () => {
    const { locks, publisher, asked } = await losingItsLock();
    try {
      await vi.advanceTimersByTimeAsync(60_000);
      expect(locks[0]!.released).toBe(1);
      expect(asked()).toBe(2);
    } finally {
      await stop(publisher);
    }
  });
});
