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
}
