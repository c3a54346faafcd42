import type { Logger } from 'pino';
import type { Queryable } from '../postgres/pool.js';
import { finishSyncRequests, openSyncRequests } from '../postgres/sync-requests.js';
import { coerceError, LeadershipLostError } from '../domain/errors.js';
import { exitCodeOfError } from '../domain/exit-codes.js';
import { SHUTTING_DOWN } from '../pass/apply.js';
import type { PassOptions } from '../pass/context.js';
import { approvalOutcomeOf, failedSyncOutcome, syncOutcomeOf } from '../render/sync.js';
import type { PassResult } from '../pass/result.js';
import type { PassEnding } from './next-step.js';
import type { Masker } from '../domain/mask.js';
import type { SyncOutcome, SyncRequest } from '../domain/sync-request.js';

// The leader's side of `connector-sync sync` / `retry` / `approve-deletes`
// (postgres/sync-requests.ts has the table): the open `sync` requests are
// served by one targeted pass that lifts backoff and Prefect's "invalid"
// verdict for their connectors; approvals by one full pass that makes the
// held deletes they list.

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

/** What the leader's pass for a batch of requests may be asked. */
export type ServedPass = Pick<PassOptions, 'scope' | 'retryDeferred' | 'approvedDeletes'>;

/** The pass that serves `sync` / `retry` requests: their connectors, none of them deferred. */
export function syncPassOf(requests: SyncRequest[]): ServedPass {
  return { scope: [...new Set(requests.flatMap((r) => r.connectorIds))], retryDeferred: true };
}

/**
 * The pass that serves `approve-deletes` requests: a full one (a held delete
 * may be an orphan's, and the source check judges the whole source) in which
 * exactly the deletes they listed go.
 */
export function approvalPassOf(requests: SyncRequest[]): ServedPass {
  return { approvedDeletes: new Set(requests.flatMap((r) => r.approvedDeletes ?? [])) };
}

function outcomeOf(result: PassResult, request: SyncRequest, masker: Masker): SyncOutcome {
  return request.approvedDeletes
    ? approvalOutcomeOf(result, request.approvedDeletes, masker)
    : syncOutcomeOf(result, request.connectorIds, masker);
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
    outcomes: requests.map((request) => ({
      id: request.id,
      outcome: outcomeOf(result, request, masker),
    })),
  };
}

/**
 * Serves the open requests with `runPass` (the worker's own pass, under its
 * lock): approvals first, in a full pass of their own, then `sync` / `retry`
 * in a targeted one. A Postgres that fails here is logged, and the requests
 * wait for the next full pass, which looks again.
 */
export async function serveSyncRequests(
  requests: SyncRequests,
  runPass: (options: ServedPass) => Promise<PassEnding>,
  log: Logger,
): Promise<void> {
  let open: SyncRequest[];
  try {
    open = await requests.open();
  } catch (error) {
    log.warn({ err: coerceError(error) }, 'cannot read the sync requests; looking again later');
    return;
  }
  const approvals = open.filter((r) => r.approvedDeletes !== null);
  const syncs = open.filter((r) => r.approvedDeletes === null);
  if (approvals.length > 0)
    await serveBatch(requests, approvals, approvalPassOf(approvals), runPass, log);
  if (syncs.length > 0) await serveBatch(requests, syncs, syncPassOf(syncs), runPass, log);
}

async function serveBatch(
  requests: SyncRequests,
  batch: SyncRequest[],
  pass: ServedPass,
  runPass: (options: ServedPass) => Promise<PassEnding>,
  log: Logger,
): Promise<void> {
  const ending = await runPass(pass);
  const told = outcomesOf(ending, batch, requests.masker);
  if (!told) return;
  try {
    await requests.finish(told.passId, told.outcomes);
    log.info(
      {
        requests: batch.map((r) => r.id),
        ...(pass.scope ? { connectors: pass.scope } : {}),
        ...(pass.approvedDeletes ? { approvedDeletes: [...pass.approvedDeletes] } : {}),
        pass: told.passId,
      },
      'sync requests served',
    );
  } catch (error) {
    log.warn(
      { err: coerceError(error), requests: batch.map((r) => r.id) },
      'cannot record the outcome of sync requests; the next pass serves them again',
    );
  }
}
