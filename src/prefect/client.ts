import type {
  Deployment,
  DeploymentSpec,
  FieldChanges,
  ManagedField,
  ScheduleSpec,
  TemplateDeployment,
} from '../domain/types.js';
import type { RunSummary } from '../domain/run-health.js';
import { createBody, keepReadFields, scheduleBody, templateOf } from './deployment-fields.js';
import { describePrefectBody, PrefectError } from './errors.js';
import type { CallCounts, PrefectHttp } from './http.js';
import type { GateRunView } from '../domain/rollout.js';
import { gateRunViewOf, type RawFlowRun } from './flow-run-fields.js';

export const PAGE_SIZE = 200; // Prefect's maximum `limit`
/** Connector tags per query: leaves room in a page for a connector's old deployments too. */
const TAGS_PER_QUERY = 100;

/** The Prefect calls connector-sync makes, typed. */
export class PrefectClient {
  constructor(readonly http: PrefectHttp) {}

  callCounts(): CallCounts {
    return { ...this.http.counts, byRoute: { ...this.http.counts.byRoute } };
  }

  /** The work pool's id, or null when it does not exist. Also proves the credentials work. */
  async readWorkPool(name: string): Promise<{ id: string; name: string } | null> {
    try {
      const { data } = await this.http.request<{ id: string; name: string }>(
        'GET',
        `/work_pools/${encodeURIComponent(name)}`,
      );
      return { id: data.id, name: data.name };
    } catch (error) {
      if (error instanceof PrefectError && error.kind === 'not-found') return null;
      throw error;
    }
  }

  /**
   * Throws unless the base URL is a Prefect API, where GET /health answers
   * `true`. Asked only when something seems missing: a URL without /api
   * answers 404 to everything, which is not the same as "not there".
   */
  async assertApiRoot(): Promise<void> {
    let answered: string;
    try {
      const { status, data } = await this.http.request<unknown>('GET', '/health');
      if (data === true) return;
      answered = `${status} ${JSON.stringify(data).slice(0, 100)}`;
    } catch (error) {
      if (!(error instanceof PrefectError) || error.kind !== 'not-found') throw error;
      answered = `${error.status} (${describePrefectBody(error.detail)})`;
    }
    throw this.http.notAnApi('GET', '/health', answered);
  }

  async readFlowId(name: string): Promise<string | null> {
    try {
      const { data } = await this.http.request<{ id: string }>(
        'GET',
        `/flows/name/${encodeURIComponent(name)}`,
      );
      return data.id;
    } catch (error) {
      if (error instanceof PrefectError && error.kind === 'not-found') return null;
      throw error;
    }
  }

  /** POST /flows/ is get-or-create by name. */
  async ensureFlow(name: string): Promise<string> {
    const { data } = await this.http.request<{ id: string }>('POST', '/flows/', { name });
    return data.id;
  }

  /**
   * Every deployment carrying `tag`, 200 a page. /paginate says how many pages
   * there are, so N deployments cost exactly ⌈N/200⌉ calls (at least one).
   */
  async listByTag(tag: string): Promise<Deployment[]> {
    const all: Deployment[] = [];
    for (let page = 1; ; page++) {
      const { data } = await this.http.request<{ results: Deployment[]; pages: number }>(
        'POST',
        '/deployments/paginate',
        { page, limit: PAGE_SIZE, sort: 'NAME_ASC', deployments: { tags: { all_: [tag] } } },
      );
      for (const deployment of data.results) all.push(keepReadFields(deployment));
      if (page >= data.pages || data.results.length === 0) return all;
    }
  }

  /** Managed deployments of some connectors (any flow), by their `connector-<id>` tags. */
  async listManagedOf(managedTag: string, connectorTags: string[]): Promise<Deployment[]> {
    const found: Deployment[] = [];
    for (let i = 0; i < connectorTags.length; i += TAGS_PER_QUERY) {
      const { data } = await this.http.request<Deployment[]>('POST', '/deployments/filter', {
        limit: PAGE_SIZE,
        deployments: {
          tags: { all_: [managedTag], any_: connectorTags.slice(i, i + TAGS_PER_QUERY) },
        },
      });
      for (const deployment of data) found.push(keepReadFields(deployment));
    }
    return found;
  }

  /**
   * Runs of the deployments carrying `managedTag` now (Prefect joins each run
   * to its deployment's current tags) expected to start from `since` to
   * `until`, newest first: 200 a call, at most `max` runs
   * (⌈min(runs, max)/200⌉ calls, at least one). `truncated` when the cap cut
   * the read short.
   */
  async readRecentRuns(
    managedTag: string,
    window: { since: Date; until: Date; max: number },
  ): Promise<{ runs: RunSummary[]; truncated: boolean }> {
    const seen = new Map<string, RunSummary>();
    for (let offset = 0; offset < window.max; offset += PAGE_SIZE) {
      const limit = Math.min(PAGE_SIZE, window.max - offset);
      const { data } = await this.http.request<FlowRunRead[]>('POST', '/flow_runs/filter', {
        sort: 'EXPECTED_START_TIME_DESC',
        offset,
        limit,
        deployments: { tags: { all_: [managedTag] } },
        flow_runs: {
          expected_start_time: {
            after_: window.since.toISOString(),
            before_: window.until.toISOString(),
          },
        },
      });
      // Offsets shift while runs are made: a run read twice counts once.
      for (const run of data) if (run.deployment_id) seen.set(run.id, runSummaryOf(run));
      if (data.length < limit) return { runs: [...seen.values()], truncated: false };
    }
    return { runs: [...seen.values()], truncated: true };
  }

  /** Deployments of one flow with any of these names (managed or not). */
  async findByNames(flowId: string, names: string[]): Promise<Deployment[]> {
    const found: Deployment[] = [];
    for (let i = 0; i < names.length; i += PAGE_SIZE) {
      const { data } = await this.http.request<Deployment[]>('POST', '/deployments/filter', {
        limit: PAGE_SIZE,
        flows: { id: { any_: [flowId] } },
        deployments: { name: { any_: names.slice(i, i + PAGE_SIZE) } },
      });
      for (const deployment of data) found.push(keepReadFields(deployment));
    }
    return found;
  }

  async readDeployment(id: string): Promise<Deployment | null> {
    try {
      return keepReadFields(
        (await this.http.request<Deployment>('GET', `/deployments/${id}`)).data,
      );
    } catch (error) {
      if (error instanceof PrefectError && error.kind === 'not-found') return null;
      throw error;
    }
  }

  /** `sendBefore`: see PrefectHttp.request (the change's write window). */
  async createDeployment(
    flowId: string,
    spec: DeploymentSpec,
    sendBefore?: number,
  ): Promise<Deployment> {
    const body = createBody(flowId, spec);
    // Kept for the pass's result and event: only what they read.
    return keepReadFields(
      (await this.http.request<Deployment>('POST', '/deployments/', body, sendBefore)).data,
    );
  }

  /**
   * Applies changed fields: one PATCH carrying only them, each with its `to`
   * value. Schedules are matched by slug, so other schedules (and ours when
   * it must go) are deleted by id.
   */
  async updateDeployment(
    deployment: Deployment,
    fields: FieldChanges,
    sendBefore?: number,
  ): Promise<void> {
    const body: Record<string, unknown> = {};
    for (const [field, values] of Object.entries(fields) as [ManagedField, { to: unknown }][]) {
      if (field !== 'schedules') body[field] = values.to;
    }
    // A limit removed leaves its collision strategy behind unless that goes too.
    if (fields.concurrency_limit && fields.concurrency_limit.to === null)
      body.concurrency_options = null;
    const schedules = (fields.schedules?.to ?? []) as ScheduleSpec[];
    let removeSchedules = deployment.schedules;
    if (fields.schedules && schedules.length > 0) {
      body.schedules = schedules.map(scheduleBody);
      const wanted = new Set(schedules.map((s) => s.slug));
      // With every schedule slugged, Prefect updates ours in place and keeps the
      // rest; with any unslugged one, the list we send replaces them all.
      const allSlugged = deployment.schedules.every((s) => s.slug);
      removeSchedules = allSlugged
        ? deployment.schedules.filter((s) => !wanted.has(s.slug ?? ''))
        : [];
    }
    if (Object.keys(body).length > 0)
      await this.http.request('PATCH', `/deployments/${deployment.id}`, body, sendBefore);
    if (fields.schedules) {
      for (const schedule of removeSchedules) {
        await this.deleteOrIgnoreMissing(
          `/deployments/${deployment.id}/schedules/${schedule.id}`,
          sendBefore,
        );
      }
    }
  }

  /**
   * The template deployment (deployment.template), or null when Prefect has
   * none of that name. Read whole: connectors take its code-related fields.
   */
  async readTemplate(flowName: string, name: string): Promise<TemplateDeployment | null> {
    const path = `/deployments/name/${encodeURIComponent(flowName)}/${encodeURIComponent(name)}`;
    try {
      return templateOf((await this.http.request<Record<string, unknown>>('GET', path)).data);
    } catch (error) {
      if (error instanceof PrefectError && error.kind === 'not-found') return null;
      throw error;
    }
  }

  /**
   * Deployment id → its work pool's name, for the deployments that exist and
   * have one: ⌈N/200⌉ filter calls (Prefect answers at most a page a call).
   */
  async workPoolNamesOf(deploymentIds: string[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    for (let i = 0; i < deploymentIds.length; i += PAGE_SIZE) {
      const { data } = await this.http.request<{ id: string; work_pool_name: string | null }[]>(
        'POST',
        '/deployments/filter',
        { deployments: { id: { any_: deploymentIds.slice(i, i + PAGE_SIZE) } }, limit: PAGE_SIZE },
      );
      for (const d of data) if (d.work_pool_name) names.set(d.id, d.work_pool_name);
    }
    return names;
  }

  /** Every work pool (the first page of 200: a fleet has a handful), by name → id. */
  async listWorkPools(): Promise<Map<string, string>> {
    const { data } = await this.http.request<{ id: string; name: string }[]>(
      'POST',
      '/work_pools/filter',
      { limit: PAGE_SIZE },
    );
    return new Map(data.map((p) => [p.name, p.id]));
  }

  /** Posts events to Prefect's event stream (POST /events takes a list; it keeps one per id). */
  async emitEvents(events: object[]): Promise<void> {
    await this.http.request('POST', '/events', events);
  }

  /**
   * Has Prefect schedule a deployment's runs due from `startTime` to
   * `endTime` (POST /deployments/{id}/schedule): what its scheduler service
   * does, with the same idempotency key per slot, so a slot that has a run
   * keeps that one.
   */
  async scheduleRuns(deploymentId: string, startTime: Date, endTime: Date): Promise<void> {
    await this.http.request('POST', `/deployments/${deploymentId}/schedule`, {
      start_time: startTime.toISOString(),
      end_time: endTime.toISOString(),
    });
  }

  /** Creates one run of a deployment now (POST /deployments/{id}/create_flow_run); Prefect keeps one per idempotency key. */
  async createFlowRun(
    deploymentId: string,
    tags: string[],
    idempotencyKey: string,
  ): Promise<string> {
    const { data } = await this.http.request<{ id: string }>(
      'POST',
      `/deployments/${deploymentId}/create_flow_run`,
      { tags, idempotency_key: idempotencyKey },
    );
    return data.id;
  }

  /** Flow runs by id, or of some deployments expected from a time on: ⌈N/200⌉ calls. */
  async readFlowRuns(
    filter: { ids: string[] } | { deploymentIds: string[]; after: Date },
  ): Promise<GateRunView[]> {
    const keys = 'ids' in filter ? filter.ids : filter.deploymentIds;
    const runs: GateRunView[] = [];
    for (let i = 0; i < keys.length; i += PAGE_SIZE) {
      const page = keys.slice(i, i + PAGE_SIZE);
      const flowRuns =
        'ids' in filter
          ? { id: { any_: page } }
          : {
              deployment_id: { any_: page },
              expected_start_time: { after_: filter.after.toISOString() },
            };
      const { data } = await this.http.request<RawFlowRun[]>('POST', '/flow_runs/filter', {
        flow_runs: flowRuns,
        sort: 'EXPECTED_START_TIME_ASC',
        limit: PAGE_SIZE,
      });
      runs.push(...data.map(gateRunViewOf));
    }
    return runs;
  }

  /** A work pool's status (READY when a worker has polled it lately), or null when there is none. */
  async workPoolStatus(name: string): Promise<string | null> {
    try {
      const { data } = await this.http.request<{ status: string | null }>(
        'GET',
        `/work_pools/${encodeURIComponent(name)}`,
      );
      return data.status ?? 'NOT_READY';
    } catch (error) {
      if (error instanceof PrefectError && error.kind === 'not-found') return null;
      throw error;
    }
  }

  /** A variable's value by name, or null when there is none. */
  async readVariable(name: string): Promise<unknown> {
    try {
      const { data } = await this.http.request<{ value: unknown }>(
        'GET',
        `/variables/name/${encodeURIComponent(name)}`,
      );
      return data.value;
    } catch (error) {
      if (error instanceof PrefectError && error.kind === 'not-found') return null;
      throw error;
    }
  }

  /** Creates a variable; false when one of that name exists already (409). */
  async createVariable(name: string, value: unknown, tags: string[]): Promise<boolean> {
    try {
      await this.http.request('POST', '/variables/', { name, value, tags });
      return true;
    } catch (error) {
      if (error instanceof PrefectError && error.kind === 'conflict') return false;
      throw error;
    }
  }

  /** Deletes a deployment; true when it was there, false when it was already gone. */
  async deleteDeployment(id: string, sendBefore?: number): Promise<boolean> {
    return this.deleteOrIgnoreMissing(`/deployments/${id}`, sendBefore);
  }

  private async deleteOrIgnoreMissing(path: string, sendBefore?: number): Promise<boolean> {
    try {
      await this.http.request('DELETE', path, undefined, sendBefore);
      return true;
    } catch (error) {
      if (error instanceof PrefectError && error.kind === 'not-found') return false;
      throw error;
    }
  }
}

/** The fields of a flow run that run health reads. */
interface FlowRunRead {
  id: string;
  deployment_id: string | null;
  state_type: string | null;
  state_name: string | null;
  expected_start_time: string | null;
  start_time: string | null;
}

function runSummaryOf(run: FlowRunRead): RunSummary {
  const date = (text: string | null) => (text ? new Date(text) : null);
  return {
    deploymentId: run.deployment_id!,
    stateType: run.state_type,
    stateName: run.state_name,
    expectedStartTime: date(run.expected_start_time),
    startTime: date(run.start_time),
  };
}
