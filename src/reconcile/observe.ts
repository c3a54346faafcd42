import { connectorTag } from '../core/vocabulary.js';
import type { Deployment } from '../core/types.js';
import type { Intent } from '../db/eventlog.js';
import type { SourceSnapshot } from '../db/source.js';
import type { ConnectorState } from '../db/state.js';
import { ConfigurationError } from '../errors.js';
import { PrefectError } from '../prefect/errors.js';
import type { PassDeps } from './context.js';

/** Everything a pass reads before it decides: both sides, its own state, the open intents. */
export interface Snapshot {
  workPool: { id: string; name: string };
  source: SourceSnapshot;
  states: Map<string, ConnectorState>;
  flowId: string | null;
  /** Every deployment carrying the managed tag (a targeted pass: its connectors' only). */
  managed: Deployment[];
  /** Open intents (a targeted pass: its connectors' only, as its listing covers nothing else). */
  intents: Intent[];
  /** The database's clock when the intents were read (their age is judged on it); null when none is open. */
  intentsReadAt: Date | null;
}

/** The read step of a pass. Reads only: `plan` observes exactly what a pass does. */
export async function observe(deps: PassDeps, scope: string[] | undefined): Promise<Snapshot> {
  const { config, prefect, store } = deps;
  const workPool = await preflight(deps);
  const source = await store.readSource(scope);
  const states = await store.loadStates();
  const flowId = await prefect.readFlowId(config.deployment.flowName);
  const managed = scope
    ? await prefect.listManagedOf(config.ownership.managedTag, scope.map(connectorTag))
    : await prefect.listByTag(config.ownership.managedTag);
  const inScope = scope ? new Set(scope) : null;
  const intents = (await store.openIntents()).filter(
    (intent) =>
      inScope === null ||
      (intent.change.connectorId !== null && inScope.has(intent.change.connectorId)),
  );
  const intentsReadAt = intents.length > 0 ? await store.now() : null;
  return { workPool, source, states, flowId, managed, intents, intentsReadAt };
}

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
  return found.filter((d) => !d.tags.includes(deps.config.ownership.managedTag));
}

/** Problems shared by every connector are reported once, as what they are. */
async function preflight(deps: PassDeps): Promise<{ id: string; name: string }> {
  const name = deps.config.deployment.workPoolName;
  try {
    const pool = await deps.prefect.readWorkPool(name);
    if (pool) return pool;
    await deps.prefect.assertApiRoot();
    throw new ConfigurationError([
      `work pool "${name}" does not exist in Prefect (deployment.workPoolName)`,
    ]);
  } catch (error) {
    if (error instanceof PrefectError && error.kind === 'auth') {
      throw new ConfigurationError([
        `Prefect refused the credentials (${error.status}); check PREFECT_API_KEY / PREFECT_API_AUTH_STRING`,
      ]);
    }
    throw error;
  }
}
