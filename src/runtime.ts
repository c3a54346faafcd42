import type pg from 'pg';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import type { Config } from './config/schema.js';
import { prefectCredentialTexts } from './domain/redact.js';
import { createPool } from './postgres/pool.js';
import { PostgresStore } from './postgres/store.js';
import { createLogger } from './logger.js';
import { PrefectClient } from './prefect/client.js';
import { PrefectHttp, type PrefectHttpOptions } from './prefect/http.js';
import type { PassDeps } from './pass/context.js';
import { InstallationClaim } from './pass/installation.js';
import { markClaimed, readInstallation } from './postgres/installation.js';

/**
 * Secrets that must never be printed: keys, tokens and their encodings, each
 * replaced wherever it shows up. The database password is not among them: it
 * is redacted by its position in a URL (redactText), since a short one
 * replaced as bare text would garble the user name and the rest of a message
 * and show where it occurs.
 */
export function secretsOf(config: Config): string[] {
  const secrets: string[] = [];
  secrets.push(...prefectCredentialTexts(config.prefect.apiKey, config.prefect.authString));
  const { token, basic } = config.http.auth;
  if (token) secrets.push(token);
  if (basic)
    secrets.push(basic.slice(basic.indexOf(':') + 1), Buffer.from(basic).toString('base64'));
  return secrets;
}

/** A process's real edges: what a pass needs, plus the pool the CLI and the worker query. */
export interface Runtime extends PassDeps {
  pool: pg.Pool;
  prefect: PrefectClient;
  installation: InstallationClaim;
  close(): Promise<void>;
}

/** Wires the real edges (Postgres pool, Prefect HTTP, pino) for one process. */
export function createRuntime(
  config: Config,
  logger?: Logger,
  observe?: PrefectHttpOptions['observe'],
): Runtime {
  const log =
    logger ??
    createLogger({
      level: config.log.level,
      format: config.log.format,
      secrets: secretsOf(config),
    });
  const pool: pg.Pool = createPool(
    config.database.url,
    log,
    Math.max(4, config.reconcile.concurrency + 2),
  );
  const http = new PrefectHttp({
    apiUrl: config.prefect.apiUrl,
    apiKey: config.prefect.apiKey,
    authString: config.prefect.authString,
    timeoutMs: config.prefect.timeoutMs,
    requestsPerSecond: config.prefect.requestsPerSecond,
    retries: config.prefect.retries,
    minRetryDelayMs: config.prefect.retryMinDelayMs,
    maxRetryDelayMs: config.prefect.retryMaxDelayMs,
    logger: log,
    observe,
  });
  const prefect = new PrefectClient(http);
  return {
    pool,
    prefect,
    installation: new InstallationClaim(
      prefect,
      {
        read: () => readInstallation(pool, config.database.schema),
        markClaimed: (variable) => markClaimed(pool, config.database.schema, variable),
      },
      config,
    ),
    store: new PostgresStore(pool, config.database.schema, config.source.table),
    config,
    logger: log,
    now: () => new Date(),
    newId: () => uuidv7(),
    close: async () => {
      await pool.end();
    },
  };
}
