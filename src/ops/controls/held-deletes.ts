import { ConfigurationError } from '../../domain/errors.js';
import type { DeleteChange } from '../../domain/types.js';
import type { PassDeps } from '../../pass/context.js';
import { runPass } from '../../pass/run.js';

// Approving held deletes — `connector-sync approve-deletes` and the console's
// "approve delete" (docs/concepts/ownership-and-safety.md, "Approving held
// deletes"): the deletes the guards hold now, read by a dry pass, and those of
// the chosen connectors picked out. The approval then goes to the leading
// worker as a sync request naming the deployments (postgres/sync-requests.ts).

/** Which held deletes: those of these connectors, or every one (orphans' too). */
export type Selection = { ids: string[] } | { all: true };

/** The deletes the guards hold now, as a full pass would see them (it reads, never writes). */
export async function heldNow(deps: PassDeps): Promise<DeleteChange[]> {
  const plan = await runPass(deps, { dryRun: true, allowMassDelete: false });
  return plan.plan.heldDeletes?.deletes ?? [];
}

/** The held deletes `selection` names; a connector with none held is a ConfigurationError. */
export function chooseHeld(held: DeleteChange[], selection: Selection): DeleteChange[] {
  if ('all' in selection) return held;
  const wanted = new Set(selection.ids);
  const chosen = held.filter((d) => d.connectorId !== null && wanted.has(d.connectorId));
  const found = new Set(chosen.map((d) => d.connectorId));
  const none = selection.ids.filter((id) => !found.has(id));
  if (none.length > 0)
    throw new ConfigurationError([
      `no held delete for connector${none.length > 1 ? 's' : ''} ${none.join(', ')} (\`connector-sync plan\` lists the held deletes; --all approves every one)`,
    ]);
  return chosen;
}

/** The connectors whose deployments `chosen` deletes, once each. */
export function connectorsOf(chosen: DeleteChange[]): string[] {
  return [...new Set(chosen.flatMap((d) => (d.connectorId ? [d.connectorId] : [])))];
}
