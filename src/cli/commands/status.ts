import { requireCurrentSchema } from '../../postgres/schema-check.js';
import { loadStates } from '../../postgres/state.js';
import { loadSuspensions } from '../../postgres/suspensions.js';
import { loadRunHealth } from '../../postgres/run-health.js';
import { readConnectorReleases } from '../../postgres/releases.js';
import { EXIT } from '../../domain/exit-codes.js';
import { renderStatusTable, statusJson } from '../../render/status.js';
import type { Runtime } from '../../runtime.js';
import type { Output } from '../output.js';

/** `connector-sync status`: every connector's sync state and run health. Reads only. */
export async function statusCommand(
  rt: Runtime,
  options: { json?: boolean; status?: string[]; release?: string },
  out: Output,
): Promise<number> {
  await requireCurrentSchema(rt.pool, rt.config.database.schema);
  const { schema } = rt.config.database;
  const releases = await readConnectorReleases(rt.pool, schema);
  // --status and --release narrow the list (a suspended connector no pass saw has neither).
  const filtered = options.status !== undefined || options.release !== undefined;
  const states = [...(await loadStates(rt.pool, schema)).values()].filter(
    (s) =>
      (options.status === undefined || options.status.includes(s.status)) &&
      (options.release === undefined || releases.get(s.connectorId) === options.release),
  );
  const shown = new Set(states.map((s) => s.connectorId));
  const suspensions = new Map(
    [...(await loadSuspensions(rt.pool, schema))].filter(([id]) => !filtered || shown.has(id)),
  );
  const health = await loadRunHealth(rt.pool, schema);
  out.print(
    options.json
      ? JSON.stringify(statusJson(states, suspensions, true, health, releases), null, 2)
      : renderStatusTable(states, suspensions, health, releases),
  );
  return EXIT.ok;
}
