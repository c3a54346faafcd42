import type { Deployment } from '../domain/types.js';
import type { PassDeps } from './context.js';
import { ownedBy } from '../domain/ownership.js';

// Step 3 of a pass, look up strangers: read only when a create is planned,
// and only for its names. A deployment of our flow with the name a create
// wants that does not carry the managed tag is a stranger — a conflict, or
// one to adopt (ownership.adopt); step 4 decides which. One of another
// installation is always a conflict.

/**
 * Deployments of our flow with these names that are not ours (a conflict,
 * or one to adopt): read only for the names a create is planned for.
 */
export async function lookUpStrangers(
  deps: PassDeps,
  flowId: string | null,
  names: string[],
): Promise<Deployment[]> {
  if (flowId === null || names.length === 0) return [];
  const found = await deps.prefect.findByNames(flowId, names);
  const { managedTag } = deps.config.ownership;
  // Another installation's deployment is a stranger too (step 4 never adopts it).
  return found.filter(
    (d) => !d.tags.includes(managedTag) || !ownedBy(d.tags, deps.config.installation),
  );
}
