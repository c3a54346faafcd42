import pg from 'pg';
import type { Logger } from 'pino';

export type Queryable = Pick<pg.Pool | pg.PoolClient | pg.Client, 'query'>;

/**
 * The worker's pool. Every pool and client needs an 'error' handler: without
 * one, a connection killed by the server (pg_terminate_backend, a restart)
 * crashes the process instead of failing the current query.
 */
export function createPool(url: string, logger: Logger, max = 10): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    keepAlive: true,
    application_name: 'connector-sync',
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', (error) => logger.warn({ err: error }, 'idle Postgres connection failed'));
  // The pool's own handler covers idle clients only. A client that is checked
  // out but between queries (inside a transaction, say) emits 'error' with no
  // listener when its connection is killed, and Node ends the process. With
  // this one, its next query fails instead and the pass fails cleanly.
  pool.on('connect', (client) =>
    client.on('error', (error) => logger.warn({ err: error }, 'Postgres connection in use failed')),
  );
  return pool;
}

/** A dedicated connection for session-level state (advisory locks, LISTEN). */
export async function connectClient(
  url: string,
  logger: Logger,
  options: Partial<pg.ClientConfig> = {},
): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'connector-sync',
    ...options,
  });
  client.on('error', (error) =>
    logger.warn({ err: error }, 'dedicated Postgres connection failed'),
  );
  await client.connect();
  return client;
}

export function quoteIdent(name: string): string {
  return pg.escapeIdentifier(name);
}

/** "schema.table" or "table" → a safely quoted SQL name. */
export function quoteQualified(name: string): string {
  return name.split('.').map(quoteIdent).join('.');
}

export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  // A checked-out client has no 'error' listener of the pool's: a connection
  // killed between two statements (pg_terminate_backend, a restart) would
  // otherwise crash the process. Its next query fails instead, and the broken
  // client is discarded, not returned to the pool.
  let broken: Error | undefined;
  const onError = (error: Error): void => {
    broken ??= error;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
