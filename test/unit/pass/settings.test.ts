import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { flowNameOf } from '../../../src/config/schema.js';
import type { Change, Plan, TemplateDeployment } from '../../../src/domain/types.js';
import { DEFAULT_SECRET_KEYS, maskerOf } from '../../../src/domain/mask.js';
import { validateRow } from '../../../src/domain/validate.js';
import { routeOf } from '../../../src/prefect/http.js';
import { poolsOf, withKnownPools } from '../../../src/pass/work-pools.js';
import {
  checkParameters,
  DEFAULT_ENTRYPOINT,
  desiredSettings,
} from '../../../src/pass/settings.js';
import { connectorRow, sourceRow, specFor } from '../../harness/plan-fixtures.js';

// Row > configuration > template > built-in default, field by field.

function config(overrides: Record<string, unknown> = {}): Config {
  const result = loadConfig({
    env: { DATABASE_URL: 'postgres://x@db/app', PREFECT_API_URL: 'http://p/api' },
    overrides,
  });
  if (!result.ok) throw new Error(result.errors.join('; '));
  return result.config;
}

const TEMPLATE: TemplateDeployment = {
  id: 't',
  name: 'template',
  flow_id: 'f',
  version: '2.0.0',
  parameter_openapi_schema: {
    type: 'object',
    properties: { connector_id: { type: 'integer' }, batch_size: { type: 'integer' } },
    required: ['connector_id'],
  },
  enforce_parameter_schema: true,
  entrypoint: 'flows/x.py:run',
  path: null,
  pull_steps: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/code' } }],
  job_variables: { image: 'flows:2', memory: '1Gi' },
  work_pool_name: 'k8s',
  work_queue_name: 'etl',
};

describe('desiredSettings', () => {
  it('without a template: the configuration, else the built-in defaults; no schema, not enforced', () => {
    const s = desiredSettings(config(), 'number', null);
    expect(s).toMatchObject({
      workPoolName: 'default',
      workQueueName: 'default',
      entrypoint: DEFAULT_ENTRYPOINT,
      path: null,
      pullSteps: null,
      jobVariables: {},
      release: null,
      parameterSchema: {},
      enforceParameterSchema: false,
    });
  });

  it('with a template: its code-related fields, unless the configuration sets them', () => {
    const s = desiredSettings(
      config({
        'deployment.template': 'flow/template',
        'deployment.workQueueName': 'mine',
        'deployment.jobVariables': { memory: '4Gi' },
      }),
      'number',
      TEMPLATE,
    );
    expect(s).toMatchObject({
      workPoolName: 'k8s',
      workQueueName: 'mine',
      entrypoint: 'flows/x.py:run',
      pullSteps: TEMPLATE.pull_steps,
      jobVariables: { image: 'flows:2', memory: '4Gi' },
      release: '2.0.0',
      parameterSchema: TEMPLATE.parameter_openapi_schema,
      enforceParameterSchema: true,
    });
  });

  it("a configured schema wins over the template's and is enforced", () => {
    const schema = { type: 'object', properties: { connector_id: { type: 'integer' } } };
    const s = desiredSettings(config({ 'deployment.parameterSchema': schema }), 'number', {
      ...TEMPLATE,
      enforce_parameter_schema: false,
    });
    expect(s).toMatchObject({ parameterSchema: schema, enforceParameterSchema: true });
  });

  it("the flow: flowName, else the template's, else the default; a different one is refused", () => {
    expect(flowNameOf(config().deployment)).toBe('run_connector_pipeline');
    expect(flowNameOf(config({ 'deployment.template': 'etl/template' }).deployment)).toBe('etl');
    const clash = loadConfig({
      env: { DATABASE_URL: 'postgres://x@db/app', PREFECT_API_URL: 'http://p/api' },
      overrides: { 'deployment.template': 'etl/template', 'deployment.flowName': 'other' },
    });
    expect(clash.ok ? [] : clash.errors).toEqual([
      'deployment.flowName: is "other" but deployment.template belongs to flow "etl"; leave flowName out (connectors use the template\'s flow)',
    ]);
  });
});

const MASKER = maskerOf(DEFAULT_SECRET_KEYS);

describe('checkParameters', () => {
  it('moves the rows the schema refuses to the problems, keeps the rest', () => {
    const settings = desiredSettings(config(), 'number', TEMPLATE);
    const good = connectorRow({ id: '1', parameters: { batch_size: 5 } });
    const bad = connectorRow({ id: '2', parameters: { batch_size: 'x' } });
    const checked = checkParameters(
      { valid: [good, bad], softDeleted: new Map(), problems: [] },
      settings,
      MASKER,
    );
    expect(checked.valid).toEqual([good]);
    expect(checked.problems).toEqual([
      {
        connectorId: '2',
        connectorName: 'Orders',
        status: 'invalid',
        message: 'parameter batch_size must be integer, got "x"',
        retryable: false,
      },
    ]);
  });

  it("an id column the schema's connector_id cannot take is a configuration problem", () => {
    const settings = desiredSettings(config(), 'string', TEMPLATE);
    expect(() =>
      checkParameters({ valid: [], softDeleted: new Map(), problems: [] }, settings, MASKER),
    ).toThrow(/connector_id parameter must be integer but the id column gives text/);
  });
});

describe("a row's own columns", () => {
  const settings = {
    idKind: 'number' as const,
    defaultTimezone: 'UTC',
    nameTemplate: 'connector-{id}',
    reservedTags: ['managed-by:connector-sync'],
  };
  it.each([
    [{ workPoolName: 7 }, 'work_pool_name must be text, got a number'],
    [{ workQueueName: '  ' }, 'work_queue_name is empty; leave it null for the configured one'],
    [
      { jobVariables: '[1]' },
      'job_variables must be a JSON object (merged over deployment.jobVariables), got an array',
    ],
    [{ tags: '["a", 3]' }, 'tags must be a list of non-empty text, got an array'],
    [
      { tags: '["cs-installation:team-b"]' },
      'tag "cs-installation:team-b" is connector-sync\'s own (connector-*, cs-installation:* and the managed tag tell deployments apart); rename it',
    ],
    [
      { tags: '["managed-by:connector-sync"]' },
      'tag "managed-by:connector-sync" is connector-sync\'s own (connector-*, cs-installation:* and the managed tag tell deployments apart); rename it',
    ],
    [{ concurrencyLimit: '0' }, 'concurrency_limit must be a whole number of at least 1, got "0"'],
    [
      { concurrencyLimit: '1.5' },
      'concurrency_limit must be a whole number of at least 1, got "1.5"',
    ],
  ])('%j: %s', (columns, message) => {
    expect(validateRow(sourceRow(columns), settings)).toBe(message);
  });

  it('read from their columns as Postgres gives them', () => {
    const row = validateRow(
      sourceRow({
        workPoolName: 'big',
        workQueueName: null,
        jobVariables: '{"memory": "8Gi"}',
        tags: '["team:x"]',
        concurrencyLimit: '2',
      }),
      settings,
    );
    expect(typeof row === 'object' && row.overrides).toEqual({
      workPoolName: 'big',
      workQueueName: null,
      jobVariables: { memory: '8Gi' },
      tags: ['team:x'],
      concurrencyLimit: 2,
    });
  });
});

describe('work pools of a plan', () => {
  const create: Change = {
    action: 'create',
    connectorId: '1',
    spec: { ...specFor('1'), work_pool_name: 'big' },
  };
  const plan: Plan = {
    changes: [create],
    problems: [],
    notices: [],
    unchanged: [],
    heldDeletes: null,
    suspended: [],
  };

  it('the pools writes send, and the ones changes touch', () => {
    expect(poolsOf(plan)).toEqual({ sent: new Set(['big']), touched: new Set() });
  });

  it('a write to a pool Prefect does not have: the connector is invalid, the change goes', () => {
    const known = withKnownPools(plan, new Map());
    expect(known.changes).toEqual([]);
    expect(known.problems).toEqual([
      expect.objectContaining({
        connectorId: '1',
        status: 'invalid',
        message: expect.stringContaining('work pool "big"'),
      }),
    ]);
    expect(withKnownPools(plan, new Map([['big', {}]]))).toBe(plan);
  });
});

describe('routeOf', () => {
  it('a template read by flow and name', () => {
    expect(routeOf('/deployments/name/etl/template')).toBe('/deployments/name/{name}/{name}');
  });

  it('a work pool by name, and the pools filter as itself', () => {
    expect(routeOf('/work_pools/default')).toBe('/work_pools/{name}');
    expect(routeOf('/work_pools/filter')).toBe('/work_pools/filter');
    expect(routeOf('/work_pools/default/queues/filter')).toBe('/work_pools/{name}/queues/filter');
  });
});
