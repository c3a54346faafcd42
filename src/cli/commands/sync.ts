import { Lease, LEASES } from '../../postgres/lease.js';
import { Listener } from '../../postgres/listen.js';
import { requireCurrentSchema } from '../../postgres/schema-check.js';
import { idsWithStatus } from '../../postgres/state.js';
import { unknownConnectors } from '../../ops/controls/hand-over.js';
import {
  finishSyncRequests,
  readFinished,
  requestSync,
  SYNCED_CHANNEL,
} from '../../postgres/sync-requests.js';
import { ConfigurationError, UnavailableError } from '../../domain/errors.js';
import { EXIT } from '../../domain/exit-codes.js';
import { syncOutcomeOf } from '../../render/sync.js';
import type { Runtime } from '../../runtime.js';
import type { Output } from '../output.js';
import { passAndReport } from './reconcile.js';
import { maskerOf } from '../../domain/mask.js';
import type { SyncOutcome, FinishedRequest } from '../../domain/sync-request.js';
import type { PassResult } from '../../pass/result.js';
import type { PassOptions } from '../../pass/context.js';

// `sync ID…` and `retry`: reconcile some connectors now, ignoring their
// backoff, without ever bypassing the reconcile lock. A leading worker gets
// them as a request (postgres/sync-requests.ts) and this waits for its
// outcome; with no leader this takes the lock and runs the targeted pass
// itself. `approve-deletes` hands its approval over the same way.

export interface SyncOptions {
  json: boolean;
  /** How long to wait for a leading worker's pass before giving up (exit 69). */
  timeoutSeconds: number;
  by: string;
}

/** How often a waiting CLI looks at its request and at the lock (a NOTIFY usually comes first). */
const LOOK_AGAIN_MS = 1_000;

export async function syncCommand(
  rt: Runtime,
  ids: string[],
  options: SyncOptions,
  out: Output,
): Promise<number> {
  await requireCurrentSchema(rt.pool, rt.config.database.schema);
  await refuseUnknown(rt, ids);
  const masker = maskerOf(rt.config.masking.keys);
  return hereOrByLeader(
    rt,
    {
      connectorIds: ids,
      approvedDeletes: null,
      pass: { allowMassDelete: false, scope: ids, retryDeferred: true },
      outcomeOf: (result) => syncOutcomeOf(result, ids, masker),
    },
    options,
    out,
  );
}

/** What a CLI hands the leader, or runs itself: the request, its pass, what it is told. */
export interface Handed {
  connectorIds: string[];
  approvedDeletes: string[] | null;
  pass: Omit<PassOptions, 'dryRun'>;
  outcomeOf: (result: PassResult) => SyncOutcome;
}

/**
 * With no worker leading, takes the reconcile lock and runs the pass here;
 * with one, hands it the request and waits for its outcome — running the
 * pass here after all if the leader goes away meanwhile. Observe mode only plans.
 */
export async function hereOrByLeader(
  rt: Runtime,
  handed: Handed,
  options: SyncOptions,
  out: Output,
): Promise<number> {
  const { url, schema } = rt.config.database;
  // Observe mode writes nothing: a plan of these connectors, as `plan` makes one.
  if (rt.config.reconcile.mode === 'observe') return runHere(rt, null, handed, null, options, out);
  const lock = await Lease.tryTake(url, LEASES.reconcile(schema), rt.logger);
  if (lock) return runHere(rt, lock, handed, null, options, out);

  const request = await requestSync(
    rt.pool,
    schema,
    handed.connectorIds,
    options.by,
    handed.approvedDeletes,
  );
  rt.logger.info(
    { request, connectors: handed.connectorIds, timeoutSeconds: options.timeoutSeconds },
    'a worker leads: handed the request to it; waiting for its pass',
  );
  const served = await waitForLeader(rt, request, options.timeoutSeconds);
  if ('lock' in served) {
    rt.logger.info({ request }, 'the leader went away: running the pass here');
    return runHere(rt, served.lock, handed, request, options, out);
  }
  const { outcome } = served.finished;
  out.print(options.json ? JSON.stringify(outcome.json, null, 2) : outcome.text);
  return outcome.exitCode;
}

/**
 * An id that is neither a row of the source nor a connector the worker has
 * reconciled before names nothing: a typo, said at once (exit 64), not a
 * pass that changes nothing and exits 0. A row deleted since is known, and
 * its sync deletes its deployment.
 */
async function refuseUnknown(rt: Runtime, ids: string[]): Promise<void> {
  const { schema } = rt.config.database;
  const unknown = await unknownConnectors(rt.pool, { schema, table: rt.config.source.table }, ids);
  if (unknown.length === 0) return;
  const which =
    unknown.length === 1 ? `connector ${unknown[0]}` : `connectors ${unknown.join(', ')}`;
  throw new ConfigurationError([
    `no ${which}: not a row of ${rt.config.source.table}, and never reconciled (\`connector-sync status\` lists the connectors)`,
  ]);
}

/** `retry`: `sync` for every connector whose last pass left it in one of `statuses`. */
export async function retryCommand(
  rt: Runtime,
  statuses: string[],
  options: SyncOptions,
  out: Output,
): Promise<number> {
  const { schema } = rt.config.database;
  await requireCurrentSchema(rt.pool, schema);
  const ids = await idsWithStatus(rt.pool, schema, statuses);
  if (ids.length === 0) {
    out.print(
      options.json
        ? JSON.stringify({ connectors: [] }, null, 2)
        : `No connector is ${orList(statuses)}: nothing to retry.`,
    );
    return EXIT.ok;
  }
  rt.logger.info({ connectors: ids.length, statuses }, 'retrying connectors');
  return syncCommand(rt, ids, options, out);
}

/** "failed, invalid or conflict" */
function orList(words: string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}

/**
 * The pass in this process (under `lock`; a dry one without). A request this
 * process had handed to a leader that went away is finished with this pass's
 * outcome, so no later leader serves it again.
 */
async function runHere(
  rt: Runtime,
  lock: Lease | null,
  handed: Handed,
  request: string | null,
  options: SyncOptions,
  out: Output,
): Promise<number> {
  const pass = { ...handed.pass, dryRun: lock === null };
  let served: { passId: string; outcome: SyncOutcome } | null = null;
  const report = (result: PassResult): SyncOutcome => {
    const outcome = handed.outcomeOf(result);
    served = { passId: result.passId, outcome };
    return outcome;
  };
  const code = await passAndReport(rt, lock, pass, { json: options.json, report }, out);
  if (request && served) {
    const { passId, outcome } = served;
    await finishSyncRequests(rt.pool, rt.config.database.schema, passId, [
      { id: request, outcome },
    ]).catch(() => undefined);
  }
  return code;
}

/**
 * Waits for the leader to serve `request`: woken by its NOTIFY, looking
 * again every second in case one is missed. If the lock comes free (the
 * leader stopped), takes it and returns it: the caller runs the pass.
 */
async function waitForLeader(
  rt: Runtime,
  request: string,
  timeoutSeconds: number,
): Promise<{ finished: FinishedRequest } | { lock: Lease }> {
  const { url, schema } = rt.config.database;
  const deadline = Date.now() + timeoutSeconds * 1000;
  let wake: (() => void) | null = null;
  let listener: Listener | null = null;
  try {
    listener = await Listener.open(
      url,
      [SYNCED_CHANNEL],
      (_channel, payload) => payload === request && wake?.(),
      { applicationName: 'connector-sync' },
    );
    for (;;) {
      const finished = await readFinished(rt.pool, schema, request);
      if (finished) return { finished };
      const lock = await Lease.tryTake(url, LEASES.reconcile(schema), rt.logger);
      if (lock) return { lock };
      const left = deadline - Date.now();
      if (left <= 0)
        throw new UnavailableError(
          `the leading worker has not reconciled connectors of sync request ${request} within ${timeoutSeconds}s (--timeout); the request stays open and the worker serves it when it can (its log says "sync requests served")`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(LOOK_AGAIN_MS, left));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    await listener?.close();
  }
}
