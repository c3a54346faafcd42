import { afterAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv, descriptionOf } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';
import { byPass, startProxy, type FaultProxy } from '../harness/proxy.js';

// Hostile rows (docs/concepts/connectors-and-deployments.md, "The source table": rows are validated before any call), table
// driven, against the real Postgres source and the real Prefect 3.9.1 server.
// Every case is one row; all rows of a world go through ONE `run --once`.
// An invalid row must end `invalid` (state, `status`, exactly one failed event)
// with a message that says what to fix, and never reach Prefect; a row that is
// odd but acceptable must sync and round-trip exactly. The valid rows of the
// same pass sync normally; a second pass writes nothing and repeats no event.

type Json = Record<string, unknown>;

interface Case {
  label: string;
  /** Defaults to a per-world id. */
  id?: string;
  /** Defaults to the label. */
  name?: string;
  /** Defaults to "0 1 * * *". */
  schedule?: string | null;
  timezone?: string | null;
  /** Raw JSON text as stored; defaults to {"source": "crm"}. */
  parameters?: string;
  /** The message the row must be reported with. */
  invalid?: string | RegExp;
  /** What Prefect must hold for an acceptable row (defaults: the row's own values). */
  valid?: { cron?: string | null; timezone?: string; parameters?: Json };
}

interface World {
  env: TestEnv;
  /** How a row's id becomes connector_id in the flow parameters. */
  idParam: (id: string) => unknown;
  insert(row: Required<Pick<Case, 'id' | 'name'>> & Case): Promise<void>;
}

const DEFAULT_PARAMS = '{"source": "crm"}';
const nested = (depth: number, open = '{"a":', close = '}'): string =>
  `${open.repeat(depth)}1${close.repeat(depth)}`;
const tz = (timezone: string): string =>
  `unknown timezone "${timezone}"; use an IANA name such as "Europe/Berlin" or "UTC"`;
const NOT_OBJECT = (got: string): string =>
  `parameters must be a JSON object, got ${got}; wrap values in an object such as {"value": ...}`;
const NON_ASCII = (cron: string): string =>
  `cron "${cron}" contains non-ASCII characters; write it with ASCII digits and names (0-9, mon, jan)`;
const HASHED = (cron: string, field: string): string =>
  `cron "${cron}" uses the random/hashed field "${field}", which Prefect rejects`;
const TOO_DEEP =
  'parameters are nested more than 100 levels deep; Prefect cannot serialise them, so flatten them';
const SQLISH = "'; DROP TABLE cai_connectors; --";

/** World A: the reference table (bigint ids, jsonb parameters). */
const REFERENCE_CASES: Case[] = [
  // crons
  {
    label: '6-field cron',
    schedule: '0 0 1 * * *',
    invalid: 'cron "0 0 1 * * *" has 6 fields; use 5 (minute hour day-of-month month day-of-week)',
  },
  {
    label: '7-field cron (with a year)',
    schedule: '0 1 * * * 2030 x',
    invalid: /^cron "0 1 \* \* \* 2030 x" has 7 fields; use 5/,
  },
  { label: 'Jenkins H', schedule: 'H 2 * * *', invalid: HASHED('H 2 * * *', 'H') },
  {
    label: 'Jenkins H(range)',
    schedule: 'H(0-29) 3 * * *',
    invalid: HASHED('H(0-29) 3 * * *', 'H(0-29)'),
  },
  { label: 'random R', schedule: '0 R * * *', invalid: HASHED('0 R * * *', 'R') },
  { label: 'minute 61', schedule: '61 * * * *', invalid: /^invalid cron "61 \* \* \* \*": .*0-59/ },
  { label: 'hour 24', schedule: '0 24 * * *', invalid: /^invalid cron "0 24 \* \* \*": .*0-23/ },
  { label: 'weekday 8', schedule: '* * * * 8', invalid: /^invalid cron "\* \* \* \* 8": .*0-7/ },
  {
    label: 'step 0',
    schedule: '*/0 * * * *',
    invalid: /^invalid cron "\*\/0 \* \* \* \*": .*every 0/,
  },
  { label: 'Arabic-Indic digits', schedule: '٠ ١ * * *', invalid: NON_ASCII('٠ ١ * * *') },
  { label: 'full-width digits', schedule: '０ 1 * * *', invalid: NON_ASCII('０ 1 * * *') },
  { label: 'letters', schedule: 'a b c d e', invalid: /^invalid cron "a b c d e": / },
  { label: '@reboot', schedule: '@reboot', invalid: 'unknown cron macro "@reboot"' },
  {
    label: 'weekday 5L',
    schedule: '0 1 * * 5L',
    invalid:
      'cron "0 1 * * 5L": Prefect does not take "5L"; write the last weekday of a month as L<day>, e.g. L5',
  },
  { label: 'empty cron = no schedule', schedule: '', valid: { cron: null } },
  { label: 'blank cron = no schedule', schedule: ' \t ', valid: { cron: null } },
  { label: '@daily macro', schedule: '@daily', valid: { cron: '@daily' } },
  {
    label: 'cron with runs of spaces',
    schedule: '30  2 * *   mon-fri',
    valid: { cron: '30 2 * * mon-fri' },
  },
  // timezones
  { label: 'unknown timezone', timezone: 'Mars/Olympus', invalid: tz('Mars/Olympus') },
  {
    label: 'empty timezone',
    timezone: '',
    invalid:
      'timezone is empty; leave it null for deployment.defaultTimezone or use an IANA name such as "Europe/Berlin"',
  },
  { label: 'offset +02:00', timezone: '+02:00', invalid: tz('+02:00') },
  { label: 'offset UTC+2', timezone: 'UTC+2', invalid: tz('UTC+2') },
  { label: 'offset GMT+2', timezone: 'GMT+2', invalid: tz('GMT+2') },
  { label: 'lower-case utc', timezone: 'utc', invalid: tz('utc') },
  { label: 'trailing space', timezone: 'Europe/Berlin ', invalid: tz('Europe/Berlin ') },
  {
    label: 'Etc/GMT-2 (IANA fixed offset)',
    timezone: 'Etc/GMT-2',
    valid: { timezone: 'Etc/GMT-2' },
  },
  { label: 'null timezone = default', timezone: null, valid: { timezone: 'UTC' } },
  // parameters
  { label: 'parameters array', parameters: '[1, 2]', invalid: NOT_OBJECT('an array') },
  { label: 'parameters string', parameters: '"crm"', invalid: NOT_OBJECT('a string') },
  { label: 'parameters number', parameters: '42', invalid: NOT_OBJECT('a number') },
  { label: 'parameters JSON null', parameters: 'null', invalid: NOT_OBJECT('null') },
  {
    label: 'parameters 600 KB',
    parameters: JSON.stringify({ blob: 'x'.repeat(600_000) }),
    invalid:
      /^parameters are 6000\d\d bytes as Prefect measures them; the limit is 524288 \(512 KiB\)$/,
  },
  { label: 'parameters nested 10,000 deep', parameters: nested(10_000), invalid: TOO_DEEP },
  { label: 'parameters nested 100 deep', parameters: nested(100), valid: {} },
  {
    label: 'parameters with unicode',
    parameters: JSON.stringify({ grüße: '😀 日本', sep: '\u2028', quote: `"'\\` }),
    valid: {},
  },
  // names (the name is only the deployment's description)
  { label: 'empty name', name: '', invalid: 'name is empty; give the connector a name' },
  { label: 'blank name', name: '  \t ', invalid: 'name is empty; give the connector a name' },
  {
    label: '10,000-character name',
    name: 'n'.repeat(10_000),
    invalid: 'name is 10000 characters long; keep it under 2000',
  },
  { label: '2,000-character name', name: 'm'.repeat(2000), valid: {} },
  { label: 'unicode name', name: 'Bestellungen – Köln 🚚 日本語 ﷽', valid: {} },
  { label: 'quotes in name', name: `O'Brien "quoted" \`back\` \\ end`, valid: {} },
  { label: 'SQL-looking name', name: SQLISH, valid: {} },
  { label: 'name with / % & > <', name: 'a / b % c & d > e < f', valid: {} },
  { label: 'control characters in name', name: 'tab\there\nnew line \u0001 \u007f', valid: {} },
  // ids (bigint)
  { label: 'negative id', id: '-5', valid: {} },
  { label: 'id 2^53-1', id: '9007199254740991', valid: {} },
  {
    label: 'id 2^53+1',
    id: '9007199254740993',
    invalid:
      'id 9007199254740993 is larger than 2^53 and cannot be passed to the flow as an exact JSON number',
  },
  // plain rows that must sync in the same pass
  { label: 'plain one', valid: {} },
  { label: 'plain two', schedule: '15 3 * * *', timezone: 'Europe/Berlin', valid: {} },
];

/** World B: a view (in its own schema) over text columns: text ids, parameters as text. */
const VIEW_CASES: Case[] = [
  {
    label: 'duplicate id (1)',
    id: 'dup',
    invalid: 'id "dup" appears 2 times in the source; ids must be unique',
  },
  {
    label: 'duplicate id (2)',
    id: 'dup',
    invalid: 'id "dup" appears 2 times in the source; ids must be unique',
  },
  {
    label: 'id with /',
    id: 'a/b',
    invalid:
      'deployment name "connector-a/b" would contain a character Prefect forbids (/ % & > < or a control character); change the id',
  },
  {
    label: 'id with %',
    id: '50%',
    invalid:
      'deployment name "connector-50%" would contain a character Prefect forbids (/ % & > < or a control character); change the id',
  },
  {
    label: '10,000-character id',
    id: 'i'.repeat(10_000),
    invalid: `deployment name "connector-${'i'.repeat(30)}…" would be 10010 bytes long; Prefect needs it under 1000, so use a shorter id`,
  },
  { label: 'empty id', id: '', invalid: 'id is empty' },
  { label: 'unicode id', id: 'ünï-😀', valid: {} },
  { label: 'id with ? # and space', id: 'a?b#c d', valid: {} },
  { label: 'id with leading space', id: ' 7', valid: {} },
  { label: 'id 7 (distinct from " 7")', id: '7', valid: {} },
  { label: 'uuid-looking text id', id: '6b1f1b9e-3a57-4c0e-9d7a-1c2b3d4e5f60', valid: {} },
  {
    label: 'NUL escape in parameters',
    parameters: String.raw`{"a": "x\u0000y"}`,
    invalid: 'parameters contain a NUL character (\\u0000), which Prefect cannot store; remove it',
  },
  {
    label: 'lone surrogate in parameters',
    parameters: String.raw`{"a": "x\ud800y"}`,
    invalid:
      'parameters contain a lone UTF-16 surrogate (such as \\ud800 without its pair), which Prefect cannot store; fix the escape',
  },
  {
    label: 'parameters not JSON',
    parameters: "{'source': 'crm'}",
    invalid: 'parameters are not valid JSON; store a JSON object such as {"source": "x"}',
  },
  {
    label: 'parameters nested 100,000 deep (beyond jsonb)',
    parameters: `{"a": ${nested(100_000, '[', ']')}}`,
    invalid: TOO_DEEP,
  },
  { label: 'plain text id', id: 'plain', valid: {} },
];

/** World C/D: id columns of type uuid and numeric (connector_id is then a string). */
const UUID_CASES: Case[] = [
  { label: 'uuid id', id: '0b7e2d0c-5a43-4d4e-8f3c-2a1b0c9d8e7f', valid: { parameters: {} } },
  {
    label: 'uuid id, invalid cron',
    id: 'f0e1d2c3-b4a5-4968-8776-655443322110',
    schedule: '0 0 1 * * *',
    invalid: /has 6 fields/,
  },
];
const NUMERIC_CASES: Case[] = [
  { label: 'fractional numeric id', id: '0.25', valid: { parameters: {} } },
  {
    label: 'integral numeric id (still a string: decided by type)',
    id: '3',
    valid: { parameters: {} },
  },
  {
    label: 'numeric id beyond 2^53 (fine as a string)',
    id: '12345678901234567890123',
    valid: { parameters: {} },
  },
  {
    label: 'numeric id, Jenkins cron',
    id: '-0.5',
    schedule: 'H H * * *',
    invalid: HASHED('H H * * *', 'H'),
  },
];

const SCHEMA = 'connector_sync';
const envs: TestEnv[] = [];
const proxies: FaultProxy[] = [];
/** Every case's verdict, printed for the report. */
const verdicts: string[] = [];

afterAll(async () => {
  console.log(`hostile-row verdicts (${verdicts.length}):\n${verdicts.join('\n')}`);
  for (const p of proxies) await p.close();
  for (const e of envs) await e.cleanup();
});

async function referenceWorld(): Promise<World> {
  const env = await createTestEnv();
  envs.push(env);
  return {
    env,
    idParam: Number,
    insert: async (row) => {
      await env.sql(
        `INSERT INTO cai_connectors (id, name, schedule, timezone, parameters) VALUES ($1, $2, $3, $4, $5::jsonb)`,
        [row.id, row.name, row.schedule, row.timezone, row.parameters],
      );
    },
  };
}

async function viewWorld(): Promise<World> {
  const env = await createTestEnv({
    referenceTable: false,
    config: { source: { table: 'hostile.connectors_view' } },
  });
  envs.push(env);
  await env.sql(`CREATE SCHEMA hostile;
    CREATE TABLE hostile.raw_rows (seq serial PRIMARY KEY, id text, name text, schedule text,
      timezone text, is_active boolean NOT NULL DEFAULT true, parameters text);
    CREATE VIEW hostile.connectors_view AS
      SELECT id, name, schedule, timezone, is_active, parameters FROM hostile.raw_rows`);
  return {
    env,
    idParam: String,
    insert: async (row) => {
      await env.sql(
        `INSERT INTO hostile.raw_rows (id, name, schedule, timezone, parameters) VALUES ($1, $2, $3, $4, $5)`,
        [row.id, row.name, row.schedule, row.timezone, row.parameters],
      );
    },
  };
}

async function typedIdWorld(type: 'uuid' | 'numeric'): Promise<World> {
  const env = await createTestEnv({
    referenceTable: false,
    config: { source: { table: 'typed_src' } },
  });
  envs.push(env);
  // Only the required columns plus schedule: every other column is optional.
  await env.sql(
    `CREATE TABLE typed_src (id ${type} PRIMARY KEY, name text NOT NULL, schedule text)`,
  );
  return {
    env,
    idParam: String,
    insert: async (row) => {
      await env.sql(`INSERT INTO typed_src (id, name, schedule) VALUES ($1, $2, $3)`, [
        row.id,
        row.name,
        row.schedule,
      ]);
    },
  };
}

async function proxyFor(env: TestEnv): Promise<FaultProxy> {
  const p = await startProxy(env.apiUrl, []);
  proxies.push(p);
  return p;
}

function isWrite(r: { method: string; path: string }): boolean {
  return r.method !== 'GET' && !/\/(filter|paginate|count)$/.test(r.path);
}

/** Every deployment of this world's flow, managed or not (a hostile row must have none). */
async function deploymentsOfFlow(env: TestEnv): Promise<Json[]> {
  const { data } = await prefectApi(env.apiUrl).call<Json[]>('POST', '/deployments/filter', {
    limit: 200,
    flows: { name: { any_: [env.flowName] } },
  });
  return data;
}

/**
 * Inserts the cases, runs one `run --once` through a counting proxy, and checks
 * every verdict; then a second pass that must write nothing.
 */
async function runWorld(
  title: string,
  world: World,
  cases: Case[],
  defaultId: (i: number) => string,
): Promise<void> {
  const { env } = world;
  const rows = cases.map((c, i) => ({
    ...c,
    id: c.id ?? defaultId(i),
    name: c.name ?? c.label,
    schedule: c.schedule === undefined ? '0 1 * * *' : c.schedule,
    timezone: c.timezone === undefined ? 'UTC' : c.timezone,
    parameters: c.parameters ?? DEFAULT_PARAMS,
  }));
  for (const row of rows) await world.insert(row);
  const valid = rows.filter((r) => r.valid);
  const invalid = rows.filter((r) => r.invalid);
  expect(valid.length + invalid.length).toBe(rows.length);

  const p = await proxyFor(env);
  const first = await env.cli(['run', '--once', '--json'], { PREFECT_API_URL: p.url });
  // Nothing on stderr but the one WARN line of each connector that became invalid.
  const logged = first.stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { level: number; msg: string; connector?: string });
  expect(
    logged.map((l) => `${l.level} ${l.msg}`),
    `${title}: stderr`,
  ).toEqual(logged.map((l) => `40 connector ${l.connector} is invalid`));

  expect(first.code, `${title}: exit 1 when a row is invalid, else 0`).toBe(
    invalid.length > 0 ? 1 : 0,
  );
  const out = JSON.parse(first.stdout) as {
    problems: { connector_id: string; status: string; message: string }[];
    summary: Record<string, number>;
    prefect_calls: { writes: number };
  };
  expect(logged.map((l) => l.connector).sort(), `${title}: one WARN per invalid connector`).toEqual(
    out.problems
      .filter((p) => p.status === 'invalid')
      .map((p) => p.connector_id)
      .sort(),
  );
  expect(out.summary).toMatchObject({
    create: valid.length,
    invalid: new Set(invalid.map((r) => r.id)).size,
    failed: 0,
    update: 0,
    delete: 0,
  });

  // Prefect saw exactly one create per valid row and no other write.
  const writes = p.log.filter((r) => byPass(r) && isWrite(r));
  const creates = writes.filter((r) => r.method === 'POST' && r.path === '/deployments/');
  expect(creates, `${title}: one POST /deployments/ per valid row`).toHaveLength(valid.length);
  const otherWrites = writes
    .filter((r) => !creates.includes(r))
    .map((r) => `${r.method} ${r.path}`);
  // The flow is created once when missing; nothing else.
  expect(otherWrites, `${title}: writes besides the creates`).toEqual(['POST /flows/']);
  expect(out.prefect_calls.writes).toBe(writes.length);

  const deployments = await deploymentsOfFlow(env);
  expect(deployments.map((d) => d.name).sort()).toEqual(
    valid.map((r) => `connector-${r.id}`).sort(),
  );
  const byName = new Map(deployments.map((d) => [d.name as string, d]));

  const states = new Map(
    (
      await env.sql<{
        connector_id: string;
        status: string;
        last_error: string | null;
        deployment_id: string | null;
      }>(`SELECT connector_id, status, last_error, deployment_id FROM ${SCHEMA}.connector_state`)
    ).map((s) => [s.connector_id, s]),
  );
  const status = await env.cli(['status', '--json']);
  expect(status.code).toBe(0);
  const shown = new Map(
    (
      JSON.parse(status.stdout) as {
        connectors: { connector_id: string; status: string; last_error: string | null }[];
      }
    ).connectors.map((c) => [c.connector_id, c]),
  );
  const events = await env.sql<{
    action: string;
    connector_id: string;
    deployment_id: string | null;
    payload: Json;
  }>(`SELECT action, connector_id, deployment_id, payload FROM ${SCHEMA}.events`);
  const eventsOf = (id: string): typeof events => events.filter((e) => e.connector_id === id);
  // One event per connector: a duplicated id is one connector, with one failed event.
  expect(events).toHaveLength(valid.length + new Set(invalid.map((r) => r.id)).size);

  for (const row of invalid) {
    const where = `${title} / ${row.label}`;
    const problem = out.problems.find((x) => x.connector_id === row.id);
    expect(problem, `${where}: reported`).toBeDefined();
    expect(problem!.status).toBe('invalid');
    if (typeof row.invalid === 'string') expect(problem!.message, where).toBe(row.invalid);
    else expect(problem!.message, where).toMatch(row.invalid!);
    expect(states.get(row.id), `${where}: state`).toMatchObject({
      status: 'invalid',
      last_error: problem!.message,
      deployment_id: null,
    });
    expect(shown.get(row.id), `${where}: status command`).toMatchObject({
      status: 'invalid',
      last_error: problem!.message,
    });
    const failed = eventsOf(row.id);
    expect(
      failed.map((e) => e.action),
      `${where}: one failed event`,
    ).toEqual(['failed']);
    expect(failed[0]!.payload).toEqual({
      status: 'invalid',
      message: problem!.message,
      retryable: false,
    });
    expect(byName.has(`connector-${row.id}`), `${where}: no deployment`).toBe(false);
    verdicts.push(`${title} | ${row.label} | invalid | ${problem!.message.slice(0, 160)}`);
  }

  for (const row of valid) {
    const where = `${title} / ${row.label}`;
    const d = byName.get(`connector-${row.id}`);
    expect(d, `${where}: deployment`).toBeDefined();
    expect(d!.description, `${where}: description = name, exactly`).toBe(
      descriptionOf(row.name, String(row.id), env.config.source.table),
    );
    const params = row.valid!.parameters ?? (JSON.parse(row.parameters) as Json);
    expect(d!.parameters, `${where}: parameters`).toEqual({
      ...params,
      connector_id: world.idParam(row.id),
    });
    const cron = row.valid!.cron === undefined ? row.schedule : row.valid!.cron;
    const schedules = d!.schedules as { schedule: Json }[];
    if (cron === null) expect(schedules, `${where}: no schedule`).toEqual([]);
    else
      expect(
        schedules.map((s) => s.schedule),
        `${where}: schedule`,
      ).toEqual([{ cron, timezone: row.valid!.timezone ?? row.timezone ?? 'UTC', day_or: true }]);
    expect(d!.tags).toEqual(expect.arrayContaining([env.tag, `connector-${row.id}`]));
    expect(states.get(row.id), `${where}: state`).toMatchObject({
      status: 'synced',
      deployment_id: d!.id,
    });
    expect(shown.get(row.id)?.status).toBe('synced');
    expect(
      eventsOf(row.id).map((e) => [e.action, e.deployment_id]),
      `${where}: one created event`,
    ).toEqual([['created', d!.id]]);
    verdicts.push(`${title} | ${row.label} | valid, synced as ${String(d!.name).slice(0, 40)}`);
  }

  // Again: the invalid rows are not retried and not reported twice; nothing is written.
  const before = p.log.length;
  const second = await env.cli(['run', '--once', '--json'], { PREFECT_API_URL: p.url });
  expect(second.code).toBe(invalid.length > 0 ? 1 : 0);
  const again = JSON.parse(second.stdout) as { summary: Record<string, number>; events: number };
  expect(again.summary).toMatchObject({
    create: 0,
    update: 0,
    delete: 0,
    invalid: new Set(invalid.map((r) => r.id)).size,
    unchanged: valid.length,
  });
  expect(again.events).toBe(0);
  expect(
    p.log
      .slice(before)
      .filter((r) => byPass(r) && isWrite(r))
      .map((r) => `${r.method} ${r.path}`),
  ).toEqual([]);
  expect(await env.sql(`SELECT count(*)::int AS n FROM ${SCHEMA}.events`)).toEqual([
    { n: events.length },
  ]);
}

describe('hostile rows: invalid ones stop at the validator, odd-but-valid ones round-trip', () => {
  it(`reference table (bigint ids, jsonb): ${REFERENCE_CASES.length} rows in one pass`, async () => {
    const world = await referenceWorld();
    await runWorld('reference', world, REFERENCE_CASES, (i) => String(1001 + i));
    // Where NUL is caught for this table: Postgres itself refuses it in jsonb and
    // in text, so such a row cannot exist here (the view below feeds it as text).
    await expect(
      world.env.sql(`SELECT $1::jsonb`, [String.raw`{"a": "x\u0000y"}`]),
    ).rejects.toThrow(/unsupported Unicode escape sequence/);
    await expect(world.env.sql(`SELECT $1::text`, ['x\u0000y'])).rejects.toThrow(/0x00/);
    // The SQL-looking name was only ever data.
    expect(await world.env.sql(`SELECT count(*)::int AS n FROM cai_connectors`)).toEqual([
      { n: REFERENCE_CASES.length },
    ]);
  }, 120_000);

  it(`a view in its own schema over text columns: ${VIEW_CASES.length} rows in one pass`, async () => {
    await runWorld('view', await viewWorld(), VIEW_CASES, (i) => `v${i}`);
  }, 120_000);

  it('a uuid id column and a numeric id column: connector_id is a string', async () => {
    await runWorld('uuid', await typedIdWorld('uuid'), UUID_CASES, () => '');
    await runWorld('numeric', await typedIdWorld('numeric'), NUMERIC_CASES, () => '');
  }, 120_000);
});

// Why the validator must catch these first: what the real Prefect 3.9.1 server
// does with them. A 5xx is retried as transient by the client and, repeated,
// ends the pass for every connector; a 500 may even come after the write.
describe('what Prefect 3.9.1 itself answers for the inputs the validator stops', () => {
  it('deep parameters 500, a lone surrogate 503, a 3,000-byte name 503, "/" in a name 500', async () => {
    const env = await createTestEnv({ referenceTable: false });
    envs.push(env);
    const api = prefectApi(env.apiUrl);
    const { data: flow } = await api.call<{ id: string }>('POST', '/flows/', {
      name: env.flowName,
    });
    const post = async (name: string, body: Json = {}): Promise<number> =>
      (
        await api.call('POST', '/deployments/', {
          name,
          flow_id: flow.id,
          entrypoint: 'x.py:f',
          tags: [env.tag],
          ...body,
        })
      ).status;
    const deep = (depth: number): Json => JSON.parse(nested(depth)) as Json;
    const incompressible = (length: number): string =>
      Array.from(
        { length },
        (_, i) => ((i * 7919) % 36).toString(36) + String.fromCharCode(97 + ((i * 31) % 26)),
      )
        .join('')
        .slice(0, length);
    const answers = {
      depth100: await post('probe-depth-100', { parameters: deep(100) }),
      depth300: await post('probe-depth-300', { parameters: deep(300) }),
      loneSurrogate: await post('probe-surrogate', { parameters: { a: 'x\ud800y' } }),
      nul: await post('probe-nul', { parameters: { a: 'x\u0000y' } }),
      name1000: await post(`connector-${incompressible(990)}`),
      name3000: await post(`connector-${incompressible(2990)}`),
      slash: await post('connector-a/b'),
    };
    console.log(`Prefect answers: ${JSON.stringify(answers)}`);
    expect(answers).toEqual({
      depth100: 201,
      depth300: 500,
      loneSurrogate: 503,
      nul: 503,
      name1000: 201,
      name3000: 503,
      slash: 500,
    });
  });
});
