import { ConfigurationError } from '../../domain/errors.js';
import { EXIT } from '../../domain/exit-codes.js';
import { maskerOf } from '../../domain/mask.js';
import type { DeleteChange } from '../../domain/types.js';
import { requireCurrentSchema } from '../../postgres/schema-check.js';
import { runPass } from '../../pass/run.js';
import { approvalOutcomeOf } from '../../render/sync.js';
import type { Runtime } from '../../runtime.js';
import type { Output } from '../output.js';
import { hereOrByLeader, type SyncOptions } from './sync.js';

// `approve-deletes`: an operator lets held deletes go, beside a running worker
// (docs/concepts/ownership-and-safety.md, "Approving held deletes"). It lists
// the deletes held now (a dry pass), hands exactly those — by deployment id —
// to the leading worker as `sync` hands connectors, and prints what its pass
// deleted; with no worker leading it runs that pass itself. A delete held
// later is not covered: it needs an approval of its own.

/** Which held deletes: those of these connectors, or every one (orphans' too). */
export type Selection = { ids: string[] } | { all: true };

export async function approveDeletesCommand(
  rt: Runtime,
  selection: Selection,
  options: SyncOptions,
  out: Output,
): Promise<number> {
  await requireCurrentSchema(rt.pool, rt.config.database.schema);
  if (rt.config.reconcile.mode === 'observe')
    throw new ConfigurationError([
      'observe mode writes nothing to Prefect: there is nothing to approve (reconcile.mode: apply)',
    ]);
  const held = await heldNow(rt);
  const chosen = choose(held, selection);
  if (chosen.length === 0) {
    out.print(
      options.json
        ? JSON.stringify({ approved_deletes: [] }, null, 2)
        : 'No delete is held: nothing to approve.',
    );
    return EXIT.ok;
  }
  if (!options.json) out.print(listing(chosen));
  const deploymentIds = chosen.map((d) => d.deployment.id);
  const masker = maskerOf(rt.config.masking.keys);
  rt.logger.info(
    { deployments: chosen.map((d) => d.deployment.name), by: options.by },
    'approving held deletes',
  );
  return hereOrByLeader(
    rt,
    {
      connectorIds: [...new Set(chosen.flatMap((d) => (d.connectorId ? [d.connectorId] : [])))],
      approvedDeletes: deploymentIds,
      pass: { allowMassDelete: false, approvedDeletes: new Set(deploymentIds) },
      outcomeOf: (result) => approvalOutcomeOf(result, deploymentIds, masker),
    },
    options,
    out,
  );
}

/** The deletes the guards hold now, as a full pass would see them (it reads, never writes). */
async function heldNow(rt: Runtime): Promise<DeleteChange[]> {
  const plan = await runPass(rt, { dryRun: true, allowMassDelete: false });
  return plan.plan.heldDeletes?.deletes ?? [];
}

function choose(held: DeleteChange[], selection: Selection): DeleteChange[] {
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

function listing(chosen: DeleteChange[]): string {
  const lines = chosen.map(
    (d) =>
      `  - ${d.deployment.name} (${d.connectorId === null ? 'no connector' : `connector ${d.connectorId}`}: ${d.reason})`,
  );
  return `Approving ${chosen.length} held delete${chosen.length === 1 ? '' : 's'}:\n${lines.join('\n')}`;
}
