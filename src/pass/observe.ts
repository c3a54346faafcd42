import type {
  Deployment,
  Suspension,
  TemplateDeployment,
  SourceSnapshot,
} from '../domain/types.js';
import { connectorTag } from '../domain/vocabulary.js';
import { ownedBy } from '../domain/ownership.js';
import { ConfigurationError } from '../domain/errors.js';
import { PrefectError } from '../prefect/errors.js';
import { flowNameOf } from '../config/schema.js';
import type { PassDeps } from './context.js';
import type { ConnectorState } from '../domain/connector-state.js';
import type { Intent } from '../domain/settle.js';
import { parseDuration } from '../domain/duration.js';
import type { SourceHealth } from '../domain/source-health.js';
import { lastGood, releaseSpecOf, specHashOf, type Release } from '../domain/release.js';
import { desiredSettings } from './settings.js';

/** Everything a pass reads before it decides: both sides, its own state, the open intents. */
export interface Snapshot {
  /** The template deployment (deployment.template), null when none is configured. */
  template: TemplateDeployment | null;
  source: SourceSnapshot;
  states: Map<string, ConnectorState>;
  /** Connectors an operator suspended (`connector-sync suspend`), read before the listing. */
  suspensions: Map<string, Suspension>;
  flowId: string | null;
  /** This installation's managed deployments (a targeted pass: its connectors' only). */
  managed: Deployment[];
  /** Open intents (a targeted pass: its connectors' only, as its listing covers nothing else). */
  intents: Intent[];
  /** The database's clock when the intents were read (their age is judged on it); null when none is open. */
  intentsReadAt: Date | null;
  /** Deletes made within the delete budget's window (reconcile.deleteBudget). */
  deletesInWindow: number;
  /** The source check's memory; null in a targeted pass (its rows are a few, not the source). */
  sourceHealth: SourceHealth | null;
  /** The release ledger, oldest first (docs/concepts/releases.md). */
  releases: Release[];
  /**
   * Connector id → whether its last finished run completed: read only when a
   * full pass is about to start a release in waves (its canaries are chosen by it).
   */
  lastRuns: Map<string, boolean> | null;
}

/**
 * Step 1 of a pass, observe: read both sides. Reads only: `plan` observes
 * exactly what a pass does. A pass with nothing to change makes the listing and one more call:
 * the template read (which names the flow), or the flow lookup.
 */
export async function observe(deps: PassDeps, scope: string[] | undefined): Promise<Snapshot> {
  try {
    return await read(deps, scope);
  } catch (error) {
    throw asSetupProblem(error);
  }
}

async function read(deps: PassDeps, scope: string[] | undefined): Promise<Snapshot> {
  const { config, prefect, store } = deps;
  const template = await readTemplate(deps);
  const source = await store.readSource(scope);
  const states = await store.loadStates();
  const suspensions = inScopeOnly(await store.loadSuspensions(), scope);
  const flowId = template
    ? template.flow_id
    : await prefect.readFlowId(flowNameOf(config.deployment));
  const listed = await listManaged(deps, scope);
  // The template is the release's, never a connector's: not changed, never an orphan.
  const managed = template ? listed.filter((d) => d.id !== template.id) : listed;
  const inScope = scope ? new Set(scope) : null;
  const intents = (await store.openIntents()).filter(
    (intent) =>
      inScope === null ||
      (intent.change.connectorId !== null && inScope.has(intent.change.connectorId)),
  );
  const intentsReadAt = intents.length > 0 ? await store.now() : null;
  const window = parseDuration(config.reconcile.deleteBudget.window)!;
  const releases = await store.readReleases();
  const startsRelease = !scope && releaseStarts(deps, source.idKind, template, releases);
  return {
    releases,
    lastRuns: startsRelease ? await store.readLastRunCompleted() : null,
    template,
    source,
    states,
    suspensions,
    flowId,
    managed,
    intents,
    intentsReadAt,
    deletesInWindow: await store.deletesWithin(window),
    sourceHealth: scope ? null : await store.readSourceHealth(),
  };
}

/** Whether the template's release is one the ledger does not know, to go out in waves. */
function releaseStarts(
  deps: PassDeps,
  idKind: SourceSnapshot['idKind'],
  template: TemplateDeployment | null,
  releases: Release[],
): boolean {
  const hash = specHashOf(releaseSpecOf(desiredSettings(deps.config, idKind, template)));
  const first = deps.config.rollout.waves[0];
  return (
    lastGood(releases) !== null && !releases.some((r) => r.specHash === hash) && first !== '100%'
  );
}

/** A targeted pass speaks only of its own connectors. */
function inScopeOnly<T>(byId: Map<string, T>, scope: string[] | undefined): Map<string, T> {
  if (!scope) return byId;
  return new Map(scope.flatMap((id) => (byId.has(id) ? [[id, byId.get(id)!] as const] : [])));
}

/**
 * The managed deployments that are this installation's: listed by the managed
 * tag, those of other installations sharing it left out (domain/ownership.ts).
 */
async function listManaged(deps: PassDeps, scope: string[] | undefined): Promise<Deployment[]> {
  const { prefect, config } = deps;
  try {
    const listed = scope
      ? await prefect.listManagedOf(config.ownership.managedTag, scope.map(connectorTag))
      : await prefect.listByTag(config.ownership.managedTag);
    return listed.filter((d) => ownedBy(d.tags, config.installation));
  } catch (error) {
    // Prefect's API never 404s a listing: a URL that does is not its API root.
    if (error instanceof PrefectError && error.kind === 'not-found') await prefect.assertApiRoot();
    throw error;
  }
}

async function readTemplate(deps: PassDeps): Promise<TemplateDeployment | null> {
  const name = deps.config.deployment.template;
  if (name === null) return null;
  const [flow, deployment] = name.split('/') as [string, string];
  const template = await deps.prefect.readTemplate(flow, deployment);
  if (template) return template;
  await deps.prefect.assertApiRoot();
  throw new ConfigurationError([
    `template deployment "${name}" does not exist in Prefect (deployment.template); register it with the flow's release (prefect deploy, or flow.deploy()) first`,
  ]);
}

/** Problems shared by every connector are reported once, as what they are. */
export function asSetupProblem(error: unknown): unknown {
  if (error instanceof PrefectError && error.kind === 'auth')
    return new ConfigurationError([
      `Prefect refused the credentials (${error.status}); check PREFECT_API_KEY / PREFECT_API_AUTH_STRING`,
    ]);
  return error;
}
