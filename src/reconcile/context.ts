import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { PrefectClient } from '../prefect/client.js';

/** Everything a pass needs from outside, injected so tests can supply their own. */
export interface PassDeps {
  pool: pg.Pool;
  prefect: PrefectClient;
  config: Config;
  logger: Logger;
  now: () => Date;
  newId: () => string;
}

export interface PassOptions {
  dryRun: boolean;
  allowMassDelete: boolean;
  /** Reconcile only these connectors (a wake-up naming them); undefined = a full pass. */
  scope?: string[] | undefined;
  /** Skip connectors whose backoff has not run out (the long-running worker). */
  honourBackoff?: boolean | undefined;
  /** Throws when this worker may no longer write (it lost the leader lock). */
  guard?: (() => Promise<void>) | undefined;
  /** True once shutdown began: no new change starts. */
  shouldStop?: (() => boolean) | undefined;
}
