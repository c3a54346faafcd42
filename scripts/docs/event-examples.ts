// An example of each event, made by the builders a pass uses and stored as the log stores it.

import type { Config } from '../../src/config/schema.ts';
import type {
  EventDraft,
  ReleaseAction,
  RelatedContext,
  StoredEvent,
} from '../../src/domain/events.ts';
import type { EventAction } from '../../src/domain/vocabulary.ts';
import type { Change, Deployment, DeploymentSpec } from '../../src/domain/types.ts';
import { EVENT_COLUMNS } from './event-columns.ts';
import {
  configSchema,
  connectorEvents,
  eventForChange,
  eventRow,
  releaseEvent,
  SCHEDULE_SLUG,
  vocabulary,
} from './modules.ts';

const IDS = {
  deployment: '0190a3c2-7b1e-7d4a-9e51-4c2f8b6d1a01',
  oldDeployment: '0190a3c2-7b1e-7d4a-9e51-4c2f8b6d1a17',
  flow: '0190a3c2-6f00-7a10-8c3e-1b2d3e4f5a60',
  queue: '0190a3c2-6f00-7a10-8c3e-1b2d3e4f5a70',
  pool: '0190a3c2-6f00-7a10-8c3e-1b2d3e4f5a80',
  event: '0190a3d0-1c2b-7e3f-8a4b-5c6d7e8f9a0b',
  pass: '0190a3cf-ff00-7b6c-9d8e-7f6a5b4c3d2e',
};
const OCCURRED = new Date('2026-05-04T08:00:01.234Z');
const CONTEXT: RelatedContext = {
  flow: { id: IDS.flow, name: 'run_connector_pipeline' },
  workPools: [{ id: IDS.pool, name: 'default' }],
};
const CONNECTOR = { id: '42', name: 'Salesforce accounts' };

const SPEC: DeploymentSpec = {
  connectorId: CONNECTOR.id,
  connectorName: CONNECTOR.name,
  name: 'connector-42',
  description: `${CONNECTOR.name}\n\nManaged by connector-sync from row 42 of cai_connectors: edits made in Prefect are reverted.`,
  parameters: {
    connector_id: '42',
    source: 'salesforce',
    object: 'Account',
    client_secret: 's3cr3t',
  },
  schedules: [
    { cron: '0 * * * *', timezone: 'UTC', day_or: true, active: true, slug: SCHEDULE_SLUG },
  ],
  paused: false,
  tags: ['managed-by:connector-sync', 'connector-42'],
  work_pool_name: 'default',
  work_queue_name: 'default',
  entrypoint: 'flows/dlt_pipeline_flow.py:run_connector_pipeline',
  path: '/opt/flows',
  pull_steps: null,
  job_variables: {},
  version: '2026.05.1+3f9c2a1b',
  parameter_openapi_schema: {},
  enforce_parameter_schema: false,
  concurrency_limit: null,
  concurrency_options: null,
};

/** The deployment Prefect answers for SPEC. */
const DEPLOYMENT: Deployment = {
  id: IDS.deployment,
  name: SPEC.name,
  flow_id: IDS.flow,
  description: SPEC.description,
  parameters: SPEC.parameters,
  schedules: [
    {
      id: '0190a3d0-1c2b-7e3f-8a4b-000000000001',
      schedule: { cron: '0 * * * *', timezone: 'UTC', day_or: true },
      active: true,
      slug: SCHEDULE_SLUG,
      parameters: {},
    },
  ],
  paused: false,
  tags: SPEC.tags,
  work_pool_name: 'default',
  work_queue_name: 'default',
  work_queue_id: IDS.queue,
  entrypoint: SPEC.entrypoint,
  path: SPEC.path,
  pull_steps: null,
  job_variables: {},
  version: SPEC.version,
  parameter_openapi_schema: {},
  enforce_parameter_schema: false,
  concurrency_limit: null,
  concurrency_options: null,
};

const UPDATE: Change = {
  action: 'update',
  connectorId: CONNECTOR.id,
  connectorName: CONNECTOR.name,
  deployment: DEPLOYMENT,
  fields: {
    parameters: {
      from: SPEC.parameters,
      to: { ...SPEC.parameters, object: 'Opportunity', client_secret: 'n3w-s3cr3t' },
    },
    version: { from: SPEC.version, to: '2026.05.1+8d41e07c' },
  },
};

function pauseChange(paused: boolean): Change {
  return {
    ...UPDATE,
    action: paused ? 'pause' : 'resume',
    fields: { paused: { from: !paused, to: paused } },
  } as Change;
}

const OLD_DEPLOYMENT: Deployment = {
  ...DEPLOYMENT,
  id: IDS.oldDeployment,
  name: 'connector-17',
  description:
    'HubSpot contacts\n\nManaged by connector-sync from row 17 of cai_connectors: edits made in Prefect are reverted.',
  parameters: { connector_id: '17', source: 'hubspot', object: 'contacts' },
  tags: ['managed-by:connector-sync', 'connector-17'],
};

const SUBJECT = { deployment: DEPLOYMENT, context: CONTEXT };

/** One example draft per action, each from the builder a pass uses. */
function exampleDrafts(): Record<EventAction, EventDraft> {
  const { failedEvent, recoveredEvent, heldEvent, passEvent, sourceShrankEvent } = connectorEvents;
  const failure = 'update failed: Prefect PATCH /deployments/{id} failed: ECONNRESET';
  const pass = {
    id: IDS.pass,
    kind: 'full' as const,
    error:
      'Prefect kept failing (5 changes in a row): Prefect PATCH /deployments/{id} failed: ECONNREFUSED',
    durationMs: 12_034,
  };
  return {
    created: eventForChange(
      { action: 'create', connectorId: CONNECTOR.id, spec: SPEC },
      DEPLOYMENT,
      CONTEXT,
    ),
    updated: eventForChange(UPDATE, DEPLOYMENT, CONTEXT),
    paused: eventForChange(pauseChange(true), { ...DEPLOYMENT, paused: true }, CONTEXT),
    resumed: eventForChange(pauseChange(false), DEPLOYMENT, CONTEXT),
    deleted: eventForChange(
      {
        action: 'delete',
        connectorId: '17',
        connectorName: 'HubSpot contacts',
        deployment: OLD_DEPLOYMENT,
        reason: 'row deleted',
      },
      null,
      CONTEXT,
    ),
    failed: failedEvent(
      {
        connectorId: CONNECTOR.id,
        connectorName: CONNECTOR.name,
        status: 'failed',
        message: failure,
        retryable: true,
      },
      SUBJECT,
    ),
    recovered: recoveredEvent(CONNECTOR, { status: 'failed', message: failure }, SUBJECT),
    held: heldEvent(
      {
        connectorId: '17',
        connectorName: 'HubSpot contacts',
        message:
          'deployment "connector-17" (row deleted) not deleted: the mass-delete guard held back all 40 deletes of this pass (limit 25); run with --allow-mass-delete if they are intended',
      },
      { deployment: OLD_DEPLOYMENT, context: CONTEXT },
    ),
    'pass-failed': passEvent({
      ...pass,
      outcome: 'failed',
      error: 'Prefect unreachable: connect ECONNREFUSED 10.0.0.7:4200',
    }),
    'pass-aborted': passEvent({ ...pass, outcome: 'aborted' }),
    'source-shrank': sourceShrankEvent({
      table: 'cai_connectors',
      from: 1200,
      to: 0,
      limit: '50%',
      held: 1200,
    }),
    ...releaseExamples(),
  };
}

/** One example of each release event, as the release step and the release commands write them. */
function releaseExamples(): Record<ReleaseAction, EventDraft> {
  const run = '0190a3d1-0000-7000-8000-00000000f10a';
  return {
    'release-started': releaseEvent('release-started', '2026.05.2', {
      previous: '2026.05.1',
      waves: [1, '10%', '100%'],
      wave: 1,
      connectors: ['42'],
    }),
    'release-wave-passed': releaseEvent(
      'release-wave-passed',
      '2026.05.2',
      { wave: 1, connectors: ['42'], verify: 'trigger', next: ['7', '9', '17'] },
      [run],
    ),
    'release-paused': releaseEvent('release-paused', '2026.05.2', {
      by: 'alice',
      reason: 'checking the canary by hand',
    }),
    'release-resumed': releaseEvent('release-resumed', '2026.05.2', { by: 'alice', retry: false }),
    'release-failed': releaseEvent(
      'release-failed',
      '2026.05.2',
      {
        wave: 1,
        reason: `run ${run} of 2026.05.2 ended Crashed: Flow could not be retrieved from deployment.`,
        run,
      },
      [run],
    ),
    'release-rolled-back': releaseEvent('release-rolled-back', '2026.05.2', {
      to: '2026.05.1',
      connectors: ['42'],
    }),
    'release-completed': releaseEvent('release-completed', '2026.05.2', {
      waves: [1, '10%', '100%'],
      connectors: 40,
    }),
  };
}

export const EXAMPLE_CONFIG: Config = configSchema.parse({
  prefect: { apiUrl: 'http://127.0.0.1:4200/api' },
  database: { url: 'postgres://connector_sync@db:5432/app' },
});

/** A draft as the event log stores it (payload masked), its columns in table order. */
function stored(draft: EventDraft): StoredEvent {
  const row = eventRow(
    { config: EXAMPLE_CONFIG, newId: () => IDS.event },
    draft,
    IDS.pass,
    OCCURRED,
  );
  return Object.fromEntries(
    Object.keys(EVENT_COLUMNS).map((column) => [column, row[column as keyof typeof row]]),
  ) as unknown as StoredEvent;
}

/** The examples as stored, each checked to be of the action it stands for. */
export function storedExamples(): Record<EventAction, StoredEvent> {
  const drafts = exampleDrafts();
  for (const [action, draft] of Object.entries(drafts))
    if (draft.action !== action)
      throw new Error(`the ${action} example is a ${draft.action} event`);
  return Object.fromEntries(
    vocabulary.EVENT_ACTIONS.map((action) => [action, stored(drafts[action])]),
  ) as Record<EventAction, StoredEvent>;
}
