import { requireCurrentSchema } from '../../postgres/schema-check.js';
import { loadSuspensions, resumeAndWake, suspend } from '../../postgres/suspensions.js';
import { EXIT } from '../../domain/exit-codes.js';
import type { Runtime } from '../../runtime.js';
import type { Output } from '../output.js';

// `suspend` and `resume`: an operator's hold on some connectors. Both write
// only the worker's own suspensions table; neither touches Prefect nor takes
// the reconcile lock (a pass reads the table before it plans).

export interface SuspendOptions {
  reason: string;
  by: string;
}

export async function suspendCommand(
  rt: Runtime,
  ids: string[],
  options: SuspendOptions,
  out: Output,
): Promise<number> {
  const { schema } = rt.config.database;
  await requireCurrentSchema(rt.pool, schema);
  await suspend(rt.pool, schema, ids, options.by, options.reason);
  const now = await loadSuspensions(rt.pool, schema, ids);
  for (const id of ids) {
    const s = now.get(id)!;
    out.print(
      `Suspended connector ${id} (by ${s.by}: ${JSON.stringify(s.reason)}; since ${s.since.toISOString()}): its deployment is left as it is until \`connector-sync resume ${id}\`.`,
    );
  }
  rt.logger.info(
    { connectors: ids, by: options.by, reason: options.reason },
    'connectors suspended',
  );
  return EXIT.ok;
}

/** Lifts the hold and wakes a running worker for just these connectors (postgres/suspensions.ts). */
export async function resumeCommand(rt: Runtime, ids: string[], out: Output): Promise<number> {
  const { schema } = rt.config.database;
  await requireCurrentSchema(rt.pool, schema);
  const resumed = new Set(await resumeAndWake(rt.pool, schema, ids));
  for (const id of ids)
    out.print(
      resumed.has(id)
        ? `Resumed connector ${id}: the next pass reconciles it (a running worker at once).`
        : `Connector ${id} was not suspended.`,
    );
  rt.logger.info({ connectors: [...resumed] }, 'connectors resumed');
  return EXIT.ok;
}
