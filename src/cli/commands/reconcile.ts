import { Lease, LEASES } from '../../postgres/lease.js';
import { prepareSchemaForRun, requireCurrentSchema } from '../../postgres/schema-check.js';
import { flushSinks } from '../../publish/publisher.js';
import { prepareSinks, publisherDepsOf, sinksOf } from '../../publish/sinks.js';
import { runRecordedPass } from '../../pass/history.js';
import type { PassOptions } from '../../pass/context.js';
import { EXIT } from '../../domain/exit-codes.js';
import { reportOf, type PassReport } from '../../render/run.js';
import type { Runtime } from '../../runtime.js';
import type { Output } from '../output.js';
import type { Sink } from '../../publish/sink.js';
import { coerceError, UnavailableError } from '../../domain/errors.js';
import { maskerOf } from '../../domain/mask.js';
import type { PassResult } from '../../pass/result.js';

export interface ReconcileOptions {
  dryRun: boolean;
  allowMassDelete: boolean;
  json: boolean;
}

/** `run --once` and `plan`: one pass (a dry one for plan), its report, its exit code. */
export async function reconcileCommand(
  rt: Runtime,
  options: ReconcileOptions,
  out: Output,
): Promise<number> {
  // Observe mode (run --once --observe, reconcile.mode: observe) is a plan: no lock, no writes.
  if (rt.config.reconcile.mode === 'observe' && !options.dryRun)
    return reconcileCommand(rt, { ...options, dryRun: true }, out);
  const { schema } = rt.config.database;
  // Checked before the lock: a mistyped schema must not take a leader lock of its own.
  if (options.dryRun) await requireCurrentSchema(rt.pool, schema);
  else await prepareSchemaForRun(rt.pool, schema, rt.logger);
  const lock = options.dryRun ? null : await takeLock(rt, options);
  const pass = { dryRun: options.dryRun, allowMassDelete: options.allowMassDelete };
  return passAndReport(
    rt,
    lock,
    pass,
    {
      json: options.json,
      report: (result) => reportOf(result, maskerOf(rt.config.masking.keys)),
    },
    out,
  );
}

/**
 * The reconcile lock, waited for as long as reconcile.lockWaitSeconds — but
 * an approval beside a running worker is not waited for: it would wait for
 * ever (the worker never lets go) and the worker never approves anything
 * itself; `approve-deletes` hands it the approval instead.
 */
async function takeLock(rt: Runtime, options: ReconcileOptions): Promise<Lease> {
  const { url, schema } = rt.config.database;
  if (options.allowMassDelete) {
    const lock = await Lease.tryTake(url, LEASES.reconcile(schema), rt.logger);
    if (lock) return lock;
    throw new UnavailableError(
      'another process holds the reconcile lock (a running worker?): approve held deletes beside it with `connector-sync approve-deletes ID… | --all`, which hands the approval to the leader',
    );
  }
  return Lease.takeReconcileLock(url, schema, rt.config.reconcile.lockWaitSeconds, rt.logger);
}

/**
 * One pass (under `lock`, null for a dry run), printed as `report` makes it,
 * the lock released, then — for a real pass that was not cut short — the
 * sinks flushed. Its exit code.
 */
export async function passAndReport(
  rt: Runtime,
  lock: Lease | null,
  pass: PassOptions,
  how: { json: boolean; report: (result: PassResult) => PassReport },
  out: Output,
): Promise<number> {
  const sinks = pass.dryRun ? [] : sinksOf(rt.config, rt.logger, rt.prefect.http);
  let code: number;
  try {
    await prepareSinks(rt.pool, rt.config.database.schema, sinks);
    const report = how.report(await runRecordedPass(rt, pass));
    out.print(how.json ? JSON.stringify(report.json, null, 2) : report.text);
    code = report.exitCode;
  } finally {
    await lock?.release();
  }
  // A pass cut short (exit 69) found Prefect failing: the sinks wait for the next run.
  if (!pass.dryRun && code !== EXIT.unavailable) await publishAfterPass(rt, sinks);
  return code;
}

/**
 * A one-shot run whose pass ran publishes what it wrote (and prunes) before
 * it exits, for up to events.publish.flushSeconds; what a sink did not take
 * waits in the log for the next run or a worker. Never changes the run's exit
 * code. After a pass that failed or was cut short nothing is tried: the events wait
 * too, and the one line of the error stays the only word.
 */
async function publishAfterPass(rt: Runtime, sinks: Sink[]): Promise<void> {
  const deps = publisherDepsOf(rt.config, rt.pool, sinks, rt.logger, null);
  try {
    const outcome = await flushSinks(deps, rt.config.events.publish.flushSeconds * 1000);
    if (outcome === 'another process publishes') return;
    for (const { sink, left } of outcome)
      if (left > 0)
        rt.logger.warn(
          { sink, events: left },
          'events not yet published to the sink; they wait in the log for the next run or a worker',
        );
  } catch (error) {
    rt.logger.warn({ err: coerceError(error) }, 'could not publish the events of this run');
  } finally {
    await Promise.all(sinks.map((s) => s.close()));
  }
}
