import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { PassStore, PrefectPort } from './ports.js';

/** Everything a pass needs from outside, injected so tests can supply their own. */
export interface PassDeps {
  prefect: PrefectPort;
  store: PassStore;
  config: Config;
  logger: Logger;
  now: () => Date;
  newId: () => string;
  /** Jitter of a failed connector's backoff, in [0, 1); Math.random when not given. */
  random?: () => number;
  /** One name, one installation (installation.ts): checked once per process in a pass; none in unit tests. */
  installation?: { ensure(register: boolean): Promise<void> };
}

export interface PassOptions {
  dryRun: boolean;
  /** Given by the caller that records the pass (recorded.ts); made by the pass otherwise. */
  passId?: string | undefined;
  allowMassDelete: boolean;
  /** Deployments (by id) whose held delete an operator approved (`approve-deletes`): they go. */
  approvedDeletes?: ReadonlySet<string> | undefined;
  /** Reconcile only these connectors (a wake-up naming them); undefined = a full pass. */
  scope?: string[] | undefined;
  /** Skip connectors whose backoff has not run out (the long-running worker). */
  honourBackoff?: boolean | undefined;
  /**
   * Reconcile deferred connectors all the same — a failing one in its
   * backoff, a row Prefect judged invalid: an operator's `sync` or `retry`.
   */
  retryDeferred?: boolean | undefined;
  /** Throws when this worker may no longer write (it lost the leader lock). */
  guard?: (() => Promise<void>) | undefined;
  /** True once shutdown began: no new change starts. */
  shouldStop?: (() => boolean) | undefined;
}
