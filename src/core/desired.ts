import { deploymentName } from './validate.js';
import { connectorTag } from './vocabulary.js';
import type { ConnectorRow, DeploymentSpec, IdKind } from './types.js';

export const SCHEDULE_SLUG = 'connector-sync';

export interface DesiredSettings {
  idKind: IdKind;
  nameTemplate: string;
  tags: string[];
  managedTag: string;
  workPoolName: string;
  workQueueName: string;
  entrypoint: string;
  path: string | null;
  pullSteps: Record<string, unknown>[] | null;
  jobVariables: Record<string, unknown>;
}

/** The deployment a valid connector row should have (README, "What a connector becomes in Prefect"). */
export function desiredDeployment(row: ConnectorRow, settings: DesiredSettings): DeploymentSpec {
  const connectorIdParam = settings.idKind === 'number' ? Number(row.id) : row.id;
  return {
    connectorId: row.id,
    connectorName: row.name,
    name: deploymentName(settings.nameTemplate, row.id),
    description: row.name,
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
    tags: [...new Set([...settings.tags, settings.managedTag, connectorTag(row.id)])].sort(),
    work_pool_name: settings.workPoolName,
    work_queue_name: settings.workQueueName,
    entrypoint: settings.entrypoint,
    path: settings.path,
    pull_steps: settings.pullSteps,
    job_variables: settings.jobVariables,
  };
}
