// The values that flow through a pass: rows → specs → plan → changes.
// Pure data, no behaviour: every module of the core speaks these types.

/** A connector row as read from the source table; values are untrusted until validated. */
export interface SourceRow {
  /** The id column cast to text: the connector's key everywhere outside Prefect parameters. */
  id: string;
  name: unknown;
  schedule: unknown;
  timezone: unknown;
  isActive: unknown;
  parameters: unknown;
  deleted: boolean;
  prefectDeploymentId: string | null;
  /** Optional per-connector columns (docs/concepts/connectors-and-deployments.md, "Per-connector settings"); undefined when absent. */
  workPoolName?: unknown;
  workQueueName?: unknown;
  jobVariables?: unknown;
  tags?: unknown;
  concurrencyLimit?: unknown;
}

/** What the id column is, decided by its Postgres type, never by the value. */
export type IdKind = 'number' | 'string';

export interface SourceSnapshot {
  rows: SourceRow[];
  idKind: IdKind;
  hasDeploymentIdColumn: boolean;
}

/** A row that passed validation, with every default applied. */
export interface ConnectorRow {
  id: string;
  name: string;
  cron: string | null;
  timezone: string;
  isActive: boolean;
  parameters: Record<string, unknown>;
  prefectDeploymentId: string | null;
  /** What the row's own columns say about its deployment; null (or empty) = as configured. */
  overrides: RowOverrides;
}

export interface RowOverrides {
  workPoolName: string | null;
  workQueueName: string | null;
  jobVariables: Record<string, unknown> | null;
  tags: string[];
  concurrencyLimit: number | null;
}

export type CollisionStrategy = 'ENQUEUE' | 'CANCEL_NEW';

/** The deployment a flow's release registers (deployment.template): what connectors take from it. */
export interface TemplateDeployment {
  id: string;
  name: string;
  flow_id: string;
  version: string | null;
  parameter_openapi_schema: Record<string, unknown> | null;
  enforce_parameter_schema: boolean;
  entrypoint: string | null;
  path: string | null;
  pull_steps: Record<string, unknown>[] | null;
  job_variables: Record<string, unknown> | null;
  work_pool_name: string | null;
  work_queue_name: string | null;
}

export interface ScheduleSpec {
  cron: string;
  timezone: string;
  day_or: boolean;
  active: boolean;
  slug: string;
}

/** The deployment a connector should have, in Prefect API field names. */
export interface DeploymentSpec {
  connectorId: string;
  connectorName: string;
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  schedules: ScheduleSpec[];
  paused: boolean;
  tags: string[];
  work_pool_name: string;
  work_queue_name: string;
  entrypoint: string;
  path: string | null;
  pull_steps: Record<string, unknown>[] | null;
  job_variables: Record<string, unknown>;
  /** Which release and which revision of the row made it (docs/concepts/connectors-and-deployments.md, "Versions"). */
  version: string;
  /** The flow's parameters, for Prefect's UI, CLI and its own validation ({} = none known). */
  parameter_openapi_schema: Record<string, unknown>;
  enforce_parameter_schema: boolean;
  concurrency_limit: number | null;
  /** Only with a concurrency limit. */
  concurrency_options: { collision_strategy: CollisionStrategy } | null;
}

/** A schedule as Prefect returns it. */
export interface DeploymentSchedule {
  id: string;
  schedule: Record<string, unknown>;
  active: boolean;
  slug: string | null;
  parameters?: Record<string, unknown> | null;
  max_scheduled_runs?: number | null;
}

/** A deployment as Prefect returns it (the fields we read). */
export interface Deployment {
  id: string;
  name: string;
  flow_id: string;
  description: string | null;
  parameters: Record<string, unknown> | null;
  schedules: DeploymentSchedule[];
  paused: boolean;
  tags: string[];
  work_pool_name: string | null;
  work_queue_name: string | null;
  work_queue_id?: string | null;
  entrypoint: string | null;
  path: string | null;
  pull_steps: Record<string, unknown>[] | null;
  job_variables: Record<string, unknown> | null;
  version?: string | null;
  parameter_openapi_schema?: Record<string, unknown> | null;
  enforce_parameter_schema?: boolean | null;
  concurrency_limit?: number | null;
  concurrency_options?: { collision_strategy: string } | null;
  /** Prefect's readiness (READY: a worker polled its pool lately); read only, never sent. */
  status?: string | null;
}

/** The fields we compare and may patch. Names are Prefect's. */
export const MANAGED_FIELDS = [
  'description',
  'parameters',
  'schedules',
  'paused',
  'tags',
  'work_pool_name',
  'work_queue_name',
  'entrypoint',
  'path',
  'pull_steps',
  'job_variables',
  'version',
  'parameter_openapi_schema',
  'enforce_parameter_schema',
  'concurrency_limit',
  'concurrency_options',
] as const;
export type ManagedField = (typeof MANAGED_FIELDS)[number];

export type FieldChanges = Partial<Record<ManagedField, { from: unknown; to: unknown }>>;

export type ChangeAction = 'create' | 'update' | 'pause' | 'resume' | 'delete';

export type DeleteReason =
  | 'row deleted'
  | 'soft-deleted'
  | 'inactive'
  /** onInactive: delete, for a row that is also invalid: its runs stop, its problem stands. */
  | 'inactive, row invalid'
  | 'orphan'
  | 'renamed'
  | 'moved to another flow';

/**
 * Why a deployment that is not the connector's own desired one is paused:
 * the row is inactive but invalid (its runs stop whatever else is wrong), or
 * its delete is held back by the mass-delete guard (it must not run beside
 * the connector's live deployment meanwhile).
 */
export type PauseReason = 'row invalid' | 'delete held back';

export type Change =
  | { action: 'create'; connectorId: string; spec: DeploymentSpec }
  | {
      action: 'update' | 'pause' | 'resume';
      connectorId: string;
      connectorName: string | null;
      deployment: Deployment;
      /** From/to of each field to change; `to` is exactly what is sent. */
      fields: FieldChanges;
      /** Only on a pause that stops runs without syncing the connector (see PauseReason). */
      reason?: PauseReason;
      /**
       * Set when the connector's desired deployment is what it was when Prefect
       * last got it from us (same version): the difference was made in Prefect.
       */
      cause?: 'drift';
    }
  | {
      action: 'delete';
      connectorId: string | null;
      connectorName: string | null;
      deployment: Deployment;
      reason: DeleteReason;
    };

/** A change Prefect took, with its event. */
export interface Applied {
  change: Change;
  /** The deployment after the change (null for deletes). */
  result: Deployment | null;
  eventId: string;
}

export type UpdateChange = Extract<Change, { action: 'update' | 'pause' | 'resume' }>;
export type DeleteChange = Extract<Change, { action: 'delete' }>;

export type ProblemStatus = 'invalid' | 'conflict' | 'failed';

export interface Problem {
  connectorId: string;
  connectorName: string | null;
  status: ProblemStatus;
  message: string;
  retryable: boolean;
  /**
   * An invalid row whose connector has a deployment: it still runs the spec
   * of its last sync (this time); null or absent when it has none.
   */
  stillRunningSince?: Date | null;
}

/** Something worth telling the operator that is neither a change nor a connector problem. */
export interface Notice {
  connectorId: string | null;
  message: string;
}

/** A connector whose deployment's delete the mass-delete guard held back, and what that means for it. */
export interface HeldConnector {
  connectorId: string;
  connectorName: string | null;
  message: string;
  /** The deployment a renamed connector gets once its old one is deleted; not created meanwhile. */
  notCreated: string | null;
}

/**
 * The rule that held deletes back (docs/concepts/ownership-and-safety.md):
 * more than a pass may make, more than the sliding window's budget, or a
 * source that shrank past its limit since the last good pass.
 */
export const HOLD_RULES = ['per-pass', 'budget', 'source-shrank'] as const;
export type HoldRule = (typeof HOLD_RULES)[number];

export interface HeldDeletes {
  rule: HoldRule;
  /** The rule's words for a line: "the mass-delete guard", "the delete budget", … */
  by: string;
  /** Deletes held back (with a budget, the pass made the ones it had room for). */
  count: number;
  /** The rule's limit: deletes per pass, per window, or the rows of the last good pass. */
  limit: number;
  deletes: DeleteChange[];
  /** The connectors those deletes belong to (orphans have none). */
  connectors: HeldConnector[];
}

/** An operator's hold on one connector (`connector-sync suspend`): who, why, since when. */
export interface Suspension {
  by: string;
  reason: string;
  since: Date;
}

/** A suspended connector the plan left exactly as it is, with its deployment (if it has one). */
export interface SuspendedConnector extends Suspension {
  connectorId: string;
  /** Its managed deployment as listed this pass; null when it has none (none is created). */
  deploymentName: string | null;
  /** Its deployment differs from its row: a change the suspension holds back. */
  wouldChange?: boolean;
}

export interface Plan {
  changes: Change[];
  problems: Problem[];
  notices: Notice[];
  /** Connectors whose deployment already matches. */
  unchanged: string[];
  /** Set when the mass-delete guard held deletes back. */
  heldDeletes: HeldDeletes | null;
  /** Connectors an operator suspended: nothing of theirs is changed, created or deleted. */
  suspended: SuspendedConnector[];
}
