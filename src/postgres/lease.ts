import { LeadershipLostError } from '../domain/errors.js';
import type pg from 'pg';
import type { Logger } from 'pino';
import { coerceError, UnavailableError } from '../domain/errors.js';
import { connectClient } from './pool.js';

/**
 * The reconcile lock: a session advisory lock held on a dedicated connection
 * (never a pooled one, which could be reused or closed under us). Only its
 * holder runs passes. If that connection fails, the lock is gone with it, and
 * `assertHeld` — called before every write — says so.
 */
export class ReconcileLock {
  private lostReason: string | null = null;
  private checking: Promise<void> | null = null;

  private constructor(
    private readonly client: pg.Client,
    private readonly key: string,
  ) {
    client.on('error', (error) => (this.lostReason ??= error.message));
    client.on('end', () => (this.lostReason ??= 'connection closed'));
  }

  static keyFor(schema: string): string {
    return `connector-sync:leader:${schema}`;
  }

  /** The lock of the one replica that publishes the log to the sinks and prunes it. */
  static publisherKeyFor(schema: string): string {
    return `connector-sync:publisher:${schema}`;
  }

  /** Takes the lock if it is free; null when another process holds it. */
  static async tryAcquire(
    url: string,
    schema: string,
    logger: Logger,
  ): Promise<ReconcileLock | null> {
    return ReconcileLock.tryAcquireKey(url, ReconcileLock.keyFor(schema), logger);
  }

  /** Another lock of the same kind, by its key (`publisherKeyFor`). */
  static async tryAcquireKey(
    url: string,
    key: string,
    logger: Logger,
  ): Promise<ReconcileLock | null> {
    const client = await connectClient(url, logger, { query_timeout: 5_000 });
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
        [key],
      );
      if (rows[0]?.locked) return new ReconcileLock(client, key);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    await client.end().catch(() => undefined);
    return null;
  }

  /** Waits up to `waitSeconds` for the lock (a one-shot run), then gives up with exit 69. */
  static async acquire(
    url: string,
    schema: string,
    waitSeconds: number,
    logger: Logger,
  ): Promise<ReconcileLock> {
    const deadline = Date.now() + waitSeconds * 1000;
    let logged = false;
    for (;;) {
      const lock = await ReconcileLock.tryAcquire(url, schema, logger);
      if (lock) return lock;
      if (Date.now() >= deadline) {
        throw new UnavailableError(
          `another connector-sync process holds the reconcile lock (a one-shot pass, or a long-running worker, which keeps it for as long as it leads); waited ${waitSeconds}s (reconcile.lockWaitSeconds)`,
        );
      }
      if (!logged)
        logger.info(
          { waitSeconds },
          'another connector-sync process holds the reconcile lock; waiting',
        );
      logged = true;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(500, Math.max(0, deadline - Date.now()))),
      );
    }
  }

  get lost(): boolean {
    return this.lostReason !== null;
  }

  /**
   * Proves the lock's session is alive with a round trip on its connection
   * (bounded by the client's query timeout); throws LeadershipLostError if not.
   * Concurrent callers share one check.
   */
  async assertHeld(): Promise<void> {
    if (this.lostReason) throw new LeadershipLostError(this.lostReason);
    this.checking ??= this.client
      .query('SELECT 1')
      .then(() => undefined)
      .catch((error: unknown) => {
        this.lostReason ??= coerceError(error).message;
      })
      .finally(() => {
        this.checking = null;
      });
    await this.checking;
    if (this.lostReason) throw new LeadershipLostError(this.lostReason);
  }

  async release(): Promise<void> {
    try {
      if (!this.lostReason)
        await this.client.query('SELECT pg_advisory_unlock(hashtext($1))', [this.key]);
    } catch {
      /* the session is gone, and the lock with it */
    } finally {
      this.lostReason ??= 'released';
      await this.client.end().catch(() => undefined);
    }
  }
}
