import { ReconcileLock } from '../db/lock.js';
import { prepareSchemaForRun, requireCurrentSchema } from '../db/schema-check.js';
import { runRecordedPass } from '../reconcile/recorded.js';
import { planJson } from '../render/plan.js';
import { exitCodeOf, renderRun, runJson } from '../render/run.js';
import type { Runtime } from '../runtime.js';
import type { Output } from './output.js';

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
  const { url, schema } = rt.config.database;
  // Checked before the lock: a mistyped schema must not take a leader lock of its own.
  if (options.dryRun) await requireCurrentSchema(rt.pool, schema);
  else await prepareSchemaForRun(rt.pool, schema, rt.logger);
  const lock = options.dryRun
    ? null
    : await ReconcileLock.acquire(url, schema, rt.config.reconcile.lockWaitSeconds, rt.logger);
  try {
    const result = await runRecordedPass(rt, {
      dryRun: options.dryRun,
      allowMassDelete: options.allowMassDelete,
    });
    out.print(
      options.json
        ? JSON.stringify({ ...planJson(result), ...runJson(result) }, null, 2)
        : renderRun(result),
    );
    return exitCodeOf(result);
  } finally {
    await lock?.release();
  }
}
