import { parse as parsePostgresUrl } from 'pg-connection-string';
import { z } from 'zod';
import { cronProblem } from '../domain/cron.js';
import { DEFAULT_SECRET_KEYS, secretKeysProblem } from '../domain/mask.js';
import { PREFECT_TIMEZONES } from '../domain/timezones.generated.js';

// The one description of every configuration key, its type and its default.
// config/default.yaml mirrors it for humans; test/unit/config.test.ts keeps them in step.

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

export const configSchema = z.strictObject({
  source: z
    .strictObject({
      table: identifierPath.default('cai_connectors'),
      writeBackDeploymentId: z.boolean().default(true),
    })
    .prefault({}),
  deployment: z
    .strictObject({
      /**
       * "<flow name>/<deployment name>": a deployment the flow's own release
       * registers; connectors take its code-related fields (README, "A template deployment").
       */
      template: z
        .string()
        .regex(/^[^/]+\/[^/]+$/, 'must be "<flow name>/<deployment name>"')
        .nullable()
        .default(null),
      // null: the template's flow, else run_connector_pipeline.
      flowName: z.string().min(1).nullable().default(null),
      // null: the template's, else flows/dlt_pipeline_flow.py:run_connector_pipeline.
      entrypoint: z.string().min(1).nullable().default(null),
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
        ),
      // null: the template's, else "default".
      workPoolName: z.string().min(1).nullable().default(null),
      workQueueName: z.string().min(1).nullable().default(null),
      tags: z.array(z.string().min(1)).default([]),
      // Merged over the template's; a row's job_variables are merged over these.
      jobVariables: jsonObject.default({}),
      path: z.string().min(1).nullable().default(null),
      pullSteps: z.array(jsonObject).nullable().default(null),
      // The release label of the deployments when there is no template (README, "Versions").
      version: z.string().min(1).max(64).nullable().default(null),
      // The flow's parameters as a JSON Schema (Prefect's parameter_openapi_schema), or a file holding it.
      parameterSchema: jsonObject.nullable().default(null),
      parameterSchemaFile: z.string().min(1).nullable().default(null),
      concurrencyLimit: z.int().min(1).nullable().default(null),
      collisionStrategy: z.enum(['ENQUEUE', 'CANCEL_NEW']).default('ENQUEUE'),
      defaultTimezone: z
        .string()
        .default('UTC')
        .refine(
          (tz) => PREFECT_TIMEZONES.has(tz),
          'must be an IANA timezone name Prefect knows, such as "UTC"',
        ),
      onInactive: z.enum(['pause', 'delete']).default('pause'),
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
    .prefault({}),
  ownership: z
    .strictObject({
      managedTag: z.string().min(1).default('managed-by:connector-sync'),
      adopt: z.boolean().default(false),
    })
    .prefault({}),
  reconcile: z
    .strictObject({
      schedule: cron.default('* * * * *'),
      /** observe: plan and report every pass, never write to Prefect (README, "Observe mode"). */
      mode: z.enum(['apply', 'observe']).default('apply'),
      concurrency: z.int().min(1).max(64).default(8),
      maxDeletesPerPass: z
        .union([
          z.int().min(0),
          z.string().regex(/^\d+(\.\d+)?%$/, 'must be a count or a percentage such as "25%"'),
        ])
        .default('25%'),
      backoff: z
        .strictObject({
          baseSeconds: z.number().positive().default(10),
          maxSeconds: z.number().positive().default(3600),
        })
        .prefault({}),
      lockWaitSeconds: z.number().min(0).default(60),
      shutdownTimeoutSeconds: z.number().min(0).default(20),
    })
    .prefault({}),
  prefect: z
    .strictObject({
      apiUrl: z.url({
        protocol: /^https?$/,
        error: (issue) =>
          issue.input === undefined
            ? 'is required: set PREFECT_API_URL, e.g. http://127.0.0.1:4200/api'
            : 'must be an http(s) URL such as http://127.0.0.1:4200/api',
      }),
      apiKey: z.string().min(1).optional(),
      authString: z
        .string()
        .regex(/^[^:]+:.*$/, 'must be "user:password"')
        .optional(),
      timeoutMs: z.int().min(100).default(10_000),
      requestsPerSecond: z.number().positive().default(50),
      retries: z.int().min(0).max(20).default(4),
      retryMinDelayMs: z.int().min(1).default(500),
      retryMaxDelayMs: z.int().min(1).default(8_000),
      // Where people open Prefect's UI: the console links each deployment there. null: no links.
      uiUrl: z
        .url({
          protocol: /^https?$/,
          error: 'must be an http(s) URL such as http://127.0.0.1:4200',
        })
        .nullable()
        .default(null),
    })
    .refine((p) => p.retryMinDelayMs <= p.retryMaxDelayMs, {
      path: ['retryMaxDelayMs'],
      message: 'must not be less than prefect.retryMinDelayMs',
    }),
  database: z.strictObject({
    url: z
      .string({
        error: (issue) =>
          issue.input === undefined ? 'is required: set DATABASE_URL' : 'must be text',
      })
      .regex(/^postgres(ql)?:\/\//, {
        message: 'must be a postgres:// or postgresql:// URL',
        abort: true,
      })
      // Parsed as pg parses it, so a mistake is this one line, not a stack trace
      // at the first connection. The message never repeats the URL (it holds the password).
      .refine(parsesAsPostgresUrl, {
        message:
          'is not a valid URL: check the port, and percent-encode @ # / ? : in the user or password (%40 %23 %2F %3F %3A)',
      }),
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case SQL identifier')
      .default('connector_sync'),
  }),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      format: z.enum(['json', 'pretty']).default('json'),
    })
    .prefault({}),
  events: z
    .strictObject({
      publish: z
        .strictObject({
          // connector-sync.* events to Prefect's event stream (README, "Sinks").
          prefect: z.boolean().default(true),
          nats: z
            .strictObject({
              // null: no NATS sink. nats://host:4222 (env NATS_URL).
              url: z
                .string()
                .regex(
                  /^(nats|tls|wss?):\/\/[^\s]+$/,
                  'must be a nats:// (or tls://, ws://, wss://) URL',
                )
                .nullable()
                .default(null),
              // Each event goes to <subject>.<action>, e.g. connector-sync.events.failed.
              subject: z
                .string()
                .regex(
                  /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
                  'must be a NATS subject without wildcards, such as connector-sync.events',
                )
                .default('connector-sync.events'),
              // The JetStream stream over <subject>.>; made if missing.
              stream: z
                .string()
                .regex(/^[A-Za-z0-9_-]+$/, 'must be a stream name (letters, digits, _ and -)')
                .default('CONNECTOR_SYNC_EVENTS'),
            })
            .prefault({}),
          // How long `run --once` waits after its pass for the sinks to take its events.
          flushSeconds: z.number().min(0).default(10),
        })
        .prefault({}),
      // Events older than this are pruned once every enabled sink has them; null keeps them all.
      retentionDays: z.number().positive().nullable().default(null),
      // Rows of the pass history older than this are pruned; null keeps them all.
      passRetentionDays: z.number().positive().nullable().default(30),
    })
    .prefault({}),
  masking: z
    .strictObject({
      // Parameter keys whose values are masked in all we show or send (README, "Security"):
      // a regular expression, case-insensitive, matched anywhere in a key at any depth.
      keys: z
        .string()
        .refine((value) => secretKeysProblem(value) === null, {
          error: (issue) => secretKeysProblem(String(issue.input)) ?? 'invalid pattern',
        })
        .default(DEFAULT_SECRET_KEYS),
    })
    .prefault({}),
  http: z
    .strictObject({
      // null: every interface (IPv6 and IPv4), as Node binds by default.
      host: z.string().min(1).nullable().default(null),
      port: z.coerce.number().int().min(0).max(65535).default(8080),
      // Who may read the console and /api/* (README, "Security"). Neither set: open (a WARN at start).
      auth: z
        .strictObject({
          // A bearer token (env CONNECTOR_SYNC_HTTP_TOKEN), typically from a Secret.
          token: z
            .string()
            .min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)')
            .nullable()
            .default(null),
          // "user:password" for HTTP basic auth (env CONNECTOR_SYNC_HTTP_BASIC).
          basic: z
            .string()
            .regex(/^[^:]+:.{12,}$/, 'must be "user:password", the password at least 12 characters')
            .nullable()
            .default(null),
          // /metrics needs the credential too (the scraper then sends it).
          metrics: z.boolean().default(false),
        })
        .prefault({}),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;

/** The flow of every connector deployment: deployment.flowName, else the template's, else the default. */
export function flowNameOf(deployment: Config['deployment']): string {
  return deployment.flowName ?? deployment.template?.split('/')[0] ?? DEFAULT_FLOW_NAME;
}
