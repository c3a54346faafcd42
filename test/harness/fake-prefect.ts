import { randomUUID } from 'node:crypto';
import type {
  Deployment,
  DeploymentSchedule,
  DeploymentSpec,
  FieldChanges,
  ScheduleSpec,
  TemplateDeployment,
} from '../../src/domain/types.js';
import { PrefectError } from '../../src/prefect/errors.js';
import type { CallCounts } from '../../src/prefect/http.js';
import type { PrefectPort } from '../../src/pass/ports.js';
import type { RunSummary } from '../../src/domain/run-health.js';
import { Crasher } from './crash.js';
import type { GateRunView } from '../../src/domain/rollout.js';

// An in-memory Prefect for unit tests of the pass: deployments by id, flows
// and work pools by name, with Prefect's semantics where the pass depends on
// them (a create is an upsert on flow + name, a PATCH of a missing deployment
// is a 404, a delete of one is a no-op). Faults are injected per call, and a
// Crasher ends the "process" at a chosen step. Never used by production code.

type Method =
  | 'readWorkPool'
  | 'readFlowId'
  | 'readTemplate'
  | 'ensureFlow'
  | 'listByTag'
  | 'listManagedOf'
  | 'findByNames'
  | 'createDeployment'
  | 'updateDeployment'
  | 'scheduleRuns'
  | 'deleteDeployment'
  | 'createFlowRun'
  | 'readFlowRuns'
  | 'workPoolStatus'
  | 'readRecentRuns';

const WRITES = new Set<Method>([
  'ensureFlow',
  'createDeployment',
  'updateDeployment',
  'scheduleRuns',
  'deleteDeployment',
  'createFlowRun',
]);

/**
 * A fault on the next matching calls: `refuse` answers with the error and
 * changes nothing; `lost` applies the write, then the answer never comes
 * (the error is what the caller sees); `late` holds the write back — the
 * caller sees the error at once, the write lands when `releaseLate()` is
 * called (a request still in Prefect's hands after its sender gave up).
 */
export interface FakeFault {
  method: Method;
  kind: 'refuse' | 'lost' | 'late';
  error?: () => Error;
  times?: number;
}

export function unavailable(): PrefectError {
  return new PrefectError('Prefect answered 503: fake outage', 'transient', 503, null);
}

export class FakePrefect implements PrefectPort {
  readonly deployments = new Map<string, Deployment>();
  readonly flows = new Map<string, string>();
  readonly workPools = new Map<string, { id: string; name: string }>();
  /** Template deployments by "flow/name" (registered by a flow's release, never ours). */
  readonly templates = new Map<string, TemplateDeployment>();
  /** Every call, in order: method and the deployment name or id it was about. */
  readonly log: { method: Method; about: string }[] = [];
  /** Every write that took effect, with the deployment it changed: what Prefect's own events would show. */
  readonly applied: { method: Method; deploymentId: string }[] = [];
  private faults: FakeFault[] = [];
  private late: (() => void)[] = [];
  private counts: CallCounts = { reads: 0, writes: 0, byRoute: {} };

  constructor(readonly crasher: Crasher = new Crasher()) {
    this.workPools.set('default', { id: randomUUID(), name: 'default' });
  }

  fail(fault: FakeFault): void {
    this.faults.push({ times: 1, ...fault });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Lands the writes held back by `late` faults, in the order they were sent. */
  releaseLate(): number {
    const writes = this.late;
    this.late = [];
    for (const write of writes) write();
    return writes.length;
  }

  callCounts(): CallCounts {
    return { ...this.counts, byRoute: { ...this.counts.byRoute } };
  }

  /** Deployments as a listing returns them (copies: the pass never sees later changes through them). */
  all(): Deployment[] {
    return [...this.deployments.values()].map((d) => structuredClone(d));
  }

  async readWorkPool(name: string): Promise<{ id: string; name: string } | null> {
    return this.call('readWorkPool', name, () => this.workPools.get(name) ?? null);
  }

  /** The fake always answers as an API root. */
  async assertApiRoot(): Promise<void> {
    return this.call('readWorkPool', '/health', () => undefined);
  }

  async readFlowId(name: string): Promise<string | null> {
    return this.call('readFlowId', name, () => this.flows.get(name) ?? null);
  }

  async ensureFlow(name: string): Promise<string> {
    return this.call('ensureFlow', name, () => {
      const id = this.flows.get(name) ?? randomUUID();
      this.flows.set(name, id);
      return id;
    });
  }

  async readTemplate(flowName: string, name: string): Promise<TemplateDeployment | null> {
    return this.call('readTemplate', `${flowName}/${name}`, () =>
      structuredClone(this.templates.get(`${flowName}/${name}`) ?? null),
    );
  }

  async listByTag(tag: string): Promise<Deployment[]> {
    return this.call('listByTag', tag, () => this.all().filter((d) => d.tags.includes(tag)));
  }

  async listManagedOf(managedTag: string, connectorTags: string[]): Promise<Deployment[]> {
    return this.call('listManagedOf', connectorTags.join(','), () =>
      this.all().filter(
        (d) => d.tags.includes(managedTag) && d.tags.some((t) => connectorTags.includes(t)),
      ),
    );
  }

  async findByNames(flowId: string, names: string[]): Promise<Deployment[]> {
    return this.call('findByNames', names.join(','), () =>
      this.all().filter((d) => d.flow_id === flowId && names.includes(d.name)),
    );
  }

  async createDeployment(flowId: string, spec: DeploymentSpec): Promise<Deployment> {
    return this.call('createDeployment', spec.name, () => {
      // POST /deployments/ is an upsert on (flow, name): the same id comes back.
      const existing = [...this.deployments.values()].find(
        (d) => d.flow_id === flowId && d.name === spec.name,
      );
      const deployment = deploymentOf(spec, flowId, existing?.id ?? randomUUID());
      this.deployments.set(deployment.id, deployment);
      this.applied.push({ method: 'createDeployment', deploymentId: deployment.id });
      return structuredClone(deployment);
    });
  }

  async updateDeployment(deployment: Deployment, fields: FieldChanges): Promise<void> {
    return this.call('updateDeployment', deployment.name, () => {
      const current = this.deployments.get(deployment.id);
      if (!current) throw new PrefectError('Prefect PATCH answered 404', 'not-found', 404, null);
      const next: Record<string, unknown> = { ...current };
      for (const [field, values] of Object.entries(fields))
        next[field] =
          field === 'schedules'
            ? schedulesOf(values.to as ScheduleSpec[], current.schedules)
            : structuredClone(values.to);
      this.deployments.set(current.id, next as unknown as Deployment);
      this.applied.push({ method: 'updateDeployment', deploymentId: current.id });
    });
  }

  /** Re-creating runs after an update: recorded (deployment id, from when). */
  readonly scheduled: { deploymentId: string; from: Date; until: Date }[] = [];

  async scheduleRuns(deploymentId: string, startTime: Date, endTime: Date): Promise<void> {
    return this.call('scheduleRuns', deploymentId, () => {
      this.scheduled.push({ deploymentId, from: startTime, until: endTime });
    });
  }

  /** Flow runs by id: made by createFlowRun; a test moves them on with `finishRun`. */
  readonly runs = new Map<string, GateRunView & { tags: string[]; key: string }>();
  /** Work pools no worker polls (their status is NOT_READY). */
  readonly idlePools = new Set<string>();

  async createFlowRun(deploymentId: string, tags: string[], key: string): Promise<string> {
    return this.call('createFlowRun', deploymentId, () => {
      const same = [...this.runs.values()].find(
        (r) => r.deploymentId === deploymentId && r.key === key,
      );
      if (same) return same.id;
      const id = randomUUID();
      this.runs.set(id, {
        id,
        deploymentId,
        stateType: 'SCHEDULED',
        stateName: 'Scheduled',
        message: null,
        deploymentVersion: this.deployments.get(deploymentId)?.version ?? null,
        expectedStart: new Date(),
        tags,
        key,
      });
      return id;
    });
  }

  /** A run ends as a worker would end it. */
  finishRun(id: string, stateType: string, message: string | null = null): void {
    const run = this.runs.get(id)!;
    const name = stateType.charAt(0) + stateType.slice(1).toLowerCase();
    this.runs.set(id, { ...run, stateType, stateName: name, message });
  }

  async readFlowRuns(
    filter: { ids: string[] } | { deploymentIds: string[]; after: Date },
  ): Promise<GateRunView[]> {
    return this.call('readFlowRuns', 'filter', () =>
      [...this.runs.values()]
        .filter((r) =>
          'ids' in filter
            ? filter.ids.includes(r.id)
            : filter.deploymentIds.includes(r.deploymentId ?? '') &&
              (r.expectedStart?.getTime() ?? 0) > filter.after.getTime(),
        )
        .map(({ tags: _tags, key: _key, ...view }) => view),
    );
  }

  async workPoolStatus(name: string): Promise<string | null> {
    return this.call('workPoolStatus', name, () =>
      !this.workPools.has(name) ? null : this.idlePools.has(name) ? 'NOT_READY' : 'READY',
    );
  }

  async deleteDeployment(id: string): Promise<boolean> {
    return this.call('deleteDeployment', id, () => {
      const existed = this.deployments.delete(id);
      if (existed) this.applied.push({ method: 'deleteDeployment', deploymentId: id });
      return existed;
    });
  }

  /** Flow runs, of any deployment: what `readRecentRuns` reads from. */
  readonly recentRuns: RunSummary[] = [];

  /** One call however many runs (the real client: one per 200); `truncated` past `max`. */
  async readRecentRuns(
    managedTag: string,
    window: { since: Date; until: Date; max: number },
  ): Promise<{ runs: RunSummary[]; truncated: boolean }> {
    return this.call('readRecentRuns', managedTag, () => {
      const managed = new Set(
        this.all()
          .filter((d) => d.tags.includes(managedTag))
          .map((d) => d.id),
      );
      const found = this.recentRuns
        .filter(
          (r) =>
            managed.has(r.deploymentId) &&
            r.expectedStartTime !== null &&
            r.expectedStartTime >= window.since &&
            r.expectedStartTime <= window.until,
        )
        .sort((a, b) => b.expectedStartTime!.getTime() - a.expectedStartTime!.getTime());
      return {
        runs: structuredClone(found.slice(0, window.max)),
        truncated: found.length > window.max,
      };
    });
  }

  /** One call: counted, logged, faulted or crashed as set up, then done. */
  private async call<T>(method: Method, about: string, work: () => T): Promise<T> {
    await Promise.resolve(); // an answer is never synchronous
    this.crasher.step(`prefect ${method} ${about}`);
    this.log.push({ method, about });
    this.count(method);
    const fault = this.takeFault(method);
    if (fault?.kind === 'refuse') throw (fault.error ?? unavailable)();
    if (fault?.kind === 'late') {
      this.late.push(() => void work());
      throw (fault.error ?? unavailable)();
    }
    const result = work();
    if (WRITES.has(method)) this.crasher.step(`prefect ${method} ${about} landed`);
    if (fault?.kind === 'lost') throw (fault.error ?? unavailable)();
    return result;
  }

  private takeFault(method: Method): FakeFault | undefined {
    const fault = this.faults.find((f) => f.method === method && (f.times ?? 1) > 0);
    if (fault) fault.times = (fault.times ?? 1) - 1;
    return fault;
  }

  private count(method: Method): void {
    if (WRITES.has(method)) this.counts.writes++;
    else this.counts.reads++;
    this.counts.byRoute[method] = (this.counts.byRoute[method] ?? 0) + 1;
  }
}

/** The deployment Prefect holds after a create from `spec`. */
export function deploymentOf(spec: DeploymentSpec, flowId: string, id: string): Deployment {
  return {
    id,
    name: spec.name,
    flow_id: flowId,
    description: spec.description,
    parameters: structuredClone(spec.parameters),
    schedules: schedulesOf(spec.schedules, []),
    paused: spec.paused,
    tags: [...spec.tags],
    work_pool_name: spec.work_pool_name,
    work_queue_name: spec.work_queue_name,
    work_queue_id: 'fake-work-queue',
    entrypoint: spec.entrypoint,
    path: spec.path,
    pull_steps: spec.pull_steps === null ? null : structuredClone(spec.pull_steps),
    job_variables: structuredClone(spec.job_variables),
    version: spec.version,
    parameter_openapi_schema: structuredClone(spec.parameter_openapi_schema),
    enforce_parameter_schema: spec.enforce_parameter_schema,
    concurrency_limit: spec.concurrency_limit,
    concurrency_options: spec.concurrency_options,
  };
}

/** Schedules as Prefect keeps them: ours matched by slug keep their id. */
function schedulesOf(wanted: ScheduleSpec[], current: DeploymentSchedule[]): DeploymentSchedule[] {
  return wanted.map((s) => ({
    id: current.find((c) => c.slug === s.slug)?.id ?? randomUUID(),
    schedule: { cron: s.cron, timezone: s.timezone, day_or: s.day_or },
    active: s.active,
    slug: s.slug,
    parameters: {},
    max_scheduled_runs: null,
  }));
}
