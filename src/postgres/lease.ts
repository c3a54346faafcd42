import type pg from 'pg';
import type { Logger } from 'pino';
import { coerceError, LeadershipLostError, UnavailableError } from '../domain/errors.js';
import { connectClient } from './pool.js';

// Leases: which replica does a job that must run in one place at a time. A
// lease is a session advisory lock held on a dedicated connection (never a
// pooled one, which could be reused or closed under us); if that connection
// fails, the lease is gone with it. Two leases exist per schema: the
// reconcile lock (whoever holds it runs passes) and the publisher's (whoever
// holds it publishes the log to the sinks and prunes it). Leadership is the
// one loop around them both.

/** The keys of the two leases (their text is what replicas of every release agree on). */
export const LEASES = {
  reconcile: (schema: string): string => `connector-sync:leader:${schema}`,
  publisher: (schema: string): string => `connector-sync:publisher:${schema}`,
} as const;

/** What any holder of a lease can do with it (tests hold fakes of it). */
export interface Releasable {
  /** The session is gone, and the lease with it. */
  readonly lost: boolean;
  release(): Promise<void>;
}

/** A lease as a pass's holder sees it: one it proves before every write. */
export interface HeldLease extends Releasable {
  /** Proves the lease is still held with a round trip; throws LeadershipLostError if not. */
  assertHeld(): Promise<void>;
}

export class Lease implements HeldLease {
  private lostReason: string | null = null;
  private checking: Promise<void> | null = null;

  private constructor(
    private readonly client: pg.Client,
    private readonly key: string,
  ) {
    client.on('error', (error) => (this.lostReason ??= error.message));
    client.on('end', () => (this.lostReason ??= 'connection closed'));
  }

  /** Takes the lease if it is free; null when another process holds it. */
  static async tryTake(url: string, key: string, logger: Logger): Promise<Lease | null> {
    const client = await connectClient(url, logger, { query_timeout: 5_000 });
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
        [key],
      );
      if (rows[0]?.locked) return new Lease(client, key);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    await client.end().catch(() => undefined);
    return null;
  }

  /** The reconcile lock, waited for up to `waitSeconds` (a one-shot run), then exit 69. */
  static async takeReconcileLock(
    url: string,
    schema: string,
    waitSeconds: number,
    logger: Logger,
  ): Promise<Lease> {
    const deadline = Date.now() + waitSeconds * 1000;
    let logged = false;
    for (;;) {
      const lease = await Lease.tryTake(url, LEASES.reconcile(schema), logger);
      if (lease) return lease;
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
   * Proves the lease's session is alive with a round trip on its connection
   * (bounded by the client's query timeout); throws LeadershipLostError if
   * not. Called before every write of a pass. Concurrent callers share one check.
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
      /* the session is gone, and the lease with it */
    } finally {
      this.lostReason ??= 'released';
      await this.client.end().catch(() => undefined);
    }
  }
}

/** What a Leadership says in the log, in the words of the job it leads. */
export interface LeadershipWords {
  taken: string;
  /** Logged with `taken`. */
  context?: Record<string, unknown>;
  lost: string;
  unreachable: string;
}

/**
 * The loop's side of a lease, shared by the worker's passes and the
 * publisher: hold it when it is free, notice when it is lost, say both once.
 * `lead()` is asked each turn of a leader loop; work runs only while it
 * returns a lease.
 */
export class Leadership<L extends Releasable> {
  private lease: L | null = null;

  constructor(
    private readonly tryTake: () => Promise<L | null>,
    private readonly log: Logger,
    private readonly words: LeadershipWords,
    private readonly changed: (leading: boolean) => void = () => undefined,
  ) {}

  get isLeader(): boolean {
    return this.lease !== null && !this.lease.lost;
  }

  /** The lease, still held or just taken; null while another process holds it (or Postgres is out of reach). */
  async lead(): Promise<L | null> {
    if (this.isLeader) return this.lease;
    if (this.lease) {
      this.log.warn(this.words.lost);
      await this.release();
    }
    try {
      this.lease = await this.tryTake();
    } catch (error) {
      this.log.warn({ err: coerceError(error) }, this.words.unreachable);
      this.lease = null;
    }
    if (!this.lease) return null;
    this.log.info(this.words.context ?? {}, this.words.taken);
    this.changed(true);
    return this.lease;
  }

  async release(): Promise<void> {
    const lease = this.lease;
    this.lease = null;
    if (!lease) return;
    this.changed(false);
    await lease.release();
  }
}
