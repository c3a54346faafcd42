// An in-memory stand-in for the outbox's tables (events and sink_cursors),
// answering exactly the statements src/db/outbox.ts and eventsAfterSeq send
// and failing loudly on any other, so the publisher can be unit-tested
// without Postgres. Not a test file itself.
import type { StoredEvent } from '../../../src/db/eventlog.js';
import type { Queryable } from '../../../src/db/pool.js';

type Row = StoredEvent & { seq: number };

export class FakeOutboxDb {
  readonly events: Row[] = [];
  readonly cursors = new Map<string, number>();
  /** Every statement, by its first words: what the code under test asked. */
  readonly statements: string[] = [];
  /** Set to make every query fail (Postgres down). */
  down: Error | null = null;
  /** Runs before a cursor is advanced: lets a test move it meanwhile (another publisher). */
  beforeAdvance: (() => void) | null = null;

  /** Appends `n` events to the log, numbered after the last. */
  append(n: number, occurred = new Date('2026-12-01T08:00:00Z')): void {
    for (let i = 0; i < n; i++) {
      const seq = this.events.length + 1;
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
    throw new Error(`FakeOutboxDb does not know this statement: ${sql}`);
  }
}
