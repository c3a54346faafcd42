import type { DesiredSettings } from '../domain/desired.js';
import type { Masker } from '../domain/mask.js';
import { parameterProblem, schemaProblem } from '../domain/parameters.js';
import type { IdKind, TemplateDeployment } from '../domain/types.js';
import type { ValidatedRows } from '../domain/validate.js';
import type { Config } from '../config/schema.js';
import { ConfigurationError } from '../domain/errors.js';
import { installationTag } from '../domain/ownership.js';
import { parseDuration } from '../domain/duration.js';
import type { RolloutRules } from '../domain/rollout.js';

// What every connector's deployment starts from: the row over the
// configuration over the template over the built-in defaults (docs/concepts/connectors-and-deployments.md,
// "A template deployment").

export const DEFAULT_ENTRYPOINT = 'flows/dlt_pipeline_flow.py:run_connector_pipeline';
const DEFAULT_POOL = 'default';
const DEFAULT_QUEUE = 'default';

/** The tags every deployment of this installation carries: the managed tag, and its own unless `default`. */
export function ownershipTagsOf(config: Config): string[] {
  const own = installationTag(config.installation);
  return own === null ? [config.ownership.managedTag] : [config.ownership.managedTag, own];
}

export function desiredSettings(
  config: Config,
  idKind: IdKind,
  template: TemplateDeployment | null,
): DesiredSettings {
  const d = config.deployment;
  const schema = parameterSchemaOf(config, template);
  return {
    idKind,
    nameTemplate: d.nameTemplate,
    tags: d.tags,
    ownershipTags: ownershipTagsOf(config),
    sourceTable: config.source.table,
    workPoolName: d.workPoolName ?? template?.work_pool_name ?? DEFAULT_POOL,
    workQueueName: d.workQueueName ?? template?.work_queue_name ?? DEFAULT_QUEUE,
    entrypoint: d.entrypoint ?? template?.entrypoint ?? DEFAULT_ENTRYPOINT,
    path: d.path ?? template?.path ?? null,
    pullSteps: d.pullSteps ?? template?.pull_steps ?? null,
    jobVariables: { ...(template?.job_variables ?? {}), ...d.jobVariables },
    release: template?.version ?? d.version,
    parameterSchema: schema?.schema ?? {},
    enforceParameterSchema: schema?.enforce ?? false,
    concurrencyLimit: d.concurrencyLimit,
    collisionStrategy: d.collisionStrategy,
  };
}

/**
 * The flow's parameter schema: the configuration's (enforced by Prefect), or
 * the template's (as its release asked); none at all means parameters are
 * the row's business, as before templates.
 */
function parameterSchemaOf(
  config: Config,
  template: TemplateDeployment | null,
): { schema: Record<string, unknown>; enforce: boolean } | null {
  if (config.deployment.parameterSchema)
    return { schema: config.deployment.parameterSchema, enforce: true };
  const fromTemplate = template?.parameter_openapi_schema;
  if (fromTemplate && Object.keys(fromTemplate).length > 0)
    return { schema: fromTemplate, enforce: template.enforce_parameter_schema };
  return null;
}

/**
 * Rows whose parameters the flow would refuse become `invalid` before any
 * call (a message naming the parameter); a schema that cannot take the
 * connector_id connector-sync passes is a configuration problem.
 */
export function checkParameters(
  validated: ValidatedRows,
  settings: DesiredSettings,
  masker: Masker,
): ValidatedRows {
  const schema = settings.parameterSchema;
  if (Object.keys(schema).length === 0) return validated;
  const problem = schemaProblem(schema, settings.idKind === 'number' ? 1 : 'connector-id');
  if (problem) throw new ConfigurationError([problem]);
  const valid = [];
  const problems = [...validated.problems];
  for (const row of validated.valid) {
    const connectorId = settings.idKind === 'number' ? Number(row.id) : row.id;
    const wrong = parameterProblem(
      { ...row.parameters, connector_id: connectorId },
      schema,
      masker,
    );
    if (wrong === null) valid.push(row);
    else
      problems.push({
        connectorId: row.id,
        connectorName: row.name,
        status: 'invalid',
        message: wrong,
        retryable: false,
      });
  }
  return { ...validated, valid, problems };
}

/** The rollout settings as the release rules read them. */
export function rolloutRulesOf(config: Config): RolloutRules {
  const r = config.rollout;
  return {
    waves: r.waves,
    verify: r.verify,
    canaries: r.canaries,
    maxFailedRuns: r.maxFailedRuns,
    gateTimeoutMs: parseDuration(r.gateTimeout)! * 1000,
  };
}
