import { ConfigurationError } from '../../domain/errors.js';
import { EXIT } from '../../domain/exit-codes.js';
import { maskerOf } from '../../domain/mask.js';
import type { DeleteChange } from '../../domain/types.js';
import { requireCurrentSchema } from '../../postgres/schema-check.js';
import {
  chooseHeld,
  connectorsOf,
  heldNow,
  type Selection,
} from '../../ops/controls/held-deletes.js';
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

export type { Selection };

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
  const chosen = chooseHeld(await heldNow(rt), selection);
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
      connectorIds: connectorsOf(chosen),
      approvedDeletes: deploymentIds,
      pass: { allowMassDelete: false, approvedDeletes: new Set(deploymentIds) },
      outcomeOf: (result) => approvalOutcomeOf(result, deploymentIds, masker),
    },
    options,
    out,
  );
}

function listing(chosen: DeleteChange[]): string {
  const lines = chosen.map(
    (d) =>
      `  - ${d.deployment.name} (${d.connectorId === null ? 'no connector' : `connector ${d.connectorId}`}: ${d.reason})`,
  );
  return `Approving ${chosen.length} held delete${chosen.length === 1 ? '' : 's'}:\n${lines.join('\n')}`;
}
