import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import {
  deepMerge,
  loadConfig,
  PACKAGE_CONFIG_DIR,
  type ConfigResult,
} from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';

const REQUIRED_ENV = {
  DATABASE_URL: 'postgres://sync@db:5432/app',
  PREFECT_API_URL: 'http://127.0.0.1:4200/api',
};
const DEFAULT_YAML = join(PACKAGE_CONFIG_DIR, 'default.yaml');

const root = mkdtempSync(join(tmpdir(), 'cs-config-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** Writes files into a fresh directory and returns its path. */
function dir(files: Record<string, string | object>): string {
  const path = join(root, `case-${++counter}`);
  mkdirSync(path);
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(path, name), typeof content === 'string' ? content : stringify(content));
  }
  return path;
}

function config(result: ConfigResult): Config {
  if (!result.ok)
    throw new Error(`expected a valid configuration, got:\n${result.errors.join('\n')}`);
  return result.config;
}

function errors(result: ConfigResult): string[] {
  if (result.ok) throw new Error('expected configuration errors');
  return result.errors;
}

describe('defaults (docs/reference/configuration.md)', () => {
  const fromDefaultYaml = loadConfig({ env: { ...REQUIRED_ENV } });

  it('need only DATABASE_URL and PREFECT_API_URL, read from the shipped config/default.yaml', () => {
    expect(PACKAGE_CONFIG_DIR).toBe(resolve(import.meta.dirname, '../../../config'));
    expect(fromDefaultYaml.ok && fromDefaultYaml.files).toEqual([DEFAULT_YAML]);
  });

  it('match the documented values', () => {
    const c = config(fromDefaultYaml);
    expect(c.database).toEqual({ url: REQUIRED_ENV.DATABASE_URL, schema: 'connector_sync' });
    expect(c.prefect).toEqual({
      apiUrl: REQUIRED_ENV.PREFECT_API_URL,
      timeoutMs: 10_000,
      requestsPerSecond: 50,
      retries: 4,
      retryMinDelayMs: 500,
      retryMaxDelayMs: 8_000,
      uiUrl: null,
    });
    expect(c.source).toEqual({ table: 'cai_connectors', writeBackDeploymentId: true });
    expect(c.deployment).toEqual({
      template: null,
      flowName: null,
      entrypoint: null,
      nameTemplate: 'connector-{id}',
      workPoolName: null,
      workQueueName: null,
      tags: [],
      jobVariables: {},
      path: null,
      pullSteps: null,
      version: null,
      parameterSchema: null,
      parameterSchemaFile: null,
      concurrencyLimit: null,
      collisionStrategy: 'ENQUEUE',
      defaultTimezone: 'UTC',
      onInactive: 'pause',
    });
    expect(c.ownership).toEqual({ managedTag: 'managed-by:connector-sync', adopt: false });
    expect(c.reconcile).toEqual({
      schedule: '* * * * *',
      mode: 'apply',
      concurrency: 8,
      maxDeletesPerPass: '25%',
      deleteBudget: { limit: 10, window: '1h' },
      rescheduleWithinSeconds: 300,
      sourceShrinkLimit: '50%',
      backoff: { baseSeconds: 10, maxSeconds: 3600 },
      lockWaitSeconds: 60,
      shutdownTimeoutSeconds: 20,
    });
    expect(c.log).toEqual({ level: 'info', format: 'json' });
    expect(c.http).toEqual({
      host: null,
      port: 8080,
      auth: { token: null, basic: null, metrics: false },
    });
    expect(c.events).toEqual({
      publish: {
        prefect: true,
        nats: { url: null, subject: 'connector-sync.events', stream: 'CONNECTOR_SYNC_EVENTS' },
        flushSeconds: 10,
      },
      retentionDays: null,
      passRetentionDays: 30,
    });
  });

  it('the built-in defaults (an empty config file) are the same as default.yaml', () => {
    const empty = dir({ 'empty.yaml': '' });
    const builtIn = loadConfig({ env: { ...REQUIRED_ENV }, configFile: join(empty, 'empty.yaml') });
    expect(config(builtIn)).toEqual(config(fromDefaultYaml));
  });

  it('a file with comments only counts as empty', () => {
    const d = dir({ 'c.yaml': '# nothing here\n' });
    expect(config(loadConfig({ env: { ...REQUIRED_ENV }, configFile: join(d, 'c.yaml') }))).toEqual(
      config(fromDefaultYaml),
    );
  });
});

describe('config/default.yaml and the schema', () => {
  const text = readFileSync(DEFAULT_YAML, 'utf8');
  const yaml = parseYaml(text) as Record<string, unknown>;

  function leaves(value: unknown, prefix = ''): Map<string, unknown> {
    const out = new Map<string, unknown>();
    if (
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      Object.keys(value).length > 0
    ) {
      for (const [k, v] of Object.entries(value)) {
        for (const [p, leaf] of leaves(v, prefix ? `${prefix}.${k}` : k)) out.set(p, leaf);
      }
    } else out.set(prefix, value);
    return out;
  }

  function at(object: unknown, path: string): unknown {
    return path
      .split('.')
      .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], object);
  }

  const yamlLeaves = leaves(yaml);

  it('documents a reasonable number of keys', () => {
    expect(yamlLeaves.size).toBeGreaterThanOrEqual(25);
    expect(yamlLeaves.has('reconcile.backoff.baseSeconds')).toBe(true);
  });

  it('every leaf key is accepted by the schema with the value written there', () => {
    const d = dir({ 'copy.yaml': stringify(yaml) });
    const c = config(loadConfig({ env: { ...REQUIRED_ENV }, configFile: join(d, 'copy.yaml') }));
    for (const [path, value] of yamlLeaves) {
      expect({ path, value: at(c, path) }).toEqual({ path, value });
    }
  });

  it('every leaf key, given alone, is accepted', () => {
    for (const [path, value] of yamlLeaves) {
      const result = loadConfig({ env: { ...REQUIRED_ENV }, overrides: { [path]: value } });
      expect({ path, ok: result.ok }).toEqual({ path, ok: true });
    }
  });

  it('every key with a built-in default is documented (required ones as comments)', () => {
    const empty = dir({ 'empty.yaml': '' });
    const c = config(
      loadConfig({ env: { ...REQUIRED_ENV }, configFile: join(empty, 'empty.yaml') }),
    );
    for (const path of leaves(c).keys()) {
      if (path === 'prefect.apiUrl' || path === 'database.url') continue;
      expect({ path, documented: yamlLeaves.has(path) }).toEqual({ path, documented: true });
    }
    expect(text).toMatch(/#\s*apiUrl:/);
    expect(text).toMatch(/#\s*url: postgres:\/\//);
  });
});

describe('precedence: flags > environment > file > built-in defaults', () => {
  const base = dir({
    'base.yaml': {
      reconcile: { concurrency: 4, schedule: '*/5 * * * *' },
      log: { level: 'debug', format: 'pretty' },
      http: { port: 9000 },
      deployment: { tags: ['from-file'] },
    },
  });
  const file = join(base, 'base.yaml');

  it('the file beats the built-in defaults', () => {
    const c = config(loadConfig({ env: { ...REQUIRED_ENV }, configFile: file }));
    expect(c.reconcile.concurrency).toBe(4);
    expect(c.reconcile.schedule).toBe('*/5 * * * *');
    expect(c.log).toEqual({ level: 'debug', format: 'pretty' });
    expect(c.http.port).toBe(9000);
    expect(c.reconcile.lockWaitSeconds).toBe(60);
  });

  it('the environment beats the file', () => {
    const c = config(
      loadConfig({
        env: {
          ...REQUIRED_ENV,
          CONNECTOR_SYNC_SCHEDULE: '*/10 * * * *',
          LOG_LEVEL: 'warn',
          LOG_FORMAT: 'json',
          PORT: '9090',
          HOST: '127.0.0.1',
        },
        configFile: file,
      }),
    );
    expect(c.http.host).toBe('127.0.0.1');
    expect(c.reconcile.schedule).toBe('*/10 * * * *');
    expect(c.log).toEqual({ level: 'warn', format: 'json' });
    expect(c.http.port).toBe(9090);
    expect(c.reconcile.concurrency).toBe(4);
  });

  it('flags beat the environment', () => {
    const c = config(
      loadConfig({
        env: { ...REQUIRED_ENV, LOG_LEVEL: 'warn' },
        configFile: file,
        overrides: { 'log.level': 'error', 'reconcile.concurrency': 16 },
      }),
    );
    expect(c.log.level).toBe('error');
    expect(c.reconcile.concurrency).toBe(16);
  });

  it('a flag left undefined does not hide the environment or the file', () => {
    const c = config(
      loadConfig({
        env: { ...REQUIRED_ENV, LOG_LEVEL: 'warn' },
        configFile: file,
        overrides: { 'log.level': undefined, 'log.format': undefined },
      }),
    );
    expect(c.log).toEqual({ level: 'warn', format: 'pretty' });
  });

  it('an empty environment variable is ignored', () => {
    const c = config(loadConfig({ env: { ...REQUIRED_ENV, LOG_LEVEL: '' }, configFile: file }));
    expect(c.log.level).toBe('debug');
  });

  it('secrets come from the environment', () => {
    const c = config(
      loadConfig({
        env: { ...REQUIRED_ENV, PREFECT_API_KEY: 'pnu_key', PREFECT_API_AUTH_STRING: 'admin:pass' },
      }),
    );
    expect(c.prefect.apiKey).toBe('pnu_key');
    expect(c.prefect.authString).toBe('admin:pass');
  });

  it('CONNECTOR_SYNC_CONFIG names the file when --config is absent', () => {
    const c = config(loadConfig({ env: { ...REQUIRED_ENV, CONNECTOR_SYNC_CONFIG: file } }));
    expect(c.reconcile.concurrency).toBe(4);
  });

  it('--config beats CONNECTOR_SYNC_CONFIG', () => {
    const other = dir({ 'other.yaml': { reconcile: { concurrency: 2 } } });
    const result = loadConfig({
      env: { ...REQUIRED_ENV, CONNECTOR_SYNC_CONFIG: file },
      configFile: join(other, 'other.yaml'),
    });
    expect(config(result).reconcile.concurrency).toBe(2);
    expect(result.ok && result.files).toEqual([join(other, 'other.yaml')]);
  });
});

describe('CONNECTOR_SYNC_ENV layers a file next to the base file', () => {
  const d = dir({
    'base.yaml': {
      deployment: { tags: ['etl'], workPoolName: 'pool-a', onInactive: 'delete' },
      reconcile: { concurrency: 4, backoff: { baseSeconds: 5 } },
    },
    'staging.yaml': {
      deployment: { workPoolName: 'staging-pool' },
      reconcile: { concurrency: 16, backoff: { maxSeconds: 60 } },
    },
  });
  const base = join(d, 'base.yaml');

  it('the layer wins key by key and the rest of the base stays', () => {
    const result = loadConfig({
      env: { ...REQUIRED_ENV, CONNECTOR_SYNC_ENV: 'staging' },
      configFile: base,
    });
    const c = config(result);
    expect(c.deployment.workPoolName).toBe('staging-pool');
    expect(c.deployment.tags).toEqual(['etl']);
    expect(c.deployment.onInactive).toBe('delete');
    expect(c.reconcile.concurrency).toBe(16);
    expect(c.reconcile.backoff).toEqual({ baseSeconds: 5, maxSeconds: 60 });
    expect(result.ok && result.files).toEqual([base, join(d, 'staging.yaml')]);
  });

  it('the environment still beats the layer', () => {
    const c = config(
      loadConfig({
        env: { ...REQUIRED_ENV, CONNECTOR_SYNC_ENV: 'staging', LOG_LEVEL: 'trace' },
        configFile: base,
        overrides: { 'reconcile.concurrency': 3 },
      }),
    );
    expect(c.log.level).toBe('trace');
    expect(c.reconcile.concurrency).toBe(3);
  });

  it('a layer that does not exist is refused, naming the file looked for (never a prod run on the base alone)', () => {
    const result = loadConfig({
      env: { ...REQUIRED_ENV, CONNECTOR_SYNC_ENV: 'production' },
      configFile: base,
    });
    expect(errors(result)).toEqual([
      `CONNECTOR_SYNC_ENV=production: config file ${join(d, 'production.yaml')} does not exist`,
    ]);
  });

  it('the layer is looked for next to the shipped default.yaml when no file is given', () => {
    const result = loadConfig({ env: { ...REQUIRED_ENV, CONNECTOR_SYNC_ENV: 'no-such-env' } });
    expect(errors(result)).toEqual([
      `CONNECTOR_SYNC_ENV=no-such-env: config file ${join(dirname(DEFAULT_YAML), 'no-such-env.yaml')} does not exist`,
    ]);
  });

  it('a name that is not plain is refused', () => {
    expect(
      errors(
        loadConfig({ env: { ...REQUIRED_ENV, CONNECTOR_SYNC_ENV: '../etc/x' }, configFile: base }),
      ),
    ).toEqual(['CONNECTOR_SYNC_ENV: "../etc/x" is not a plain name']);
  });
});

describe('problems', () => {
  it('an unknown key is rejected (typos are errors)', () => {
    const d = dir({ 'c.yaml': { deployment: { flowname: 'typo' } } });
    const errs = errors(loadConfig({ env: { ...REQUIRED_ENV }, configFile: join(d, 'c.yaml') }));
    expect(errs).toHaveLength(1);
    expect(errs[0]).toBe('unknown key deployment.flowname — did you mean deployment.flowName?');
  });

  it('an unknown top-level key is rejected', () => {
    const d = dir({ 'c.yaml': { reconcilee: { concurrency: 2 } } });
    const errs = errors(loadConfig({ env: { ...REQUIRED_ENV }, configFile: join(d, 'c.yaml') }));
    expect(errs).toHaveLength(1);
    expect(errs[0]).toBe('unknown key reconcilee — did you mean reconcile?');
  });

  it('several bad values are reported all at once', () => {
    const d = dir({
      'c.yaml': {
        deployment: { onInactive: 'archive' },
        reconcile: { concurrency: 0 },
        database: { schema: 'connector_sync' },
      },
    });
    const errs = errors(
      loadConfig({
        env: { PREFECT_API_URL: REQUIRED_ENV.PREFECT_API_URL },
        configFile: join(d, 'c.yaml'),
      }),
    );
    expect(errs).toHaveLength(3);
    expect(errs.find((e) => e.startsWith('deployment.onInactive: '))).toMatch(/pause.*delete/);
    expect(errs.find((e) => e.startsWith('reconcile.concurrency: '))).toBeDefined();
    expect(errs.find((e) => e.startsWith('database.url (DATABASE_URL): '))).toBeDefined();
  });

  it('the same three problems are found with the shipped default.yaml and flags', () => {
    const errs = errors(
      loadConfig({
        env: { PREFECT_API_URL: REQUIRED_ENV.PREFECT_API_URL },
        overrides: { 'deployment.onInactive': 'archive', 'reconcile.concurrency': 0 },
      }),
    );
    expect(errs.map((e) => e.split(':')[0]).sort()).toEqual([
      'database.url (DATABASE_URL)',
      'deployment.onInactive',
      'reconcile.concurrency',
    ]);
  });

  it('file, environment and schema problems are reported together', () => {
    const d = dir({ 'c.yaml': { reconcile: { concurrency: 100 } } });
    const errs = errors(
      loadConfig({
        env: { ...REQUIRED_ENV, CONNECTOR_SYNC_ENV: 'a b', PORT: 'eighty' },
        configFile: join(d, 'c.yaml'),
      }),
    );
    expect(errs).toHaveLength(3);
    expect(errs[0]).toBe('CONNECTOR_SYNC_ENV: "a b" is not a plain name');
    expect(errs.some((e) => e.startsWith('reconcile.concurrency: '))).toBe(true);
    expect(errs.some((e) => e.startsWith('http.port (PORT): '))).toBe(true);
  });

  it('a missing --config file is an error', () => {
    const missing = join(root, 'nope.yaml');
    expect(errors(loadConfig({ env: { ...REQUIRED_ENV }, configFile: missing }))).toEqual([
      `config file ${missing} does not exist`,
    ]);
  });

  it('a YAML syntax error names the file', () => {
    const d = dir({ 'bad.yaml': 'reconcile: [unclosed\n' });
    const errs = errors(loadConfig({ env: { ...REQUIRED_ENV }, configFile: join(d, 'bad.yaml') }));
    expect(errs).toHaveLength(1);
    expect(errs[0]!.startsWith(`${join(d, 'bad.yaml')}: `)).toBe(true);
  });

  it('a file whose top level is not a mapping is an error', () => {
    const d = dir({ 'list.yaml': '- a\n- b\n' });
    expect(
      errors(loadConfig({ env: { ...REQUIRED_ENV }, configFile: join(d, 'list.yaml') })),
    ).toEqual([`${join(d, 'list.yaml')}: the top level must be a mapping of keys`]);
  });

  it.each([
    [{ PREFECT_API_URL: 'ftp://prefect/api' }, 'prefect.apiUrl (PREFECT_API_URL): '],
    [{ PREFECT_API_URL: 'not a url' }, 'prefect.apiUrl (PREFECT_API_URL): '],
    [{ DATABASE_URL: 'mysql://db/app' }, 'database.url (DATABASE_URL): '],
    [{ PREFECT_API_AUTH_STRING: 'no-colon' }, 'prefect.authString (PREFECT_API_AUTH_STRING): '],
    [{ CONNECTOR_SYNC_SCHEDULE: 'H * * * *' }, 'reconcile.schedule (CONNECTOR_SYNC_SCHEDULE): '],
    [{ LOG_LEVEL: 'verbose' }, 'log.level (LOG_LEVEL): '],
    [{ LOG_FORMAT: 'xml' }, 'log.format (LOG_FORMAT): '],
    [{ PORT: '70000' }, 'http.port (PORT): '],
  ])('the environment value %j is rejected, naming the variable', (env, prefix) => {
    const errs = errors(loadConfig({ env: { ...REQUIRED_ENV, ...env } }));
    expect(errs).toHaveLength(1);
    expect(errs[0]!.startsWith(prefix)).toBe(true);
  });

  it('a raw "#" in the database password is named, with its encoding (it would start the URL\'s fragment)', () => {
    const errs = errors(
      loadConfig({ env: { ...REQUIRED_ENV, DATABASE_URL: 'postgres://sync:pa#ss@db:5432/app' } }),
    );
    expect(errs).toEqual([
      'database.url (DATABASE_URL): the user or password holds a raw "#": percent-encode it as %23',
    ]);
    expect(errs[0]).not.toContain('pa#ss');
    const encoded = loadConfig({
      env: { ...REQUIRED_ENV, DATABASE_URL: 'postgres://sync:pa%23ss@db:5432/app' },
    });
    expect(config(encoded).database.url).toBe('postgres://sync:pa%23ss@db:5432/app');
  });

  it("the delete budget's window reads like --since; the shrink limit is a percentage or off", () => {
    const ok = config(
      loadConfig({
        env: REQUIRED_ENV,
        overrides: {
          'reconcile.deleteBudget.window': '1h30m',
          'reconcile.sourceShrinkLimit': 'off',
        },
      }),
    );
    expect(ok.reconcile.deleteBudget).toEqual({ limit: 10, window: '1h30m' });
    expect(ok.reconcile.sourceShrinkLimit).toBe('off');
    expect(
      errors(
        loadConfig({
          env: REQUIRED_ENV,
          overrides: {
            'reconcile.deleteBudget.window': '3600',
            'reconcile.deleteBudget.limit': -1,
            'reconcile.sourceShrinkLimit': '0.5',
          },
        }),
      ),
    ).toEqual([
      'reconcile.deleteBudget.limit: Too small: expected number to be >=0',
      'reconcile.deleteBudget.window: must be a duration such as 45s, 30m, 2h or 7d',
      'reconcile.sourceShrinkLimit: must be a percentage such as "50%", or "off"',
    ]);
  });

  it('a bad reconcile schedule is explained by the cron check', () => {
    const errs = errors(
      loadConfig({ env: { ...REQUIRED_ENV, CONNECTOR_SYNC_SCHEDULE: '0 1 * * * *' } }),
    );
    expect(errs).toEqual([
      'reconcile.schedule (CONNECTOR_SYNC_SCHEDULE): cron "0 1 * * * *" has 6 fields; use 5 (minute hour day-of-month month day-of-week)',
    ]);
  });

  it.each([
    ['deployment.nameTemplate', 'connector', /must contain \{id\}/],
    ['deployment.nameTemplate', 'team/{id}', /must not contain \/ % & > </],
    ['deployment.defaultTimezone', 'Mars/Olympus', /IANA timezone/],
    ['deployment.defaultTimezone', 'utc', /IANA timezone/],
    ['deployment.onInactive', 'archive', /pause.*delete/],
    ['deployment.tags', ['ok', ''], /.+/],
    ['deployment.pullSteps', ['not-an-object'], /.+/],
    ['deployment.jobVariables', ['x'], /.+/],
    ['source.table', 'drop table;', /table or view name/],
    ['reconcile.concurrency', 0, /.+/],
    ['reconcile.concurrency', 65, /.+/],
    ['reconcile.concurrency', 2.5, /.+/],
    ['reconcile.maxDeletesPerPass', 'lots', /count or a percentage/],
    ['reconcile.maxDeletesPerPass', -1, /.+/],
    ['reconcile.backoff.baseSeconds', 0, /.+/],
    ['reconcile.lockWaitSeconds', -1, /.+/],
    ['prefect.timeoutMs', 50, /.+/],
    ['prefect.requestsPerSecond', 0, /.+/],
    ['prefect.retries', -1, /.+/],
    ['prefect.retryMinDelayMs', 0, /.+/],
    ['prefect.retryMaxDelayMs', 100, /not be less than prefect.retryMinDelayMs/],
    ['database.schema', 'Connector-Sync', /lower-case SQL identifier/],
    ['ownership.adopt', 'yes', /.+/],
  ])('%s = %j is rejected', (path, value, message) => {
    const errs = errors(loadConfig({ env: { ...REQUIRED_ENV }, overrides: { [path]: value } }));
    expect(errs).toHaveLength(1);
    expect(errs[0]!.startsWith(`${path}`)).toBe(true);
    expect(errs[0]).toMatch(message);
  });

  it.each([
    ['reconcile.maxDeletesPerPass', 10],
    ['reconcile.maxDeletesPerPass', '12.5%'],
    ['source.table', 'app.connectors_view'],
    ['deployment.nameTemplate', '{id}-sync'],
    ['deployment.defaultTimezone', 'US/Pacific'],
    ['deployment.onInactive', 'delete'],
    ['deployment.path', '/opt/flows'],
    ['reconcile.schedule', '@hourly'],
  ])('%s = %j is accepted', (path, value) => {
    const c = config(loadConfig({ env: { ...REQUIRED_ENV }, overrides: { [path]: value } }));
    const [section, ...rest] = path.split('.');
    expect(
      (c as unknown as Record<string, Record<string, unknown>>)[section!]![rest.join('.')],
    ).toEqual(value);
  });

  it('without any database section, the missing DATABASE_URL is still reported', () => {
    const d = dir({ 'c.yaml': { reconcile: { concurrency: 2 } } });
    const errs = errors(
      loadConfig({
        env: { PREFECT_API_URL: REQUIRED_ENV.PREFECT_API_URL },
        configFile: join(d, 'c.yaml'),
      }),
    );
    expect(errs).toHaveLength(1);
    expect(errs[0]!.startsWith('database')).toBe(true);
  });

  // Regression: without a `database:` section the error used to read "database: Invalid
  // input: expected object" and never named DATABASE_URL.
  it('the missing-DATABASE_URL error names the variable even without a database section', () => {
    const d = dir({ 'c.yaml': { reconcile: { concurrency: 2 } } });
    const errs = errors(
      loadConfig({
        env: { PREFECT_API_URL: REQUIRED_ENV.PREFECT_API_URL },
        configFile: join(d, 'c.yaml'),
      }),
    );
    expect(errs[0]).toContain('DATABASE_URL');
  });
});

describe('deepMerge', () => {
  it('merges mappings recursively, replaces lists and scalars', () => {
    expect(
      deepMerge(
        { a: { b: 1, c: [1, 2], d: { e: 1 } }, f: 'x' },
        { a: { c: [3], d: { g: 2 } }, f: 'y', h: null },
      ),
    ).toEqual({ a: { b: 1, c: [3], d: { e: 1, g: 2 } }, f: 'y', h: null });
  });

  it('does not modify its inputs', () => {
    const base = { a: { b: 1 } };
    deepMerge(base, { a: { b: 2 } });
    expect(base).toEqual({ a: { b: 1 } });
  });
});

describe('unknown keys', () => {
  it('get a did-you-mean suggestion from the keys known at that place', () => {
    const path = dir({
      'config.yaml': { reconcile: { schedul: '* * * * *' }, prefekt: {}, deployment: { zzz: 1 } },
    });
    const result = loadConfig({ env: REQUIRED_ENV, configFile: join(path, 'config.yaml') });
    expect(result.ok).toBe(false);
    const errors = (result as { errors: string[] }).errors;
    expect(errors).toContain('unknown key reconcile.schedul — did you mean reconcile.schedule?');
    expect(errors).toContain('unknown key prefekt — did you mean prefect?');
    expect(errors).toContain('unknown key deployment.zzz');
  });
});
