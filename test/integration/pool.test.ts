import pg from 'pg';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool } from '../../src/postgres/pool.js';

const URL = 'postgres://postgres@127.0.0.1:5432/postgres';

describe('the worker pool when Postgres kills a connection', () => {
  const pools: pg.Pool[] = [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.end().catch(() => undefined)));
  });

  it('a checked-out client between queries: its next query fails, the process lives on', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const pool = createPool(URL, logger, 2);
    pools.push(pool);
    const client = await pool.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // Killed while checked out and idle, as inside a transaction between two statements.
    const admin = new pg.Client({ connectionString: URL });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    await admin.end();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Without a listener the 'error' event would have ended the process (vitest: unhandled error).
    await expect(client.query('SELECT 1')).rejects.toThrow();
    client.release(true);
    expect(lines.join('')).toMatch(/Postgres connection in use failed/);
    // The pool hands out a working connection again.
    expect((await pool.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
  });
});
