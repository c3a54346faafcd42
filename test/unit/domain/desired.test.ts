import { describe, expect, it } from 'vitest';
import { desiredDeployment, SCHEDULE_SLUG } from '../../../src/domain/desired.js';
import { connectorTag } from '../../../src/domain/vocabulary.js';
import { prefectJsonSize } from '../../../src/domain/json.js';
import type { ConnectorRow } from '../../../src/domain/types.js';
import { MAX_PARAMETERS_BYTES, validateRow } from '../../../src/domain/validate.js';
import { connectorRow, MANAGED_TAG, SETTINGS, sourceRow } from '../../harness/plan-fixtures.js';

describe('desiredDeployment', () => {
  it('builds the whole deployment of a connector (docs/concepts/connectors-and-deployments.md)', () => {
    const spec = desiredDeployment(
      connectorRow({
        id: '42',
        name: 'Orders',
        cron: '0 1 * * *',
        timezone: 'Europe/Berlin',
        parameters: { source: 'crm' },
      }),
      {
        ...SETTINGS,
        path: '/opt/flows',
        pullSteps: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/x' } }],
        jobVariables: { image: 'flows:1' },
      },
    );
    expect(spec).toEqual({
      connectorId: '42',
      connectorName: 'Orders',
      name: 'connector-42',
      description:
        'Orders\n\nManaged by connector-sync from row 42 of cai_connectors: edits made in Prefect are reverted.',
      parameters: { source: 'crm', connector_id: 42 },
      schedules: [
        {
          cron: '0 1 * * *',
          timezone: 'Europe/Berlin',
          day_or: true,
          active: true,
          slug: 'connector-sync',
        },
      ],
      paused: false,
      tags: ['connector-42', 'managed-by:connector-sync', 'team:data'],
      work_pool_name: 'default',
      work_queue_name: 'default',
      entrypoint: 'flows/dlt_pipeline_flow.py:run_connector_pipeline',
      path: '/opt/flows',
      pull_steps: [{ 'prefect.deployments.steps.set_working_directory': { directory: '/x' } }],
      job_variables: { image: 'flows:1' },
      version: expect.stringMatching(/^[0-9a-f]{8}$/),
      parameter_openapi_schema: {},
      enforce_parameter_schema: false,
      concurrency_limit: null,
      concurrency_options: null,
    });
  });

  it("a row's own columns win over the settings; job variables merge, tags add up", () => {
    const spec = desiredDeployment(
      connectorRow({
        id: '7',
        overrides: {
          workPoolName: 'big-pool',
          workQueueName: 'nightly',
          jobVariables: { memory: '8Gi' },
          tags: ['team:finance'],
          concurrencyLimit: 1,
        },
      }),
      {
        ...SETTINGS,
        jobVariables: { image: 'flows:1', memory: '1Gi' },
        collisionStrategy: 'CANCEL_NEW',
      },
    );
    expect(spec).toMatchObject({
      work_pool_name: 'big-pool',
      work_queue_name: 'nightly',
      job_variables: { image: 'flows:1', memory: '8Gi' },
      tags: ['connector-7', 'managed-by:connector-sync', 'team:data', 'team:finance'],
      concurrency_limit: 1,
      concurrency_options: { collision_strategy: 'CANCEL_NEW' },
    });
  });

  it('version: the release and a hash of the rest; the hash moves with any change, not with the name of the connector key', () => {
    const base = desiredDeployment(connectorRow({ id: '1' }), { ...SETTINGS, release: '2.0.0' });
    expect(base.version).toMatch(/^2\.0\.0\+[0-9a-f]{8}$/);
    expect(
      desiredDeployment(connectorRow({ id: '1' }), { ...SETTINGS, release: '2.0.0' }).version,
    ).toBe(base.version);
    const edited = desiredDeployment(connectorRow({ id: '1', cron: '0 2 * * *' }), {
      ...SETTINGS,
      release: '2.0.0',
    });
    expect(edited.version.split('+')[1]).not.toBe(base.version.split('+')[1]);
    const released = desiredDeployment(connectorRow({ id: '1' }), {
      ...SETTINGS,
      release: '2.1.0',
    });
    expect(released.version).toBe(`2.1.0+${base.version.split('+')[1]!}`);
  });

  it('the name follows the template and does not depend on the connector name', () => {
    const a = desiredDeployment(connectorRow({ id: '5', name: 'Old name' }), {
      ...SETTINGS,
      nameTemplate: 'sync-{id}-prod',
    });
    const b = desiredDeployment(connectorRow({ id: '5', name: 'New name' }), {
      ...SETTINGS,
      nameTemplate: 'sync-{id}-prod',
    });
    expect(a.name).toBe('sync-5-prod');
    expect(b.name).toBe('sync-5-prod');
    expect(b.description.split('\n')[0]).toBe('New name');
  });

  describe('connector_id parameter', () => {
    it('is a JSON number for a numeric id column', () => {
      const spec = desiredDeployment(connectorRow({ id: '42' }), { ...SETTINGS, idKind: 'number' });
      expect(spec.parameters.connector_id).toBe(42);
      expect(typeof spec.parameters.connector_id).toBe('number');
    });

    it('is a string for a text/uuid id column, even when the value looks numeric', () => {
      const spec = desiredDeployment(connectorRow({ id: '42' }), { ...SETTINGS, idKind: 'string' });
      expect(spec.parameters.connector_id).toBe('42');
      const uuid = '6b1f1b9e-3a57-4c0e-9d7a-1c2b3d4e5f60';
      expect(
        desiredDeployment(connectorRow({ id: uuid }), { ...SETTINGS, idKind: 'string' }).parameters
          .connector_id,
      ).toBe(uuid);
    });

    it('wins over a connector_id key in the row parameters', () => {
      const spec = desiredDeployment(
        connectorRow({ id: '42', parameters: { connector_id: 'ignored', batch: 1 } }),
        SETTINGS,
      );
      expect(spec.parameters).toEqual({ connector_id: 42, batch: 1 });
    });

    it('does not change the row parameters object', () => {
      const row = connectorRow({ parameters: { batch: 1 } });
      desiredDeployment(row, SETTINGS);
      expect(row.parameters).toEqual({ batch: 1 });
    });

    it('is the only parameter when the row has none', () => {
      expect(desiredDeployment(connectorRow({ parameters: {} }), SETTINGS).parameters).toEqual({
        connector_id: 42,
      });
    });
  });

  describe('schedules', () => {
    it('are empty without a cron', () => {
      expect(desiredDeployment(connectorRow({ cron: null }), SETTINGS).schedules).toEqual([]);
    });

    it('hold one active connector-sync schedule with day_or true otherwise', () => {
      const spec = desiredDeployment(
        connectorRow({ cron: '*/5 * * * *', timezone: 'US/Pacific', isActive: false }),
        SETTINGS,
      );
      expect(SCHEDULE_SLUG).toBe('connector-sync');
      expect(spec.schedules).toEqual([
        {
          cron: '*/5 * * * *',
          timezone: 'US/Pacific',
          day_or: true,
          active: true,
          slug: 'connector-sync',
        },
      ]);
    });
  });

  describe('paused', () => {
    it('is the opposite of is_active', () => {
      expect(desiredDeployment(connectorRow({ isActive: true }), SETTINGS).paused).toBe(false);
      expect(desiredDeployment(connectorRow({ isActive: false }), SETTINGS).paused).toBe(true);
    });
  });

  describe('tags', () => {
    it('are config tags ∪ managed tag ∪ connector-<id>, sorted', () => {
      const spec = desiredDeployment(connectorRow({ id: '7' }), {
        ...SETTINGS,
        tags: ['zeta', 'alpha'],
      });
      expect(spec.tags).toEqual(['alpha', 'connector-7', MANAGED_TAG, 'zeta']);
    });

    it('are deduplicated when config repeats the managed or connector tag', () => {
      const spec = desiredDeployment(connectorRow({ id: '7' }), {
        ...SETTINGS,
        tags: ['etl', MANAGED_TAG, 'connector-7', 'etl'],
      });
      expect(spec.tags).toEqual(['connector-7', 'etl', MANAGED_TAG]);
    });

    it('hold just the managed and connector tags without config tags', () => {
      expect(desiredDeployment(connectorRow({ id: '1' }), { ...SETTINGS, tags: [] }).tags).toEqual([
        'connector-1',
        MANAGED_TAG,
      ]);
    });

    it('connectorTag prefixes the id', () => {
      expect(connectorTag('abc')).toBe('connector-abc');
    });
  });
});

describe('validated rows and the deployment Prefect receives', () => {
  const settings = {
    idKind: 'number',
    defaultTimezone: 'UTC',
    nameTemplate: 'connector-{id}',
  } as const;
  const overhead = ',"connector_id":42'.length;

  // Regression: validation used to measure the row's own parameters, so a row within
  // ~18 bytes of the limit passed and Prefect then refused the deployment (422).
  it('a row that passes validation yields deployment parameters within the limit', () => {
    const fill = 'a'.repeat(MAX_PARAMETERS_BYTES - 8 - overhead);
    const row = validateRow(
      sourceRow({ parameters: JSON.stringify({ k: fill }) }),
      settings,
    ) as ConnectorRow;
    expect(typeof row).toBe('object');
    const spec = desiredDeployment(row, SETTINGS);
    expect(prefectJsonSize(spec.parameters)).toBe(MAX_PARAMETERS_BYTES);
  });

  it('a row whose own parameters are exactly 512 KiB is invalid: with connector_id it is over', () => {
    const fill = 'a'.repeat(MAX_PARAMETERS_BYTES - 8);
    expect(validateRow(sourceRow({ parameters: JSON.stringify({ k: fill }) }), settings)).toMatch(
      /^parameters are 524306 bytes/,
    );
  });
});
