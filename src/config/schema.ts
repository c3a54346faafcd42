import { parse as parsePostgresUrl } from 'pg-connection-string';
import { DURATION_EXAMPLES, parseDuration } from '../domain/duration.js';
import { z } from 'zod';
import { cronProblem } from '../domain/cron.js';
import { DEFAULT_SECRET_KEYS, secretKeysProblem } from '../domain/mask.js';
import { PREFECT_TIMEZONES } from '../domain/timezones.generated.js';

// The one description of every configuration key: its type, its default and,
// in .describe(), what it means. config/default.yaml mirrors it for humans
// (test/unit/config.test.ts keeps them in step); docs/reference/configuration.md
// is generated from it (`npm run docs`).

const identifierPath = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/,
    'must be a table or view name, optionally schema-qualified (letters, digits, _)',
  );

const cron = z.string().refine((value) => cronProblem(value) === null, {
  error: (issue) => cronProblem(String(issue.input)) ?? 'invalid cron',
});

const jsonObject = z.record(z.string(), z.unknown());

/** A duration written like `--since`: `30s`, `15m`, `1h`, `1h30m`, `7d`. */
const duration = z.string().refine((text) => (parseDuration(text) ?? 0) > 0, {
  message: `must be a duration such as ${DURATION_EXAMPLES}`,
});

/** The flow of connector deployments when neither deployment.flowName nor a template names one. */
export const DEFAULT_FLOW_NAME = 'run_connector_pipeline';

function parsesAsPostgresUrl(url: string): boolean {
  try {
    parsePostgresUrl(url);
    return true;
  } catch {
    return false;
  }
}

/** `postgres://user:pa#ss@host/db`: a `#` before the last `@` of the authority. */
function rawHashInUserInfo(url: string): boolean {
  const rest = url.slice(url.indexOf('://') + 3);
  const at = rest.lastIndexOf('@');
  return at > 0 && rest.slice(0, at).includes('#');
}

export const configSchema = z.strictObject({
  installation: z
    .string()
    .regex(
      /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/,
      'must be a short lower-case name: letters, digits and inner dashes (at most 40)',
    )
    .default('default')
    .describe(
      "This installation's name: several installations (each its own source and worker schema) may share one Prefect and one managed tag, each owning only its own deployments (a `cs-installation:<name>` tag; none for `default`, so upgrading changes nothing). Two installations of one name that read different sources are refused (exit 64).",
    ),
  source: z
    .strictObject({
      table: identifierPath
        .default('cai_connectors')
        .describe(
          'Table or view holding the connectors, optionally schema-qualified (`schema.name`).',
        ),
      writeBackDeploymentId: z
        .boolean()
        .default(true)
        .describe(
          'Write the Prefect deployment id back to `<table>.prefect_deployment_id` when that column exists: the only write the worker makes to the source.',
        ),
    })
    .prefault({})
    .describe('The table of connectors.'),
  deployment: z
    .strictObject({
      template: z
        .string()
        .regex(/^[^/]+\/[^/]+$/, 'must be "<flow name>/<deployment name>"')
        .nullable()
        .default(null)
        .describe(
          '`"<flow name>/<deployment name>"` of a template deployment the flow\'s own release registers (`prefect deploy`, `flow.deploy()`), read every pass: connectors take from it the flow, entrypoint, path, pull steps, job variables, work pool and queue, parameter schema and version, unless set here. null: none.',
        ),
      flowName: z
        .string()
        .min(1)
        .nullable()
        .default(null)
        .describe(
          `Flow of every connector deployment (created when missing). null: the template's flow, else \`${DEFAULT_FLOW_NAME}\`.`,
        ),
      entrypoint: z
        .string()
        .min(1)
        .nullable()
        .default(null)
        .describe(
          "Entrypoint of the flow. null: the template's, else `flows/dlt_pipeline_flow.py:run_connector_pipeline`.",
        ),
      nameTemplate: z
        .string()
        .default('connector-{id}')
        .refine(
          (t) => t.includes('{id}'),
          'must contain {id} so every connector gets its own deployment',
        )
        .refine(
          (t) => !/[/%&><]/.test(t),
          'must not contain / % & > < (Prefect forbids them in names)',
        )
        .describe(
          'Deployment name; must contain `{id}` (and none of `/ % & > <`). Changing it recreates every deployment.',
        ),
      workPoolName: z
        .string()
        .min(1)
        .nullable()
        .default(null)
        .describe(
          "Work pool of the deployments; it must exist in Prefect (checked before a pass writes; exit 64 if missing). null: the template's, else `default`. A row's `work_pool_name` wins.",
        ),
      workQueueName: z
        .string()
        .min(1)
        .nullable()
        .default(null)
        .describe(
          "Work queue of the deployments. null: the template's, else `default`. A row's `work_queue_name` wins.",
        ),
      tags: z
        .array(z.string().min(1))
        .default([])
        .describe(
          'Extra tags on every deployment (the managed tag and `connector-<id>` are always added).',
        ),
      jobVariables: jsonObject
        .default({})
        .describe(
          "Passed to the work pool's job template; merged over the template's, and a row's `job_variables` are merged over these.",
        ),
      path: z
        .string()
        .min(1)
        .nullable()
        .default(null)
        .describe(
          "Where the worker gets the flow code. A Prefect 3 process worker runs each flow run in a fresh temporary directory: set `path` (or `pullSteps`, or take them from a template), or the run will not find the entrypoint. null: the template's, else none.",
        ),
      pullSteps: z
        .array(jsonObject)
        .nullable()
        .default(null)
        .describe("Prefect pull steps (a list of mappings). null: the template's, else none."),
      version: z
        .string()
        .min(1)
        .max(64)
        .nullable()
        .default(null)
        .describe(
          "Release label of the deployments' version when there is no template (with one, its version is the release). null: none.",
        ),
      parameterSchema: jsonObject
        .nullable()
        .default(null)
        .describe(
          "The flow's parameters as a JSON Schema (Prefect's `parameter_openapi_schema`): rows are validated against it before any call, and Prefect enforces it. null: the template's, else none.",
        ),
      parameterSchemaFile: z
        .string()
        .min(1)
        .nullable()
        .default(null)
        .describe(
          'A JSON file holding `parameterSchema` (set one or the other, not both). null: none.',
        ),
      concurrencyLimit: z
        .int()
        .min(1)
        .nullable()
        .default(null)
        .describe(
          "Runs of one connector at once. null: no limit. A row's `concurrency_limit` wins.",
        ),
      collisionStrategy: z
        .enum(['ENQUEUE', 'CANCEL_NEW'])
        .default('ENQUEUE')
        .describe(
          'What a run that would pass the concurrency limit does: `ENQUEUE` (it waits) or `CANCEL_NEW`.',
        ),
      defaultTimezone: z
        .string()
        .default('UTC')
        .refine(
          (tz) => PREFECT_TIMEZONES.has(tz),
          'must be an IANA timezone name Prefect knows, such as "UTC"',
        )
        .describe(
          'Timezone of a connector schedule whose timezone column is null: an IANA name Prefect knows.',
        ),
      onInactive: z
        .enum(['pause', 'delete'])
        .default('pause')
        .describe("What an inactive connector's deployment becomes: paused, or deleted."),
    })
    .superRefine((d, ctx) => {
      if (d.parameterSchema !== null && d.parameterSchemaFile !== null)
        ctx.addIssue({
          code: 'custom',
          path: ['parameterSchemaFile'],
          message: 'set parameterSchema or parameterSchemaFile, not both',
        });
      const templateFlow = d.template?.split('/')[0] ?? null;
      if (templateFlow !== null && d.flowName !== null && d.flowName !== templateFlow)
        ctx.addIssue({
          code: 'custom',
          path: ['flowName'],
          message: `is "${d.flowName}" but deployment.template belongs to flow "${templateFlow}"; leave flowName out (connectors use the template's flow)`,
        });
    })
    .prefault({})
    .describe('What each connector becomes in Prefect.'),
  ownership: z
    .strictObject({
      managedTag: z
        .string()
        .min(1)
        .default('managed-by:connector-sync')
        .describe('Only deployments with this tag are ever updated or deleted.'),
      adopt: z
        .boolean()
        .default(false)
        .describe(
          'Take over a same-named deployment that lacks the managed tag (otherwise the connector is reported as a `conflict` and left alone).',
        ),
    })
    .prefault({})
    .describe("Which deployments are connector-sync's to change."),
  runHealth: z
    .strictObject({
      enabled: z
        .boolean()
        .default(true)
        .describe(
          "Every full pass that may write reads the managed deployments' recent runs (one batched `POST /flow_runs/filter`, 200 runs a call) and keeps each connector's run health for `status`, the ops API, the console and `/metrics`.",
        ),
      lastRuns: z
        .int()
        .min(1)
        .max(100)
        .default(5)
        .describe(
          'N of "failed of the last N": a connector is `failing` when its last finished run failed or crashed, or at least half of its last N did.',
        ),
      lookback: duration
        .default('1d')
        .describe(
          'Runs expected to start within this long before the pass are read (written like `--since`); a connector with none is `no-runs`.',
        ),
      maxRuns: z
        .int()
        .min(200)
        .max(100_000)
        .default(5000)
        .describe(
          'The read stops after this many runs, newest first (⌈maxRuns/200⌉ calls at most): a pass stays bounded however large the fleet. A connector none of whose runs was read then is `unknown`.',
        ),
    })
    .prefault({})
    .describe("Whether each connector's deployment runs right, not only whether Prefect took it."),
  reconcile: z
    .strictObject({
      schedule: cron
        .default('* * * * *')
        .describe('Cron of the full reconcile pass in the long-running worker.'),
      mode: z
        .enum(['apply', 'observe'])
        .default('apply')
        .describe(
          '`apply`: passes change Prefect. `observe`: every pass only plans and reports (logs, metrics, status), writing nothing to Prefect (also `run --observe`).',
        ),
      concurrency: z.int().min(1).max(64).default(8).describe('Prefect calls in flight at once.'),
      maxDeletesPerPass: z
        .union([
          z.int().min(0),
          z.string().regex(/^\d+(\.\d+)?%$/, 'must be a count or a percentage such as "25%"'),
        ])
        .default('25%')
        .describe(
          'A pass that would delete more than this (a count, or a share such as `"25%"` of the managed deployments listed; never fewer than 10) deletes nothing and exits 1, unless `--allow-mass-delete` is given.',
        ),
      deleteBudget: z
        .strictObject({
          limit: z
            .int()
            .min(0)
            .default(10)
            .describe(
              'Deletes that may go within any one `window` (0: every delete waits for an approval).',
            ),
          window: duration
            .default('1h')
            .describe(
              'The sliding window the budget counts over, written like `--since` (`30m`, `1h`, `1d`).',
            ),
        })
        .default({ limit: 10, window: '1h' })
        .describe(
          'Deletes on a budget: at most `limit` deployments deleted in any `window`, counted from the event log (so restarts and leader changes do not reset it), by every path — full passes, wake-ups, `sync`, `retry`. Deletes beyond it are held as the mass-delete guard holds them, until the window frees up or they are approved (`--allow-mass-delete`).',
        ),
      rescheduleWithinSeconds: z
        .int()
        .min(0)
        .default(300)
        .describe(
          "Prefect deletes a deployment's future scheduled runs on every PATCH and its scheduler makes them again only when it next looks: after an update that leaves a run due within this many seconds, the worker asks Prefect to schedule the deployment's runs from the moment before the PATCH (Prefect's own idempotency key per slot: nothing lost, nothing doubled). One more call per such update; 0 turns it off.",
        ),
      sourceShrinkLimit: z
        .string()
        .regex(/^(\d+(\.\d+)?%|off)$/, 'must be a percentage such as "50%", or "off"')
        .default('50%')
        .describe(
          'When a full pass reads this share fewer rows than the last good pass (from 10 rows up), or none where there were some, the source is taken to be broken (a view returning nothing, a truncated table, the wrong table): nothing is deleted or paused, every delete is held with the reason `source shrank from M to N rows`, and creates and updates of the rows that are there still go. `off` turns the check off.',
        ),
      backoff: z
        .strictObject({
          baseSeconds: z
            .number()
            .positive()
            .default(10)
            .describe(
              'A failing connector is retried after `baseSeconds` × 2^attempts (with jitter) by the long-running worker.',
            ),
          maxSeconds: z
            .number()
            .positive()
            .default(3600)
            .describe('The longest a failing connector waits before it is retried.'),
        })
        .prefault({}),
      lockWaitSeconds: z
        .number()
        .min(0)
        .default(60)
        .describe(
          'How long a one-shot run waits for another process holding the reconcile lock (exit 69 after).',
        ),
      shutdownTimeoutSeconds: z
        .number()
        .min(0)
        .default(20)
        .describe('On SIGTERM, how long in-flight Prefect calls may take to finish.'),
    })
    .prefault({})
    .describe('When passes run, and how boldly.'),
  rollout: z
    .strictObject({
      waves: z
        .array(
          z.union([
            z.int().min(1),
            z.string().regex(/^\d+(\.\d+)?%$/, 'must be a count or a share such as "10%"'),
          ]),
        )
        .min(1)
        .refine((waves) => waves[waves.length - 1] === '100%', {
          message: 'the last wave must be "100%"',
        })
        .default([1, '10%', '100%'])
        .describe(
          'A new release goes to the fleet in these cumulative waves: counts of connectors or shares of the fleet; the last is `"100%"`. `["100%"]` with `verify: none` is one pass for the whole fleet.',
        ),
      verify: z
        .enum(['trigger', 'scheduled', 'none'])
        .default('trigger')
        .describe(
          "What a wave passes on once its connectors are written: `trigger` gives each of them one run at once (tagged `connector-sync-release:<release>`) and waits for them to complete; `scheduled` waits for each one's next scheduled run of the new version; `none` passes it at once.",
        ),
      canaries: z
        .array(z.string().min(1))
        .default([])
        .describe(
          'Connector ids that join every release first; after them, active connectors whose last run completed, most frequent schedules first.',
        ),
      maxFailedRuns: z
        .int()
        .min(0)
        .default(0)
        .describe('Runs of a wave that may fail or crash before the wave fails (and rolls back).'),
      gateTimeout: duration
        .default('15m')
        .describe(
          'A wave whose runs have not all finished this long after they were asked for fails (and rolls back), naming the pools no worker polls. Written like `--since`.',
        ),
      checkEvery: duration
        .default('15s')
        .describe(
          'While a release rolls out, the worker comes back this often for a full pass that writes the next wave and reads the gate runs.',
        ),
    })
    .prefault({})
    .describe(
      'Releases (a new template version or `deployment` configuration) go out in waves, each passed on the runs it produces; a failed wave rolls back on its own (docs/concepts/releases.md).',
    ),
  prefect: z
    .strictObject({
      apiUrl: z
        .url({
          protocol: /^https?$/,
          error: (issue) =>
            issue.input === undefined
              ? 'is required: set PREFECT_API_URL, e.g. http://127.0.0.1:4200/api'
              : 'must be an http(s) URL such as http://127.0.0.1:4200/api',
        })
        .describe(
          'Base URL of the Prefect API, ending in `/api`, e.g. `http://127.0.0.1:4200/api`.',
        ),
      apiKey: z
        .string()
        .min(1)
        .optional()
        .describe('Prefect Cloud API key, sent as `Authorization: Bearer`.'),
      authString: z
        .string()
        .regex(/^[^:]+:.*$/, 'must be "user:password"')
        .optional()
        .describe('Basic auth of a self-hosted Prefect server: `"user:password"`.'),
      timeoutMs: z
        .int()
        .min(100)
        .default(10_000)
        .describe('Timeout of every HTTP call to Prefect, in milliseconds.'),
      requestsPerSecond: z
        .number()
        .positive()
        .default(50)
        .describe(
          'Upper bound on requests per second sent to Prefect: all calls of the process together, spaced 1/`requestsPerSecond` apart.',
        ),
      retries: z
        .int()
        .min(0)
        .max(20)
        .default(4)
        .describe(
          'Extra attempts of a call that failed transiently (network error, 408, 429, 500, 502, 503, 504). Other 4xx are never retried.',
        ),
      retryMinDelayMs: z
        .int()
        .min(1)
        .default(500)
        .describe(
          'Retry n waits `retryMinDelayMs` × 2^(n-1), times a random factor between 1 and 2 (jitter), at most `retryMaxDelayMs`. A `Retry-After` from Prefect (seconds or an HTTP date) pauses every call until then (at most 60 s).',
        ),
      retryMaxDelayMs: z
        .int()
        .min(1)
        .default(8_000)
        .describe('The longest wait before a retry; not less than `retryMinDelayMs`.'),
      uiUrl: z
        .url({
          protocol: /^https?$/,
          error: 'must be an http(s) URL such as http://127.0.0.1:4200',
        })
        .nullable()
        .default(null)
        .describe(
          "Prefect's UI, e.g. `http://127.0.0.1:4200`: the console links each deployment to `<uiUrl>/deployments/deployment/<id>`. null: no links.",
        ),
    })
    .refine((p) => p.retryMinDelayMs <= p.retryMaxDelayMs, {
      path: ['retryMaxDelayMs'],
      message: 'must not be less than prefect.retryMinDelayMs',
    })
    .describe('The Prefect API, and how it is called.'),
  database: z
    .strictObject({
      url: z
        .string({
          error: (issue) =>
            issue.input === undefined ? 'is required: set DATABASE_URL' : 'must be text',
        })
        .regex(/^postgres(ql)?:\/\//, {
          message: 'must be a postgres:// or postgresql:// URL',
          abort: true,
        })
        // A raw # starts a URL's fragment: the password would be cut there and
        // the rest read as the host. Said as what it is, not as a bad port.
        .refine((url) => !rawHashInUserInfo(url), {
          message: 'the user or password holds a raw "#": percent-encode it as %23',
          abort: true,
        })
        // Parsed as pg parses it, so a mistake is this one line, not a stack trace
        // at the first connection. The message never repeats the URL (it holds the password).
        .refine(parsesAsPostgresUrl, {
          message:
            'is not a valid URL: check the port, and percent-encode @ # / ? : in the user or password (%40 %23 %2F %3F %3A)',
        })
        .describe(
          "Postgres holding the source table and the worker's schema: a `postgres://` or `postgresql://` URL (percent-encode `@ # / ? :` in the user or password).",
        ),
      schema: z
        .string()
        .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case SQL identifier')
        .default('connector_sync')
        .describe(
          "Schema of the worker's own tables (events, connector_state, intents, passes, …), made by `connector-sync migrate`.",
        ),
    })
    .describe(
      'Postgres: where the connectors are read, and where the worker keeps its own tables.',
    ),
  log: z
    .strictObject({
      level: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info')
        .describe('The least severe level logged (also `--log-level`).'),
      format: z
        .enum(['json', 'pretty'])
        .default('json')
        .describe('`json`: one object per line; `pretty`: for people at a terminal.'),
    })
    .prefault({})
    .describe('The log, on stdout.'),
  events: z
    .strictObject({
      publish: z
        .strictObject({
          prefect: z
            .boolean()
            .default(true)
            .describe(
              "Post connector-sync's own events (a connector failed / invalid / in conflict / recovered / held, a drift reverted, a pass that failed) to Prefect's event stream, where its Event Feed and automations see them.",
            ),
          nats: z
            .strictObject({
              url: z
                .string()
                .regex(
                  /^(nats|tls|wss?):\/\/[^\s]+$/,
                  'must be a nats:// (or tls://, ws://, wss://) URL',
                )
                .nullable()
                .default(null)
                .describe(
                  'A NATS JetStream sink for every event of the log, e.g. `nats://nats:4222`. null: none.',
                ),
              subject: z
                .string()
                .regex(
                  /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
                  'must be a NATS subject without wildcards, such as connector-sync.events',
                )
                .default('connector-sync.events')
                .describe(
                  'Each event is published to `<subject>.<action>`, e.g. `connector-sync.events.failed`.',
                ),
              stream: z
                .string()
                .regex(/^[A-Za-z0-9_-]+$/, 'must be a stream name (letters, digits, _ and -)')
                .default('CONNECTOR_SYNC_EVENTS')
                .describe('The JetStream stream over `<subject>.>`, made if it does not exist.'),
            })
            .prefault({}),
          flushSeconds: z
            .number()
            .min(0)
            .default(10)
            .describe(
              'How long a one-shot `run --once` waits after its pass for the sinks to take its events.',
            ),
        })
        .prefault({}),
      retentionDays: z
        .number()
        .positive()
        .nullable()
        .default(null)
        .describe(
          'Days an event is kept (pruned only once every enabled sink has it). null: forever.',
        ),
      passRetentionDays: z
        .number()
        .positive()
        .nullable()
        .default(30)
        .describe(
          'Days a row of the pass history (`connector-sync passes`) is kept. null: forever.',
        ),
    })
    .prefault({})
    .describe('The event log: its sinks and how long it is kept.'),
  masking: z
    .strictObject({
      keys: z
        .string()
        .refine((value) => secretKeysProblem(value) === null, {
          error: (issue) => secretKeysProblem(String(issue.input)) ?? 'invalid pattern',
        })
        .default(DEFAULT_SECRET_KEYS)
        .describe(
          'Parameter keys whose values connector-sync never shows or sends: a regular expression, case-insensitive, matched anywhere in a key, at any depth (`db.password`, `apiKey`, `client_secret`). Event payloads, logs, plan, status, events, /api, the console and the sinks show `"[masked]"` (an update lists the masked paths that changed in `masked_changes`); the deployment in Prefect gets the real value.',
        ),
    })
    .prefault({})
    .describe('Secret parameters.'),
  http: z
    .strictObject({
      host: z
        .string()
        .min(1)
        .nullable()
        .default(null)
        .describe(
          'Address to bind, e.g. `127.0.0.1` for this machine only, `::` for every interface (IPv6 and IPv4). null: `127.0.0.1` when run from a terminal (stdin or stdout is a TTY), every interface otherwise (a container, a service manager).',
        ),
      port: z.coerce
        .number()
        .int()
        .min(0)
        .max(65535)
        .default(8080)
        .describe('Port to listen on; 0 picks a free one.'),
      auth: z
        .strictObject({
          token: z
            .string()
            .min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)')
            .nullable()
            .default(null)
            .describe(
              'A bearer token of at least 16 characters, typically from a Secret: `Authorization: Bearer <token>`. A browser logs in to the console with any user name and the token as the password. With neither `token` nor `basic` set, anyone who can reach the port reads the console and /api/* (a WARN at start); /healthz and /readyz always stay open for probes.',
            ),
          basic: z
            .string()
            .regex(/^[^:]+:.{12,}$/, 'must be "user:password", the password at least 12 characters')
            .nullable()
            .default(null)
            .describe(
              '`"user:password"` for HTTP basic auth, the password at least 12 characters.',
            ),
          metrics: z
            .boolean()
            .default(false)
            .describe('`true`: /metrics needs the credential too (the scraper then sends it).'),
        })
        .prefault({}),
    })
    .prefault({})
    .describe('The ops HTTP server of the long-running worker: console, /api, /metrics, probes.'),
});

export type Config = z.infer<typeof configSchema>;

/** The flow of every connector deployment: deployment.flowName, else the template's, else the default. */
export function flowNameOf(deployment: Config['deployment']): string {
  return deployment.flowName ?? deployment.template?.split('/')[0] ?? DEFAULT_FLOW_NAME;
}
