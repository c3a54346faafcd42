// Builders shared by the unit tests of the pure core (not a test file itself).
import type { HeldLease } from '../../src/postgres/lease.js';
import { desiredDeployment, type DesiredSettings } from '../../src/domain/desired.js';
import type { PlanInput } from '../../src/domain/plan.js';
import type {
  ConnectorRow,
  Deployment,
  DeploymentSpec,
  HeldDeletes,
  Plan,
  Problem,
  SourceRow,
} from '../../src/domain/types.js';
import type { PassResult } from '../../src/pass/result.js';

export const FLOW_ID = '0f1a2b3c-0000-4000-8000-000000000001';
export const OTHER_FLOW_ID = '0f1a2b3c-0000-4000-8000-000000000002';
export const MANAGED_TAG = 'managed-by:connector-sync';

export const SETTINGS: DesiredSettings = {
  idKind: 'number',
  nameTemplate: 'connector-{id}',
  tags: ['team:data'],
  ownershipTags: [MANAGED_TAG],
  workPoolName: 'default',
  workQueueName: 'default',
  entrypoint: 'flows/dlt_pipeline_flow.py:run_connector_pipeline',
  path: null,
  pullSteps: null,
  jobVariables: {},
  sourceTable: 'cai_connectors',
  release: null,
  parameterSchema: {},
  enforceParameterSchema: false,
  concurrencyLimit: null,
  collisionStrategy: 'ENQUEUE',
};

/** A row that sets none of the per-connector columns. */
export const NO_OVERRIDES = {
  workPoolName: null,
  workQueueName: null,
  jobVariables: null,
  tags: [],
  concurrencyLimit: null,
};

export function connectorRow(overrides: Partial<ConnectorRow> = {}): ConnectorRow {
  return {
    id: '42',
    name: 'Orders',
    cron: '0 1 * * *',
    timezone: 'UTC',
    isActive: true,
    parameters: { source: 'crm' },
    prefectDeploymentId: null,
    overrides: NO_OVERRIDES,
    ...overrides,
  };
}

export function sourceRow(overrides: Partial<SourceRow> = {}): SourceRow {
  return {
    id: '42',
    name: 'Orders',
    schedule: '0 1 * * *',
    timezone: 'UTC',
    isActive: true,
    parameters: '{"source": "crm"}',
    deleted: false,
    prefectDeploymentId: null,
    ...overrides,
  };
}

/** The spec of connector `id` (row overrides first, then spec overrides). */
export function specFor(
  id: string,
  rowOverrides: Partial<ConnectorRow> = {},
  settings: Partial<DesiredSettings> = {},
): DeploymentSpec {
  return desiredDeployment(connectorRow({ id, name: `Connector ${id}`, ...rowOverrides }), {
    ...SETTINGS,
    ...settings,
  });
}

/** The deployment Prefect would return for `spec` once it was applied exactly. */
export function deploymentFor(
  spec: DeploymentSpec,
  overrides: Partial<Deployment> = {},
): Deployment {
  return {
    id: `dep-${spec.connectorId}`,
    name: spec.name,
    flow_id: FLOW_ID,
    description: spec.description,
    parameters: structuredClone(spec.parameters),
    schedules: spec.schedules.map((s, i) => ({
      id: `sched-${spec.connectorId}-${i}`,
      schedule: { cron: s.cron, timezone: s.timezone, day_or: s.day_or },
      active: s.active,
      slug: s.slug,
      parameters: {},
      max_scheduled_runs: null,
    })),
    paused: spec.paused,
    tags: [...spec.tags],
    work_pool_name: spec.work_pool_name,
    work_queue_name: spec.work_queue_name,
    work_queue_id: 'wq-default',
    entrypoint: spec.entrypoint,
    path: spec.path,
    pull_steps: spec.pull_steps === null ? null : structuredClone(spec.pull_steps),
    job_variables: structuredClone(spec.job_variables),
    version: spec.version,
    parameter_openapi_schema: spec.parameter_openapi_schema,
    enforce_parameter_schema: spec.enforce_parameter_schema,
    concurrency_limit: spec.concurrency_limit,
    concurrency_options: spec.concurrency_options,
    ...overrides,
  };
}

/** A managed deployment of connector `id` that no row asks for any more. */
export function managedOnly(id: string, overrides: Partial<Deployment> = {}): Deployment {
  return deploymentFor(specFor(id), overrides);
}

export function invalidProblem(id: string, message = 'unknown timezone "Mars/Olympus"'): Problem {
  return {
    connectorId: id,
    connectorName: `Connector ${id}`,
    status: 'invalid',
    message,
    retryable: false,
  };
}

/** The planner's input with nothing in it: no rows, no deployments, the defaults. */
export function planInputOf(overrides: Partial<PlanInput> = {}): PlanInput {
  return {
    specs: [],
    leftAlone: new Set(),
    suspended: new Map(),
    problems: [],
    stopRuns: new Map(),
    softDeleted: new Map(),
    known: new Set(),
    rowAsSynced: new Set(),
    managed: [],
    foreign: [],
    flowId: FLOW_ID,
    configTags: ['team:data'],
    managedTag: MANAGED_TAG,
    onInactive: 'pause',
    adopt: false,
    deleteLimit: { percent: 25 },
    // A budget with room for any pass and a healthy source: the per-pass
    // guard's tests see it alone; the budget's and the source check's set theirs.
    budget: { limit: Number.MAX_SAFE_INTEGER, window: '1h', used: 0 },
    sourceShrank: null,
    allowMassDelete: false,
    ...overrides,
  };
}

/** The per-pass guard's hold of 11 deletes (limit 10), with these overrides. */
export function perPassHold(overrides: Partial<HeldDeletes> = {}): HeldDeletes {
  return {
    rule: 'per-pass',
    by: 'the mass-delete guard',
    count: 11,
    limit: 10,
    deletes: [],
    connectors: [],
    ...overrides,
  };
}

/** A plan with nothing to do. */
export function emptyPlan(overrides: Partial<Plan> = {}): Plan {
  return {
    changes: [],
    problems: [],
    notices: [],
    unchanged: [],
    heldDeletes: null,
    suspended: [],
    ...overrides,
  };
}

/** A pass that ran and did nothing, with these fields instead. */
export function passResultOf(overrides: Partial<PassResult> = {}): PassResult {
  return {
    passId: 'p',
    dryRun: false,
    plan: emptyPlan(),
    applied: [],
    failures: [],
    settled: { tookEffect: 0, didNot: 0 },
    waiting: [],
    events: 0,
    aborted: null,
    calls: { reads: 0, writes: 0, byRoute: {} },
    durationMs: 0,
    ...overrides,
  };
}

/** A reconcile lock that is always free and never lost: the worker leads at once. */
export function freeLease(): HeldLease {
  return { lost: false, assertHeld: () => Promise.resolve(), release: () => Promise.resolve() };
}
