import { describe, expect, it } from 'vitest';
import type {
  Deployment,
  DeploymentSchedule,
  DeploymentSpec,
  FieldChanges,
  ManagedField,
} from '../../../src/domain/types.js';
import { PAGE_SIZE, PrefectClient } from '../../../src/prefect/client.js';
import { PrefectError } from '../../../src/prefect/errors.js';
import {
  makeHttp,
  prefect,
  recordAndReply,
  rejectionOf,
  useNock,
  type Seen,
} from '../../harness/prefect-nock.js';

useNock();

const FLOW_ID = '6f1f3c5e-8a7b-4c2d-9e0f-1a2b3c4d5e6f';
const DEPLOYMENT_ID = '0b9f2c1e-5a4d-4e3b-9c8a-7f6e5d4c3b2a';
const OURS_ID = '11111111-1111-4111-8111-111111111111';
const OTHER_A_ID = '22222222-2222-4222-8222-222222222222';
const OTHER_B_ID = '33333333-3333-4333-8333-333333333333';
const DEPLOYMENT_PATH = `/api/deployments/${DEPLOYMENT_ID}`;

/** DeploymentCreate's fields (PREFECT-API.md, "Schemas"): anything else is a 422. */
const DEPLOYMENT_CREATE_FIELDS = new Set([
  'name',
  'flow_id',
  'paused',
  'schedules',
  'parameters',
  'tags',
  'labels',
  'description',
  'work_pool_name',
  'work_queue_name',
  'entrypoint',
  'path',
  'pull_steps',
  'job_variables',
  'version',
  'concurrency_limit',
  'concurrency_options',
  'enforce_parameter_schema',
  'parameter_openapi_schema',
]);
const SCHEDULE_FIELDS = new Set(['schedule', 'active', 'slug', 'max_scheduled_runs', 'parameters']);

function makeClient(): PrefectClient {
  return new PrefectClient(makeHttp());
}

function spec(overrides: Partial<DeploymentSpec> = {}): DeploymentSpec {
  return {
    connectorId: '42',
    connectorName: 'Stripe to warehouse',
    name: 'connector-42',
    description: 'Stripe to warehouse',
    parameters: { source: 'stripe', connector_id: 42 },
    schedules: [
      {
        cron: '0 1 * * *',
        timezone: 'Europe/Paris',
        day_or: true,
        active: true,
        slug: 'connector-sync',
      },
    ],
    paused: false,
    tags: ['connector-42', 'managed-by-connector-sync'],
    work_pool_name: 'default',
    work_queue_name: 'default',
    entrypoint: 'flows/dlt_pipeline_flow.py:dlt_pipeline',
    path: null,
    pull_steps: null,
    job_variables: {},
    version: 'r1+0a1b2c3d',
    parameter_openapi_schema: {},
    enforce_parameter_schema: false,
    concurrency_limit: null,
    concurrency_options: null,
    ...overrides,
  };
}

function schedule(id: string, slug: string | null, cron = '0 1 * * *'): DeploymentSchedule {
  return {
    id,
    schedule: { cron, timezone: 'Europe/Paris', day_or: true },
    active: true,
    slug,
    parameters: {},
    max_scheduled_runs: null,
  };
}

function deployment(overrides: Partial<Deployment> = {}): Deployment {
  return {
    id: DEPLOYMENT_ID,
    name: 'connector-42',
    flow_id: FLOW_ID,
    description: 'Stripe to warehouse',
    parameters: { source: 'stripe', connector_id: 42 },
    schedules: [],
    paused: false,
    tags: ['connector-42', 'managed-by-connector-sync'],
    work_pool_name: 'default',
    work_queue_name: 'default',
    entrypoint: 'flows/dlt_pipeline_flow.py:dlt_pipeline',
    path: null,
    pull_steps: null,
    job_variables: {},
    version: 'r1+0a1b2c3d',
    parameter_openapi_schema: null,
    enforce_parameter_schema: false,
    concurrency_limit: null,
    concurrency_options: null,
    ...overrides,
  };
}

function deployments(count: number, from = 0): Deployment[] {
  return Array.from({ length: count }, (_, i) =>
    deployment({ id: `d-${from + i}`, name: `connector-${from + i}` }),
  );
}

describe('PrefectClient.listByTag', () => {
  // listByTag pages through POST /deployments/paginate, which answers
  // {results, count, limit, pages, page}: N deployments cost ⌈N/200⌉ calls.
  function page(results: Deployment[], pageNumber: number, count: number) {
    return { results, count, limit: 200, pages: Math.ceil(count / 200), page: pageNumber };
  }

  function pageBody(pageNumber: number, tag: string) {
    return {
      page: pageNumber,
      limit: 200,
      sort: 'NAME_ASC',
      deployments: { tags: { all_: [tag] } },
    };
  }

  it('pages by 200 until the last page: 213 deployments in 2 calls', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/deployments/paginate')
      .reply(recordAndReply(seen, 200, page(deployments(200), 1, 213)))
      .post('/api/deployments/paginate')
      .reply(recordAndReply(seen, 200, page(deployments(13, 200), 2, 213)));
    const client = makeClient();
    const found = await client.listByTag('managed-by-connector-sync');
    expect(scope.isDone()).toBe(true);
    expect(found).toHaveLength(213);
    expect(found[0]!.id).toBe('d-0');
    expect(found[212]!.id).toBe('d-212');
    expect(PAGE_SIZE).toBe(200);
    expect(seen.map((s) => s.body)).toEqual([
      pageBody(1, 'managed-by-connector-sync'),
      pageBody(2, 'managed-by-connector-sync'),
    ]);
    expect(client.http.counts.byRoute['POST /deployments/paginate']).toBe(2);
    expect(client.http.counts.writes).toBe(0);
  });

  it('keeps only the fields the planner reads (a 10,000-deployment pass holds them all)', async () => {
    const schema = { type: 'object', properties: { big: { type: 'string' } } };
    const full = (id: string) => ({
      ...deployment({ id, name: `connector-${id}`, parameter_openapi_schema: { ...schema } }),
      created: '2026-01-01T00:00:00Z',
      global_concurrency_limit: { id: 'gcl', name: `deployment:${id}`, limit: 2, active: true },
    });
    prefect()
      .post('/api/deployments/paginate')
      .reply(200, page([full('d-1'), full('d-2')], 1, 2));
    const [one, two] = await makeClient().listByTag('t');
    expect(one).toEqual(
      deployment({
        id: 'd-1',
        name: 'connector-d-1',
        parameter_openapi_schema: schema,
        concurrency_limit: 2,
      }),
    );
    expect(one).not.toHaveProperty('created');
    expect(one).not.toHaveProperty('global_concurrency_limit');
    // Every deployment of a release holds the same schema: one copy is kept.
    expect(two!.parameter_openapi_schema).toBe(one!.parameter_openapi_schema);
  });

  it('stops after a full page that is the last one', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/deployments/paginate')
      .reply(recordAndReply(seen, 200, page(deployments(200), 1, 200)));
    const extra = prefect()
      .post('/api/deployments/paginate')
      .reply(200, page([], 2, 200));
    const found = await makeClient().listByTag('t');
    expect(scope.isDone()).toBe(true);
    expect(extra.isDone()).toBe(false);
    expect(found).toHaveLength(200);
    expect(seen).toHaveLength(1);
  });

  it('makes one call when nothing carries the tag', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/deployments/paginate')
      .reply(recordAndReply(seen, 200, page([], 1, 0)));
    expect(await makeClient().listByTag('t')).toEqual([]);
    expect(scope.isDone()).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body).toEqual(pageBody(1, 't'));
  });

  it('stops on an empty page even if the page count said more', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/deployments/paginate')
      .reply(recordAndReply(seen, 200, page(deployments(200), 1, 450)))
      .post('/api/deployments/paginate')
      .reply(recordAndReply(seen, 200, page([], 2, 450)));
    expect(await makeClient().listByTag('t')).toHaveLength(200);
    expect(scope.isDone()).toBe(true);
    expect(seen).toHaveLength(2);
  });
});

describe('PrefectClient.findByNames', () => {
  it('asks for the names in chunks of 200, within the flow', async () => {
    const names = Array.from({ length: 450 }, (_, i) => `connector-${i}`);
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/deployments/filter')
      .reply(recordAndReply(seen, 200, deployments(2)))
      .post('/api/deployments/filter')
      .reply(recordAndReply(seen, 200, []))
      .post('/api/deployments/filter')
      .reply(recordAndReply(seen, 200, deployments(1, 400)));
    const found = await makeClient().findByNames(FLOW_ID, names);
    expect(scope.isDone()).toBe(true);
    expect(found.map((d) => d.id)).toEqual(['d-0', 'd-1', 'd-400']);
    expect(seen.map((s) => s.body)).toEqual([
      {
        limit: 200,
        flows: { id: { any_: [FLOW_ID] } },
        deployments: { name: { any_: names.slice(0, 200) } },
      },
      {
        limit: 200,
        flows: { id: { any_: [FLOW_ID] } },
        deployments: { name: { any_: names.slice(200, 400) } },
      },
      {
        limit: 200,
        flows: { id: { any_: [FLOW_ID] } },
        deployments: { name: { any_: names.slice(400) } },
      },
    ]);
  });

  it('makes no call for no names', async () => {
    const client = makeClient();
    expect(await client.findByNames(FLOW_ID, [])).toEqual([]);
    expect(client.http.counts.reads + client.http.counts.writes).toBe(0);
  });
});

describe('PrefectClient.createDeployment', () => {
  it('POSTs exactly the DeploymentCreate fields, schedules slugged with explicit parameters', async () => {
    const seen: Seen[] = [];
    const created = deployment();
    const scope = prefect()
      .post('/api/deployments/')
      .reply(recordAndReply(seen, 201, created));
    const result = await makeClient().createDeployment(FLOW_ID, spec());
    expect(scope.isDone()).toBe(true);
    expect(result).toEqual(created);
    expect(seen).toHaveLength(1);
    const body = seen[0]!.body as Record<string, unknown>;
    expect(body).toEqual({
      name: 'connector-42',
      flow_id: FLOW_ID,
      description: 'Stripe to warehouse',
      parameters: { source: 'stripe', connector_id: 42 },
      schedules: [
        {
          schedule: { cron: '0 1 * * *', timezone: 'Europe/Paris', day_or: true },
          active: true,
          slug: 'connector-sync',
          parameters: {},
        },
      ],
      paused: false,
      tags: ['connector-42', 'managed-by-connector-sync'],
      work_pool_name: 'default',
      work_queue_name: 'default',
      entrypoint: 'flows/dlt_pipeline_flow.py:dlt_pipeline',
      path: null,
      pull_steps: null,
      job_variables: {},
      version: 'r1+0a1b2c3d',
      enforce_parameter_schema: false,
    });
    for (const key of Object.keys(body)) expect(DEPLOYMENT_CREATE_FIELDS).toContain(key);
    for (const s of body.schedules as Record<string, unknown>[]) {
      for (const key of Object.keys(s)) expect(SCHEDULE_FIELDS).toContain(key);
      expect(Object.keys(s.schedule as object).sort()).toEqual(['cron', 'day_or', 'timezone']);
    }
  });

  it('sends a paused deployment without schedules as such', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/deployments/')
      .reply(recordAndReply(seen, 201, deployment()));
    await makeClient().createDeployment(
      FLOW_ID,
      spec({ schedules: [], paused: true, pull_steps: [{ step: 'x' }], path: '/opt/flows' }),
    );
    expect(scope.isDone()).toBe(true);
    expect(seen[0]!.body).toMatchObject({
      schedules: [],
      paused: true,
      pull_steps: [{ step: 'x' }],
      path: '/opt/flows',
      enforce_parameter_schema: false,
    });
  });
});

describe('PrefectClient.updateDeployment', () => {
  /** Field changes towards `desired`: what a plan hands the client (`to` is what is sent). */
  function changing(desired: DeploymentSpec, ...fields: ManagedField[]): FieldChanges {
    return Object.fromEntries(fields.map((f) => [f, { from: null, to: desired[f] }]));
  }
  const oursBody = {
    schedule: { cron: '0 1 * * *', timezone: 'Europe/Paris', day_or: true },
    active: true,
    slug: 'connector-sync',
    parameters: {},
  };

  function deleteSchedule(seen: Seen[], id: string, status = 204) {
    return prefect()
      .delete(`${DEPLOYMENT_PATH}/schedules/${id}`)
      .reply(recordAndReply(seen, status, status === 204 ? undefined : { detail: 'Not found' }));
  }

  it('sends one PATCH with only the changed fields', async () => {
    const seen: Seen[] = [];
    const scope = prefect().patch(DEPLOYMENT_PATH).reply(recordAndReply(seen, 204));
    const desired = spec({ paused: true, description: 'Renamed', tags: ['a', 'b'] });
    await makeClient().updateDeployment(deployment(), changing(desired, 'paused', 'description'));
    expect(scope.isDone()).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body).toEqual({ paused: true, description: 'Renamed' });
  });

  it('sends nothing when nothing changed', async () => {
    const client = makeClient();
    await client.updateDeployment(deployment(), {});
    expect(client.http.counts.reads + client.http.counts.writes).toBe(0);
  });

  it('with every schedule slugged, PATCHes ours and deletes the others by id', async () => {
    const seen: Seen[] = [];
    const scope = prefect().patch(DEPLOYMENT_PATH).reply(recordAndReply(seen, 204));
    const deletes = [deleteSchedule(seen, OTHER_A_ID), deleteSchedule(seen, OTHER_B_ID)];
    const oursDeleted = deleteSchedule(seen, OURS_ID);
    const existing = deployment({
      schedules: [
        schedule(OTHER_A_ID, 'someone-else', '0 5 * * *'),
        schedule(OURS_ID, 'connector-sync', '0 3 * * *'),
        schedule(OTHER_B_ID, 'another', '0 6 * * *'),
      ],
    });
    await makeClient().updateDeployment(
      existing,
      changing(spec({ paused: true }), 'schedules', 'paused'),
    );
    expect(scope.isDone()).toBe(true);
    for (const d of deletes) expect(d.isDone()).toBe(true);
    expect(oursDeleted.isDone()).toBe(false);
    const patches = seen.filter((s) => s.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(patches[0]!.body).toEqual({ paused: true, schedules: [oursBody] });
    expect(seen.filter((s) => s.method === 'DELETE').map((s) => s.path)).toEqual([
      `${DEPLOYMENT_PATH}/schedules/${OTHER_A_ID}`,
      `${DEPLOYMENT_PATH}/schedules/${OTHER_B_ID}`,
    ]);
  });

  it('with an unslugged schedule, lets the PATCH replace them all and deletes nothing', async () => {
    const seen: Seen[] = [];
    const scope = prefect().patch(DEPLOYMENT_PATH).reply(recordAndReply(seen, 204));
    const deletes = [deleteSchedule(seen, OTHER_A_ID), deleteSchedule(seen, OURS_ID)];
    const existing = deployment({
      schedules: [schedule(OTHER_A_ID, null, '0 5 * * *'), schedule(OURS_ID, 'connector-sync')],
    });
    const client = makeClient();
    await client.updateDeployment(existing, changing(spec(), 'schedules'));
    expect(scope.isDone()).toBe(true);
    for (const d of deletes) expect(d.isDone()).toBe(false);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body).toEqual({ schedules: [oursBody] });
    expect(client.http.counts.byRoute).not.toHaveProperty(
      'DELETE /deployments/{id}/schedules/{id}',
    );
  });

  it('with no desired schedule, PATCHes the other fields without `schedules` and deletes every schedule', async () => {
    const seen: Seen[] = [];
    const scope = prefect().patch(DEPLOYMENT_PATH).reply(recordAndReply(seen, 204));
    const deletes = [deleteSchedule(seen, OURS_ID), deleteSchedule(seen, OTHER_A_ID)];
    const existing = deployment({
      schedules: [schedule(OURS_ID, 'connector-sync'), schedule(OTHER_A_ID, null, '0 5 * * *')],
    });
    await makeClient().updateDeployment(
      existing,
      changing(spec({ schedules: [], paused: true }), 'schedules', 'paused'),
    );
    expect(scope.isDone()).toBe(true);
    for (const d of deletes) expect(d.isDone()).toBe(true);
    const patches = seen.filter((s) => s.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(patches[0]!.body).toEqual({ paused: true });
    expect(patches[0]!.body).not.toHaveProperty('schedules');
  });

  it('with only schedules changed and none desired, sends no PATCH, only the DELETEs', async () => {
    const seen: Seen[] = [];
    const patch = prefect().patch(DEPLOYMENT_PATH).reply(recordAndReply(seen, 204));
    const deletes = [deleteSchedule(seen, OURS_ID), deleteSchedule(seen, OTHER_A_ID)];
    const existing = deployment({
      schedules: [schedule(OURS_ID, 'connector-sync'), schedule(OTHER_A_ID, 'other')],
    });
    const client = makeClient();
    await client.updateDeployment(existing, changing(spec({ schedules: [] }), 'schedules'));
    expect(patch.isDone()).toBe(false);
    for (const d of deletes) expect(d.isDone()).toBe(true);
    expect(seen.map((s) => s.method)).toEqual(['DELETE', 'DELETE']);
    expect(client.http.counts.byRoute).not.toHaveProperty('PATCH /deployments/{id}');
  });

  it('treats a schedule that is already gone (404) as deleted', async () => {
    const seen: Seen[] = [];
    const deletes = [deleteSchedule(seen, OURS_ID, 404), deleteSchedule(seen, OTHER_A_ID)];
    const existing = deployment({
      schedules: [schedule(OURS_ID, 'connector-sync'), schedule(OTHER_A_ID, 'other')],
    });
    await makeClient().updateDeployment(existing, changing(spec({ schedules: [] }), 'schedules'));
    for (const d of deletes) expect(d.isDone()).toBe(true);
    expect(seen).toHaveLength(2);
  });
});

describe('PrefectClient.deleteDeployment', () => {
  it('returns true on 204', async () => {
    const scope = prefect().delete(DEPLOYMENT_PATH).reply(204);
    expect(await makeClient().deleteDeployment(DEPLOYMENT_ID)).toBe(true);
    expect(scope.isDone()).toBe(true);
  });

  it('returns false on 404 (already gone)', async () => {
    const scope = prefect().delete(DEPLOYMENT_PATH).reply(404, { detail: 'Deployment not found.' });
    expect(await makeClient().deleteDeployment(DEPLOYMENT_ID)).toBe(false);
    expect(scope.isDone()).toBe(true);
  });

  it('throws other failures', async () => {
    const scope = prefect().delete(DEPLOYMENT_PATH).reply(409, { detail: 'Conflict' });
    const error = await rejectionOf(makeClient().deleteDeployment(DEPLOYMENT_ID));
    expect(error).toBeInstanceOf(PrefectError);
    expect(error).toMatchObject({ kind: 'conflict', status: 409 });
    expect(scope.isDone()).toBe(true);
  });
});

describe('PrefectClient reads', () => {
  it('readWorkPool returns the pool, or null on 404', async () => {
    const scope = prefect()
      .get('/api/work_pools/default')
      .reply(200, { id: 'pool-1', name: 'default', type: 'process' })
      .get('/api/work_pools/missing')
      .reply(404, { detail: 'Work pool not found.' });
    const client = makeClient();
    expect(await client.readWorkPool('default')).toEqual({ id: 'pool-1', name: 'default' });
    expect(await client.readWorkPool('missing')).toBeNull();
    expect(scope.isDone()).toBe(true);
  });

  it('readWorkPool throws when the credentials are refused', async () => {
    const scope = prefect().get('/api/work_pools/default').reply(401, { detail: 'Unauthorized' });
    const error = await rejectionOf(makeClient().readWorkPool('default'));
    expect(error).toMatchObject({ kind: 'auth', status: 401 });
    expect(scope.isDone()).toBe(true);
  });

  it('readFlowId returns the id, or null on 404, with the name URL-encoded', async () => {
    const scope = prefect()
      .get('/api/flows/name/dlt_pipeline')
      .reply(200, { id: FLOW_ID, name: 'dlt_pipeline' })
      .get('/api/flows/name/my%20flow%2Fv2')
      .reply(404, { detail: 'Flow not found' });
    const client = makeClient();
    expect(await client.readFlowId('dlt_pipeline')).toBe(FLOW_ID);
    expect(await client.readFlowId('my flow/v2')).toBeNull();
    expect(scope.isDone()).toBe(true);
  });

  it('readDeployment returns null on 404', async () => {
    const scope = prefect().get(DEPLOYMENT_PATH).reply(404, { detail: 'Deployment not found.' });
    expect(await makeClient().readDeployment(DEPLOYMENT_ID)).toBeNull();
    expect(scope.isDone()).toBe(true);
  });

  it('ensureFlow POSTs the name to /flows/ and returns the id', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/flows/')
      .reply(recordAndReply(seen, 200, { id: FLOW_ID, name: 'dlt_pipeline' }));
    expect(await makeClient().ensureFlow('dlt_pipeline')).toBe(FLOW_ID);
    expect(scope.isDone()).toBe(true);
    expect(seen[0]!.body).toEqual({ name: 'dlt_pipeline' });
  });
});

describe('PrefectClient.readRecentRuns (run health)', () => {
  const SINCE = new Date('2026-12-06T10:00:00Z');
  const UNTIL = new Date('2026-12-07T10:00:00Z');

  function flowRuns(n: number, from = 0) {
    return Array.from({ length: n }, (_, i) => ({
      id: `r-${from + i}`,
      name: `run-${from + i}`,
      deployment_id: DEPLOYMENT_ID,
      state_type: 'COMPLETED',
      state_name: 'Completed',
      expected_start_time: '2026-12-07T09:00:00Z',
      start_time: '2026-12-07T09:00:01Z',
      parameters: { big: 'x'.repeat(100) },
    }));
  }

  function body(offset: number, limit = 200) {
    return {
      sort: 'EXPECTED_START_TIME_DESC',
      offset,
      limit,
      deployments: { tags: { all_: ['managed'] } },
      flow_runs: {
        expected_start_time: { after_: SINCE.toISOString(), before_: UNTIL.toISOString() },
      },
    };
  }

  it("asks once for the managed deployments' runs of the window, newest first, and keeps what the summary reads", async () => {
    const seen: Seen[] = [];
    prefect()
      .post('/api/flow_runs/filter')
      .reply(
        recordAndReply(seen, 200, [...flowRuns(2), { ...flowRuns(1, 9)[0], deployment_id: null }]),
      );
    const client = makeClient();
    const read = await client.readRecentRuns('managed', { since: SINCE, until: UNTIL, max: 5000 });
    expect(seen.map((s) => s.body)).toEqual([body(0)]);
    expect(read.truncated).toBe(false);
    expect(read.runs).toEqual([
      {
        deploymentId: DEPLOYMENT_ID,
        stateType: 'COMPLETED',
        stateName: 'Completed',
        expectedStartTime: new Date('2026-12-07T09:00:00Z'),
        startTime: new Date('2026-12-07T09:00:01Z'),
      },
      expect.objectContaining({ deploymentId: DEPLOYMENT_ID }),
    ]);
    expect(client.http.counts).toMatchObject({ reads: 1, writes: 0 });
  });

  it('pages by 200 and stops at the cap: truncated, never more than ⌈max/200⌉ calls', async () => {
    const seen: Seen[] = [];
    const scope = prefect()
      .post('/api/flow_runs/filter')
      .reply(recordAndReply(seen, 200, flowRuns(200)))
      .post('/api/flow_runs/filter')
      .reply(recordAndReply(seen, 200, flowRuns(100, 200)));
    const read = await makeClient().readRecentRuns('managed', {
      since: SINCE,
      until: UNTIL,
      max: 300,
    });
    expect(scope.isDone()).toBe(true);
    expect(seen.map((s) => s.body)).toEqual([body(0), body(200, 100)]);
    expect(read.runs).toHaveLength(300);
    expect(read.truncated).toBe(true);
  });

  it('a run read on two pages (offsets shift as runs are made) counts once', async () => {
    prefect()
      .post('/api/flow_runs/filter')
      .reply(200, flowRuns(200))
      .post('/api/flow_runs/filter')
      .reply(200, flowRuns(10, 195));
    const read = await makeClient().readRecentRuns('managed', {
      since: SINCE,
      until: UNTIL,
      max: 5000,
    });
    expect(read.runs).toHaveLength(205);
    expect(read.truncated).toBe(false);
  });
});
