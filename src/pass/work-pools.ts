import { ConfigurationError } from '../domain/errors.js';
import type { Change, Plan, Problem } from '../domain/types.js';
import type { PassDeps } from './context.js';
import { asSetupProblem } from './observe.js';

// Step 5 of a pass, check work pools: the pools the plan's writes send are
// read (each once, and only when there is something to write). The
// configured pool missing is a configuration problem; a pool a row names
// that Prefect does not have makes that connector invalid, and its writes
// leave the plan.

export type WorkPools = Map<string, { id: string; name: string }>;

/** The plan without writes to pools Prefect does not have, and the pools its writes use. */
export async function checkWorkPools(
  deps: PassDeps,
  plan: Plan,
  configured: string,
): Promise<{ plan: Plan; workPools: WorkPools }> {
  const workPools = await workPoolsOf(deps, plan, configured);
  return { plan: withKnownPools(plan, workPools), workPools };
}

/** The work pools the plan's changes send or touch, each read once; none for an empty plan. */
async function workPoolsOf(deps: PassDeps, plan: Plan, configured: string): Promise<WorkPools> {
  if (plan.changes.length === 0) return new Map();
  const { sent, touched } = poolsOf(plan);
  return readWorkPools(deps, [...sent, ...touched], sent.has(configured) ? configured : null);
}

/** Work pools a plan's writes send (a create's, a changed one) and the ones its changes touch. */
export function poolsOf(plan: Plan): { sent: Set<string>; touched: Set<string> } {
  const sent = new Set<string>();
  const touched = new Set<string>();
  for (const change of plan.changes) {
    if (change.action === 'create') sent.add(change.spec.work_pool_name);
    else if (change.action !== 'delete' && change.fields.work_pool_name)
      sent.add(change.fields.work_pool_name.to as string);
    else if (change.deployment.work_pool_name) touched.add(change.deployment.work_pool_name);
  }
  return { sent, touched };
}

/**
 * The plan without the writes that send a work pool Prefect does not have
 * (one a row named): their connectors are invalid, as a row that names a
 * pool that is not there cannot become a deployment.
 */
export function withKnownPools(plan: Plan, known: Map<string, unknown>): Plan {
  const missing = (change: Change): string | null => {
    const pool =
      change.action === 'create'
        ? change.spec.work_pool_name
        : change.action === 'delete'
          ? null
          : ((change.fields.work_pool_name?.to as string | undefined) ?? null);
    return pool !== null && !known.has(pool) ? pool : null;
  };
  const problems: Problem[] = [];
  const changes = plan.changes.filter((change) => {
    const pool = missing(change);
    if (pool === null || change.connectorId === null) return true;
    const connectorName =
      change.action === 'create' ? change.spec.connectorName : change.connectorName;
    problems.push({
      connectorId: change.connectorId,
      connectorName,
      status: 'invalid',
      message: `work pool "${pool}" (the row's work_pool_name) does not exist in Prefect; create it or fix the row`,
      retryable: false,
    });
    return false;
  });
  if (problems.length === 0) return plan;
  return { ...plan, changes, problems: [...plan.problems, ...problems] };
}

/**
 * The work pools the plan's writes use, read once each. The configured one
 * missing is a configuration problem; a pool named by a row that Prefect
 * does not have is left out of the map (those connectors become invalid).
 */
async function readWorkPools(
  deps: PassDeps,
  names: string[],
  /** The configured pool, when a write sends it: it must exist. */
  configured: string | null,
): Promise<WorkPools> {
  const pools: WorkPools = new Map();
  try {
    for (const name of new Set(names)) {
      const pool = await deps.prefect.readWorkPool(name);
      if (pool) pools.set(name, pool);
      else if (name === configured)
        throw new ConfigurationError([
          `work pool "${name}" does not exist in Prefect (deployment.workPoolName, or the template's)`,
        ]);
    }
  } catch (error) {
    throw asSetupProblem(error);
  }
  return pools;
}
