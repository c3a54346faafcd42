import { createHash } from 'node:crypto';
import { canonicalJson } from './json.js';
import type { CollisionStrategy, ConnectorRow, DeploymentSpec, IdKind } from './types.js';
import { deploymentName } from './validate.js';
import { connectorTag } from './vocabulary.js';

export const SCHEDULE_SLUG = 'connector-sync';

/** The settings every connector's deployment starts from: configuration over the template. */
export interface DesiredSettings {
  idKind: IdKind;
  nameTemplate: string;
  tags: string[];
  /** The managed tag, and the installation's tag unless it is `default` (domain/ownership.ts). */
  ownershipTags: string[];
  /** The source table, named in each description. */
  sourceTable: string;
  workPoolName: string;
  workQueueName: string;
  entrypoint: string;
  path: string | null;
  pullSteps: Record<string, unknown>[] | null;
  jobVariables: Record<string, unknown>;
  /** The release the deployments come from (the template's version, or deployment.version). */
  release: string | null;
  /** {} when no schema is known. */
  parameterSchema: Record<string, unknown>;
  enforceParameterSchema: boolean;
  concurrencyLimit: number | null;
  collisionStrategy: CollisionStrategy;
}

/** The deployment a valid connector row should have (docs/concepts/connectors-and-deployments.md). */
export function desiredDeployment(row: ConnectorRow, settings: DesiredSettings): DeploymentSpec {
  const connectorIdParam = settings.idKind === 'number' ? Number(row.id) : row.id;
  const { overrides } = row;
  const concurrencyLimit = overrides.concurrencyLimit ?? settings.concurrencyLimit;
  const spec: Omit<DeploymentSpec, 'version'> = {
    connectorId: row.id,
    connectorName: row.name,
    name: deploymentName(settings.nameTemplate, row.id),
    description: describedAs(row, settings.sourceTable),
    // The row's id wins over a connector_id key inside its parameters.
    parameters: { ...row.parameters, connector_id: connectorIdParam },
    schedules: row.cron
      ? [
          {
            cron: row.cron,
            timezone: row.timezone,
            day_or: true,
            active: true,
            slug: SCHEDULE_SLUG,
          },
        ]
      : [],
    paused: !row.isActive,
    tags: [
      ...new Set([
        ...settings.tags,
        ...overrides.tags,
        ...settings.ownershipTags,
        connectorTag(row.id),
      ]),
    ].sort(),
    work_pool_name: overrides.workPoolName ?? settings.workPoolName,
    work_queue_name: overrides.workQueueName ?? settings.workQueueName,
    entrypoint: settings.entrypoint,
    path: settings.path,
    pull_steps: settings.pullSteps,
    job_variables: { ...settings.jobVariables, ...(overrides.jobVariables ?? {}) },
    parameter_openapi_schema: settings.parameterSchema,
    enforce_parameter_schema: settings.enforceParameterSchema,
    concurrency_limit: concurrencyLimit,
    concurrency_options:
      concurrencyLimit === null ? null : { collision_strategy: settings.collisionStrategy },
  };
  return { ...spec, version: versionOf(settings.release, spec) };
}

/** The connector's name, and a line that says who keeps the deployment (Prefect's UI shows it). */
function describedAs(row: ConnectorRow, table: string): string {
  return `${row.name}\n\nManaged by connector-sync from row ${row.id} of ${table}: edits made in Prefect are reverted.`;
}

/**
 * `<release>+<hash>`: the release the code came from and a short hash of
 * everything else the deployment is given, so a flow run's
 * `deployment_version` names both (docs/concepts/connectors-and-deployments.md, "Versions").
 */
export function versionOf(release: string | null, spec: Omit<DeploymentSpec, 'version'>): string {
  // What Prefect is sent (the connector's id and name are in it already), but
  // `paused`: a pause is no new revision, and stays a pause (and its event `paused`).
  const sent = Object.fromEntries(
    Object.entries(spec).filter(
      ([key]) => !['connectorId', 'connectorName', 'paused'].includes(key),
    ),
  );
  const hash = createHash('sha256').update(canonicalJson(sent)).digest('hex').slice(0, 8);
  return release === null ? hash : `${release}+${hash}`;
}
