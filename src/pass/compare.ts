import { actualFields, desiredFields, diffDeployment } from '../domain/diff.js';
import type { Deployment, ManagedField, Problem } from '../domain/types.js';
import { maskerOf } from '../domain/mask.js';
import type { PassDeps } from './context.js';
import { observe } from './observe.js';
import { judge } from './judge.js';

// One connector's desired deployment beside the one Prefect has, field by
// field: what the console's connector page shows. It reads exactly what a
// targeted pass reads (observe) and judges it the same way, and writes
// nothing — so it works on a standby replica too.

export interface ConnectorComparison {
  /** Its row's name (data, never markup); null when the row is gone or its name is not text. */
  name: string | null;
  /** What its row asks for; null when the row is gone, soft-deleted or invalid. */
  desired: { name: string; fields: Record<ManagedField, unknown> } | null;
  /** Its managed deployment in Prefect (the one named as desired, else any); null when none. */
  actual: { id: string; name: string; fields: Record<ManagedField, unknown> } | null;
  /** The fields a pass would change (all of them are in `desired` and `actual`). */
  differs: ManagedField[];
  /**
   * Values under secret keys are "[masked]" on both sides (docs/guides/security.md); these are the masked paths whose values differ.
   */
  maskedDiffers: string[];
  /** Why its row cannot be synced as it is, if it cannot. */
  problem: Pick<Problem, 'status' | 'message'> | null;
}

export async function compareConnector(deps: PassDeps, id: string): Promise<ConnectorComparison> {
  const masker = maskerOf(deps.config.masking.keys);
  const snapshot = await observe(deps, [id]);
  const judgement = judge(snapshot, deps.config, {}, deps.now());
  const spec = judgement.specs.find((s) => s.connectorId === id) ?? null;
  const found = judgement.validated.problems.find((p) => p.connectorId === id);
  const deployment: Deployment | null =
    snapshot.managed.find((d) => d.name === spec?.name) ?? snapshot.managed[0] ?? null;
  const row = snapshot.source.rows.find((r) => r.id === id);
  const desired = spec && { name: spec.name, fields: desiredFields(spec) };
  const actual = deployment && {
    id: deployment.id,
    name: deployment.name,
    fields: actualFields(deployment),
  };
  return {
    name: typeof row?.name === 'string' ? row.name : null,
    // Shown masked; what differs is judged on the real values.
    desired: desired && { ...desired, fields: masker.mask(desired.fields) },
    actual: actual && { ...actual, fields: masker.mask(actual.fields) },
    differs:
      spec && deployment ? (Object.keys(diffDeployment(spec, deployment)) as ManagedField[]) : [],
    maskedDiffers: desired && actual ? masker.changedSecrets(actual.fields, desired.fields) : [],
    problem: found ? { status: found.status, message: found.message } : null,
  };
}
