import type { Logger } from 'pino';
import type { Queryable } from '../postgres/pool.js';
import { finishSyncRequests, openSyncRequests } from '../postgres/sync-requests.js';
import { coerceError, LeadershipLostError } from '../domain/errors.js';
import { exitCodeOfError } from '../domain/exit-codes.js';
import { SHUTTING_DOWN } from '../pass/apply.js';
import type { PassOptions } from '../pass/context.js';
import { failedSyncOutcome, syncOutcomeOf } from '../render/sync.js';
import type { PassEnding } from './next-step.js';
import type { Masker } from '../domain/mask.js';
import type { SyncOutcome, SyncRequest } from '../domain/sync-request.js';

// The leader's side of `connector-sync sync` / `retry` (db/sync-requests.ts
// has the table): every open request is served by one targeted pass that
// lifts backoff and Prefect's "invalid" hold for their connectors.

/** The open requests and their outcomes, as the worker reaches them. */
export interface SyncRequests {
  open(): Promise<SyncRequest[]>;
  finish(passId: string | null, outcomes: { id: string; outcome: SyncOutcome }[]): Promise<void>;
  /** The reports left for `sync` show secret values masked (docs/guides/security.md). */
  masker: Masker;
}

export function syncRequestsOf(db: Queryable, schema: string, masker: Masker): SyncRequests {
  return {
    masker,
    open: () => openSyncRequests(db, schema),
    finish: (passId, outcomes) => finishSyncRequests(db, schema, passId, outcomes),
  };
}

/** The pass that serves `requests`: their connectors, none of them deferred. */
export function syncPassOf(requests: SyncRequest[]): Pick<PassOptions, 'scope' | 'retryDeferred'> {
  return { scope: [...new Set(requests.flatMap((r) => r.connectorIds))], retryDeferred: true };
}

/**
 * What each request is told, from how its pass ended; null when it stays
 * open for the next pass or the next leader (this one lost the lock, or is
 * shutting down: the pass did not get to say anything about them).
 */
export function outcomesOf(
  ending: PassEnding,
  requests: SyncRequest[],
  masker: Masker,
): { passId: string | null; outcomes: { id: string; outcome: SyncOutcome }[] } | null {
  if ('error' in ending) {
    if (ending.error instanceof LeadershipLostError) return null;
    const failed = failedSyncOutcome(ending.error.message, exitCodeOfError(ending.error));
    return { passId: null, outcomes: requests.map(({ id }) => ({ id, outcome: failed })) };
  }
  const { result } = ending;
  if (result.aborted === SHUTTING_DOWN) return null;
  return {
    passId: result.passId,
    outcomes: requests.map(({ id, connectorIds }) => ({
      id,
      outcome: syncOutcomeOf(result, connectorIds, masker),
    })),
  };
}

/**
 * Serves the open requests with `runPass` (the worker's own pass, under its
 * lock); a Postgres that fails here is logged, and the requests wait for the
 * next full pass, which looks again.
 */
export async function serveSyncRequests(
  requests: SyncRequests,
  runPass: (options: Pick<PassOptions, 'scope' | 'retryDeferred'>) => Promise<PassEnding>,
  log: Logger,
): Promise<void> {
  let open: SyncRequest[];
  try {
    open = await requests.open();
  } catch (error) {
    log.warn({ err: coerceError(error) }, 'cannot read the sync requests; looking again later');
    return;
  }
  if (open.length === 0) return;
  const pass = syncPassOf(open);
  const ending = await runPass(pass);
  const told = outcomesOf(ending, open, requests.masker);
  if (!told) return;
  try {
    await requests.finish(told.passId, told.outcomes);
    log.info(
      { requests: open.map((r) => r.id), connectors: pass.scope, pass: told.passId },
      'sync requests served',
    );
  } catch (error) {
    log.warn(
      { err: coerceError(error), requests: open.map((r) => r.id) },
      'cannot record the outcome of sync requests; the next pass serves them again',
    );
  }
}
