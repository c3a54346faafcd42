import type { Deployment, DeploymentSpec, TemplateDeployment } from '../domain/types.js';

// The shapes of a deployment on the wire: the body of a create, a schedule as
// sent, and the fields kept of what Prefect answers.

/** POST /deployments/: every field of the spec (a create is an upsert on flow + name). */
export function createBody(flowId: string, spec: DeploymentSpec): Record<string, unknown> {
  return {
    name: spec.name,
    flow_id: flowId,
    description: spec.description,
    parameters: spec.parameters,
    schedules: spec.schedules.map(scheduleBody),
    paused: spec.paused,
    tags: spec.tags,
    work_pool_name: spec.work_pool_name,
    work_queue_name: spec.work_queue_name,
    entrypoint: spec.entrypoint,
    path: spec.path,
    pull_steps: spec.pull_steps,
    job_variables: spec.job_variables,
    version: spec.version,
    // Sent {}, Prefect keeps {"type":"object","properties":{}}; not sent, it keeps {}.
    ...(Object.keys(spec.parameter_openapi_schema).length > 0
      ? { parameter_openapi_schema: spec.parameter_openapi_schema }
      : {}),
    enforce_parameter_schema: spec.enforce_parameter_schema,
    ...(spec.concurrency_limit === null
      ? {}
      : {
          concurrency_limit: spec.concurrency_limit,
          concurrency_options: spec.concurrency_options,
        }),
  };
}

export function scheduleBody(
  schedule: DeploymentSpec['schedules'][number],
): Record<string, unknown> {
  return {
    schedule: { cron: schedule.cron, timezone: schedule.timezone, day_or: schedule.day_or },
    active: schedule.active,
    slug: schedule.slug,
    // A schedule patched without parameters gets {} anyway; say so explicitly.
    parameters: {},
  };
}

/**
 * Only the fields the planner reads. Prefect sends much more per deployment
 * (audit fields, the global concurrency limit's details); a pass over 10,000
 * deployments holds them all at once, so the rest is dropped as each page
 * arrives.
 */
export function keepReadFields(deployment: Deployment): Deployment {
  return {
    id: deployment.id,
    name: deployment.name,
    flow_id: deployment.flow_id,
    description: deployment.description,
    parameters: deployment.parameters,
    schedules: deployment.schedules.map((schedule) => ({
      id: schedule.id,
      schedule: schedule.schedule,
      active: schedule.active,
      slug: schedule.slug,
      ...('parameters' in schedule ? { parameters: schedule.parameters } : {}),
      ...('max_scheduled_runs' in schedule
        ? { max_scheduled_runs: schedule.max_scheduled_runs }
        : {}),
    })),
    paused: deployment.paused,
    tags: deployment.tags,
    work_pool_name: deployment.work_pool_name,
    work_queue_name: deployment.work_queue_name,
    ...('work_queue_id' in deployment ? { work_queue_id: deployment.work_queue_id } : {}),
    entrypoint: deployment.entrypoint,
    path: deployment.path,
    pull_steps: deployment.pull_steps,
    job_variables: deployment.job_variables,
    version: deployment.version ?? null,
    parameter_openapi_schema: interned(deployment.parameter_openapi_schema ?? null),
    enforce_parameter_schema: deployment.enforce_parameter_schema ?? null,
    // Prefect keeps the limit as a global concurrency limit; concurrency_limit reads back null.
    concurrency_limit:
      (deployment as { global_concurrency_limit?: { limit?: number } | null })
        .global_concurrency_limit?.limit ??
      deployment.concurrency_limit ??
      null,
    concurrency_options: deployment.concurrency_options ?? null,
    ...('status' in deployment ? { status: deployment.status ?? null } : {}),
  };
}

/**
 * One copy of each parameter schema: every connector deployment of a
 * release holds the same one (a few KB), and a pass over 10,000 keeps them
 * all at once. Keyed by their JSON text.
 */
const schemas = new Map<string, Record<string, unknown>>();

function interned(schema: Record<string, unknown> | null): Record<string, unknown> | null {
  if (schema === null) return null;
  const key = JSON.stringify(schema);
  const known = schemas.get(key);
  if (known) return known;
  if (schemas.size >= 100) schemas.clear(); // a few releases' worth; never unbounded
  schemas.set(key, schema);
  return schema;
}

/** The template as Prefect answers it: only what connectors take from it. */
export function templateOf(d: Record<string, unknown>): TemplateDeployment {
  return {
    id: String(d.id),
    name: String(d.name),
    flow_id: String(d.flow_id),
    version: textOrNull(d.version),
    parameter_openapi_schema: objectOrNull(d.parameter_openapi_schema),
    enforce_parameter_schema: d.enforce_parameter_schema === true,
    entrypoint: textOrNull(d.entrypoint),
    path: textOrNull(d.path),
    pull_steps: Array.isArray(d.pull_steps) ? (d.pull_steps as Record<string, unknown>[]) : null,
    job_variables: objectOrNull(d.job_variables),
    work_pool_name: textOrNull(d.work_pool_name),
    work_queue_name: textOrNull(d.work_queue_name),
  };
}

function textOrNull(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function objectOrNull(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}
