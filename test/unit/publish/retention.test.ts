import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { pruneOnce, type RetentionPolicy } from '../../../src/publish/retention.js';
import { FakeOutboxDb } from '../../harness/fake-outbox.js';

// Retention: events older than eventDays go once every enabled sink has
// them (an event a sink lacks stays, however old), pass rows older than
// passDays go, in batches; a failure is logged and left to the next round.

const DAY = 24 * 60 * 60 * 1000;
const daysAgo = (n: number) => new Date(Date.now() - n * DAY);

function world(retention: Partial<RetentionPolicy>, sinks: string[] = ['prefect']) {
  const db = new FakeOutboxDb();
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) =>
    void lines.push({ level, msg, fields });
  const pruned = new Map<string, number>();
  const deps = {
    db: db.queryable,
    schema: 'connector_sync',
    sinks: sinks.map((name) => ({ name })),
    retention: { eventDays: null, passDays: null, ...retention },
    logger: { info: at('info'), warn: at('warn') } as unknown as Logger,
    metrics: {
      pruned: {
        inc: (l: { table: string }, n: number) =>
          void pruned.set(l.table, (pruned.get(l.table) ?? 0) + n),
      },
    },
  };
  return { db, deps, lines, pruned };
}

const seqs = (db: FakeOutboxDb) => db.events.map((e) => e.seq);

describe('pruneOnce', () => {
  it('prunes old events only up to what every sink has; an old event a sink lacks stays', async () => {
    const { db, deps, lines, pruned } = world({ eventDays: 30 }, ['prefect', 'nats']);
    db.append(4, daysAgo(40)); // 1-4: old
    db.append(2, daysAgo(1)); // 5-6: recent
    db.cursors.set('prefect', 6);
    db.cursors.set('nats', 3); // nats lacks 4 and on
    await pruneOnce(deps, () => true);
    expect(seqs(db)).toEqual([4, 5, 6]);
    expect(pruned.get('events')).toBe(3);
    expect(lines).toEqual([
      { level: 'info', msg: 'retention: pruned old rows', fields: { events: 3, passes: 0 } },
    ]);
  });

  it('a sink without a cursor yet keeps every event; with no sink enabled, every old event may go', async () => {
    const cursorless = world({ eventDays: 30 }, ['prefect', 'nats']);
    cursorless.db.append(3, daysAgo(40));
    cursorless.db.cursors.set('prefect', 3);
    await pruneOnce(cursorless.deps, () => true);
    expect(seqs(cursorless.db)).toEqual([1, 2, 3]);
    expect(cursorless.lines).toEqual([]); // nothing pruned, nothing said

    const sinkless = world({ eventDays: 30 }, []);
    sinkless.db.append(3, daysAgo(40));
    sinkless.db.append(1, daysAgo(29));
    await pruneOnce(sinkless.deps, () => true);
    expect(seqs(sinkless.db)).toEqual([4]);
  });

  it('deletes in batches of 1,000 until a batch comes back short', async () => {
    const { db, deps, pruned } = world({ eventDays: 7 }, []);
    db.append(2_345, daysAgo(8));
    const deletes = () => db.statements.filter((s) => s === 'DELETE FROM').length;
    await pruneOnce(deps, () => true);
    expect(db.events).toEqual([]);
    expect(pruned.get('events')).toBe(2_345);
    expect(deletes()).toBe(3);
  });

  it('stops between batches once told to (the lock was lost, or the budget is spent)', async () => {
    const { db, deps } = world({ eventDays: 7 }, []);
    db.append(2_500, daysAgo(8));
    let batches = 0;
    await pruneOnce(deps, () => batches++ < 1);
    expect(db.events).toHaveLength(1_500);
  });

  it('prunes the pass history (and served sync requests) by passDays, apart from the events', async () => {
    const { db, deps, pruned, lines } = world({ passDays: 10 });
    db.append(2, daysAgo(400)); // eventDays null: events are kept however old
    db.passes = [
      { id: 'old', startedAt: daysAgo(11) },
      { id: 'new', startedAt: daysAgo(9) },
    ];
    db.syncRequests = [
      { id: 'served long ago', finishedAt: daysAgo(11) },
      { id: 'served lately', finishedAt: daysAgo(9) },
      { id: 'still open', finishedAt: null },
    ];
    await pruneOnce(deps, () => true);
    expect(db.passes.map((p) => p.id)).toEqual(['new']);
    expect(db.syncRequests.map((r) => r.id)).toEqual(['served lately', 'still open']);
    expect(seqs(db)).toEqual([1, 2]);
    expect(pruned.get('passes')).toBe(1);
    expect(pruned.has('events')).toBe(false);
    expect(lines[0]!.fields).toEqual({ events: 0, passes: 1 });
  });

  it('keeping everything asks Postgres nothing', async () => {
    const { db, deps } = world({});
    db.append(2, daysAgo(400));
    await pruneOnce(deps, () => true);
    expect(db.statements).toEqual([]);
  });

  it('Postgres down: logged, not thrown, left to the next round', async () => {
    const { db, deps, lines } = world({ eventDays: 1, passDays: 1 });
    db.down = new Error('connection refused');
    await expect(pruneOnce(deps, () => true)).resolves.toBeUndefined();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'retention: could not prune; trying again later'],
    ]);
  });
});
