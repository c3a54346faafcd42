import type { EventRow } from '../domain/events.js';
import type {
  Deployment,
  DeploymentSpec,
  FieldChanges,
  Suspension,
  TemplateDeployment,
  SourceSnapshot,
} from '../domain/types.js';
import type { CallCounts } from '../prefect/http.js';
import type { ConnectorState } from '../domain/connector-state.js';
import type { Intent } from '../domain/settle.js';
import type { PassRecord } from '../domain/pass-record.js';
import type { SourceHealth, SourceReading } from '../domain/source-health.js';
import type { GateRunView } from '../domain/rollout.js';
import type { Release } from '../domain/release.js';
import type { RunHealth, RunSummary } from '../domain/run-health.js';

// The two edges a pass talks to, as small interfaces owned by the pass. The
// real ones are PrefectClient (src/prefect/client.ts) and PostgresStore
// (src/db/store.ts); tests use in-memory ones (test/support/fake-*.ts).

/** What a pass asks of Prefect. */
export interface PrefectPort {
  /** The work pool's id, or null when it does not exist (also proves the credentials work). */
  readWorkPool(name: string): Promise<{ id: string; name: string } | null>;
  /** Throws a clear error when the URL does not answer as a Prefect API root (asked when something seems missing). */
  assertApiRoot(): Promise<void>;
  readFlowId(name: string): Promise<string | null>;
  /** The template deployment by flow and name, or null when there is none. */
  readTemplate(flowName: string, name: string): Promise<TemplateDeployment | null>;
  /** Get-or-create a flow by name. */
  ensureFlow(name: string): Promise<string>;
  /** Every deployment carrying `tag` (a full pass's listing). */
  listByTag(tag: string): Promise<Deployment[]>;
  /** Managed deployments of some connectors, by their `connector-<id>` tags (a targeted pass). */
  listManagedOf(managedTag: string, connectorTags: string[]): Promise<Deployment[]>;
  /** Deployments of one flow with any of these names, managed or not. */
  findByNames(flowId: string, names: string[]): Promise<Deployment[]>;
  /** `sendBefore` (epoch ms): no attempt of the call goes out later (the change's write window). */
  createDeployment(flowId: string, spec: DeploymentSpec, sendBefore?: number): Promise<Deployment>;
  /** Sends each field's `to` value. */
  updateDeployment(
    deployment: Deployment,
    fields: FieldChanges,
    sendBefore?: number,
  ): Promise<void>;
  /** Prefect schedules the deployment's runs due from `startTime` to `endTime` (its own idempotency key per slot). */
  scheduleRuns(deploymentId: string, startTime: Date, endTime: Date): Promise<void>;
  /** True when it was there, false when it was already gone. */
  deleteDeployment(id: string, sendBefore?: number): Promise<boolean>;
  /** One run of a deployment now, tagged; one per idempotency key. */
  createFlowRun(deploymentId: string, tags: string[], idempotencyKey: string): Promise<string>;
  /** Flow runs by id, or of some deployments expected from a time on. */
  readFlowRuns(
    filter: { ids: string[] } | { deploymentIds: string[]; after: Date },
  ): Promise<GateRunView[]>;
  /** A work pool's status (READY when a worker polled it lately), null when it does not exist. */
  workPoolStatus(name: string): Promise<string | null>;
  /** Runs of the managed deployments expected from `since` to `until`, newest first, at most `max` (run health: one batched read a full pass). */
  readRecentRuns(
    managedTag: string,
    window: { since: Date; until: Date; max: number },
  ): Promise<{ runs: RunSummary[]; truncated: boolean }>;
  /** Calls made so far (a pass reports the difference over its own run). */
  callCounts(): CallCounts;
}

/** What a pass reads and writes in Postgres: the source table and the worker's own schema. */
export interface PassStore {
  /** Every connector row, or those whose id is in `onlyIds`. */
  readSource(onlyIds?: string[]): Promise<SourceSnapshot>;
  loadStates(): Promise<Map<string, ConnectorState>>;
  saveStates(states: ConnectorState[]): Promise<void>;
  /** Connectors an operator suspended: id → who, why, since. */
  loadSuspensions(): Promise<Map<string, Suspension>>;
  openIntents(): Promise<Intent[]>;
  /** The database's clock: the age of an intent is read against it. */
  now(): Promise<Date>;
  /** Written before the Prefect call it announces. */
  recordIntent(intent: Omit<Intent, 'createdAt'>): Promise<void>;
  dropIntent(id: string): Promise<void>;
  /**
   * The intent becomes its event, atomically with the connector states;
   * false (and nothing written) when the intent is already gone.
   */
  confirmIntent(id: string, event: EventRow, states: ConnectorState[]): Promise<boolean>;
  /** Events that need no intent (failures) with connector states, atomically. */
  appendEvents(events: EventRow[], states: ConnectorState[]): Promise<void>;
  /** The one write to the source: a connector's `prefect_deployment_id`. */
  writeBackDeploymentId(connectorId: string, deploymentId: string | null): Promise<void>;
  /** One row of the pass history. */
  recordPass(pass: PassRecord): Promise<void>;
  /** Deletes made (or open as intents) within the last `seconds`: the delete budget's use. */
  deletesWithin(seconds: number): Promise<number>;
  /** The source check's memory: the last good pass's rows, and since when the source looks shrunk. */
  readSourceHealth(): Promise<SourceHealth>;
  /** What a full pass found of the source, with the episode's one event when one starts. */
  recordSourceHealth(reading: SourceReading, events: EventRow[]): Promise<void>;
  /** The release ledger, oldest first. */
  readReleases(): Promise<Release[]>;
  /** Releases as given (new ones inserted) with their events, atomically. */
  saveReleases(releases: Release[], events: EventRow[]): Promise<void>;
  /** Where connectors are now (those that moved), and those gone. */
  recordConnectorReleases(on: Map<string, string>, gone: string[]): Promise<void>;
  /** The release each connector was on after the last full pass. */
  readConnectorReleases(): Promise<Map<string, string>>;
  /** Connector id → whether its last run (as the last full pass read it) completed. */
  readLastRunCompleted(): Promise<Map<string, boolean>>;
  /** A full pass's run health of every managed deployment: replaces the last pass's. */
  recordRunHealth(rows: RunHealth[], checkedAt: Date): Promise<void>;
}
