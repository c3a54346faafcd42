import type pg from 'pg';
import type { Logger } from 'pino';
import { UnavailableError } from '../errors.js';
import { connectClient } from './pool.js';

/**
 * The reconcile lock: a session advisory lock held on a dedicated connection
 * (never a pooled one, which could be reused or closed under us). Only its
 * holder runs passes; a one-shot run waits for it up to `waitSeconds`.
 */
export class ReconcileLock {
  private constructor(
    private readonly client: pg.Client,
    private readonly key: string,
  ) {}

  static async acquire(
    url: string,
    schema: string,
    waitSeconds: number,
    logger: Logger,
  ): Promise<ReconcileLock> {
    const client = await connectClient(url, logger);
    const key = `connector-sync:leader:${schema}`;
    const deadline = Date.now() + waitSeconds * 1000;
    let logged = false;
    for (;;) {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
        [key],
      );
      if (rows[0]?.locked) return new ReconcileLock(client, key);
      if (Date.now() >= deadline) {
        await client.end().catch(() => undefined);
        throw new UnavailableError(
          `another pass holds the reconcile lock (waited ${waitSeconds}s, reconcile.lockWaitSeconds)`,
        );
      }
      if (!logged) logger.info({ waitSeconds }, 'another pass holds the reconcile lock; waiting');
      logged = true;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(500, Math.max(0, deadline - Date.now()))),
      );
    }
  }

  /** True while our session (and so the lock) is alive. */
  async stillHeld(): Promise<boolean> {
    try {
      const { rows } = await this.client.query<{ held: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
            AND objid = (hashtext($1)::bigint & 4294967295)::oid AND granted) AS held`,
        [this.key],
      );
      return rows[0]?.held === true;
    } catch {
      return false;
    }
  }

  async release(): Promise<void> {
    try {
      await this.client.query('SELECT pg_advisory_unlock(hashtext($1))', [this.key]);
    } finally {
      await this.client.end().catch(() => undefined);
    }
  }
}
