// An in-memory stand-in for the outbox's tables (events, sink_cursors and
// passes, sync_requests), answering exactly the statements src/db/outbox.ts,
// src/db/retention.ts and eventsAfterSeq send and failing loudly on any other, so the publisher can be unit-tested
// without Postgres. Not a test file itself.
import type { Queryable } from '../../src/postgres/pool.js';
import type { StoredEvent } from '../../src/domain/events.js';

type Row = StoredEvent & { seq: number };

export class FakeOutboxDb {
  readonly events: Row[] = [];
  readonly cursors = new Map<string, number>();
  /** The pass history, as far as retention looks at it. */
  passes: { id: string; startedAt: Date }[] = [];
  /** `sync` requests, as far as retention looks at them (open ones have no finishedAt). */
  syncRequests: { id: string; finishedAt: Date | null }[] = [];
  /** Every statement, by its first words: what the code under test asked. */
  readonly statements: string[] = [];
  /** Set to make every query fail (Postgres down). */
  down: Error | null = null;
  /** Runs before a cursor is advanced: lets a test move it meanwhile (another publisher). */
  beforeAdvance: (() => void) | null = null;

  /** Appends `n` events to the log, numbered after the last. */
  append(n: number, occurred = new Date('2026-12-01T08:00:00Z')): void {
    for (let i = 0; i < n; i++) {
      const seq = (this.events.at(-1)?.seq ?? 0) + 1;
      this.events.push({
        seq,
        id: `0190aaaa-0000-7000-8000-${String(seq).padStart(12, '0')}`,
        occurred,
        event: 'connector-sync.connector.failed',
        action: 'failed',
        connector_id: String(seq),
        deployment_id: null,
        resource: { 'prefect.resource.id': `connector-sync.connector.${seq}` },
        related: [],
        payload: { status: 'invalid' },
        pass_id: 'p1',
      });
    }
  }

  get queryable(): Queryable {
    return {
      query: (text: string, params: unknown[] = []) => this.query(text, params),
    } as unknown as Queryable;
  }

  private query(text: string, params: unknown[]): Promise<{ rows: unknown[]; rowCount: number }> {
    const sql = text.replace(/\s+/g, ' ').trim();
    this.statements.push(sql.split(' ').slice(0, 2).join(' '));
    if (this.down) return Promise.reject(this.down);
    return Promise.resolve(this.answer(sql, params));
  }

  private answer(sql: string, params: unknown[]): { rows: unknown[]; rowCount: number } {
    const rows = (list: unknown[]) => ({ rows: list, rowCount: list.length });
    if (sql.startsWith('SELECT seq::text AS seq FROM') && sql.includes('sink_cursors')) {
      const seq = this.cursors.get(params[0] as string);
      return rows(seq === undefined ? [] : [{ seq: String(seq) }]);
    }
    if (sql.startsWith('SELECT seq, id,') && sql.includes('.events')) {
      const [after, limit] = params as [string, number];
      const page = this.events.filter((e) => e.seq > Number(after)).slice(0, limit);
      return rows(page.map((e) => ({ ...structuredClone(e), seq: String(e.seq) })));
    }
    if (sql.startsWith('INSERT INTO') && sql.includes('sink_cursors (sink, seq) SELECT')) {
      const sink = params[0] as string;
      if (this.cursors.has(sink)) return { rows: [], rowCount: 0 };
      this.cursors.set(sink, this.events.at(-1)?.seq ?? 0);
      return { rows: [], rowCount: 1 };
    }
    if (sql.startsWith('INSERT INTO') && sql.includes('sink_cursors AS c')) {
      this.beforeAdvance?.();
      const [sink, from, to] = params as [string, string, string];
      const now = this.cursors.get(sink);
      if (now !== undefined && now !== Number(from)) return { rows: [], rowCount: 0 };
      this.cursors.set(sink, Number(to));
      return { rows: [], rowCount: 1 };
    }
    if (sql.startsWith('SELECT count(*) AS events, min(occurred) AS oldest')) {
      const after = this.cursors.get(params[0] as string) ?? 0;
      const behind = this.events.filter((e) => e.seq > after);
      return rows([{ events: String(behind.length), oldest: behind[0]?.occurred ?? null }]);
    }
    if (sql.startsWith('SELECT count(*) AS n, min(seq)::text AS seq FROM')) {
      const seqs = (params[0] as string[]).flatMap((sink) => this.cursors.get(sink) ?? []);
      return rows([
        { n: String(seqs.length), seq: seqs.length ? String(Math.min(...seqs)) : null },
      ]);
    }
    if (sql.startsWith('DELETE FROM') && sql.includes('.events WHERE seq IN')) {
      const [before, upTo, batch] = params as [Date, string | null, number];
      const gone = this.events
        .filter((e) => e.occurred < before && (upTo === null || e.seq <= Number(upTo)))
        .slice(0, batch);
      this.events.splice(0, this.events.length, ...this.events.filter((e) => !gone.includes(e)));
      return { rows: [], rowCount: gone.length };
    }
    if (sql.startsWith('DELETE FROM') && sql.includes('.passes WHERE id IN')) {
      const [before, batch] = params as [Date, number];
      const gone = [...this.passes]
        .sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime())
        .filter((p) => p.startedAt < before)
        .slice(0, batch);
      this.passes = this.passes.filter((p) => !gone.includes(p));
      return { rows: [], rowCount: gone.length };
    }
    if (sql.startsWith('DELETE FROM') && sql.includes('.sync_requests WHERE id IN')) {
      const [before, batch] = params as [Date, number];
      const gone = this.syncRequests
        .filter((r) => r.finishedAt !== null && r.finishedAt < before)
        .slice(0, batch);
      this.syncRequests = this.syncRequests.filter((r) => !gone.includes(r));
      return { rows: [], rowCount: gone.length };
    }
    throw new Error(`FakeOutboxDb does not know this statement: ${sql}`);
  }
}
