import { normalizeCron } from './cron.js';
import { SCHEDULE_SLUG } from './desired.js';
import { isEmptyish, isPlainObject, jsonEqual } from './json.js';
import {
  MANAGED_FIELDS,
  type Deployment,
  type DeploymentSchedule,
  type DeploymentSpec,
  type FieldChanges,
  type ManagedField,
  type ScheduleSpec,
} from './types.js';

/**
 * How each managed field is read from Prefect (`from`, as shown in plans and
 * events) and when Prefect's value already is the wanted one. Only real
 * differences count: tags as a set, crons with whitespace normalised,
 * null/{}/[] alike for the JSON-ish fields.
 */
interface FieldRule {
  from(actual: Deployment): unknown;
  same(actual: Deployment, wanted: unknown): boolean;
}

const plain = <K extends ManagedField & keyof Deployment>(field: K): FieldRule => ({
  from: (actual) => actual[field],
  same: (actual, wanted) => actual[field] === wanted,
});

const jsonish = <K extends ManagedField & keyof Deployment>(field: K): FieldRule => ({
  from: (actual) => actual[field],
  same: (actual, wanted) => sameJsonish(actual[field], wanted),
});

const FIELD_RULES: Record<ManagedField, FieldRule> = {
  description: {
    from: (actual) => actual.description,
    same: (actual, wanted) => (actual.description ?? '') === wanted,
  },
  parameters: jsonish('parameters'),
  schedules: {
    from: (actual) => actual.schedules.map(scheduleView),
    same: (actual, wanted) => sameSchedules(actual.schedules, wanted as ScheduleSpec[]),
  },
  paused: plain('paused'),
  tags: {
    from: (actual) => [...actual.tags].sort(),
    same: (actual, wanted) => sameSet(actual.tags, wanted as string[]),
  },
  work_pool_name: plain('work_pool_name'),
  work_queue_name: plain('work_queue_name'),
  entrypoint: plain('entrypoint'),
  path: jsonish('path'),
  pull_steps: jsonish('pull_steps'),
  job_variables: jsonish('job_variables'),
  version: {
    from: (actual) => actual.version ?? null,
    same: (actual, wanted) => (actual.version ?? null) === wanted,
  },
  parameter_openapi_schema: {
    from: (actual) => actual.parameter_openapi_schema ?? null,
    same: (actual, wanted) =>
      sameJsonish(noSchema(actual.parameter_openapi_schema), noSchema(wanted)),
  },
  enforce_parameter_schema: {
    from: (actual) => actual.enforce_parameter_schema ?? false,
    same: (actual, wanted) => (actual.enforce_parameter_schema ?? false) === wanted,
  },
  concurrency_limit: {
    from: (actual) => actual.concurrency_limit ?? null,
    same: (actual, wanted) => (actual.concurrency_limit ?? null) === wanted,
  },
  // Wanted only with a limit; without one, whatever Prefect keeps is no change.
  concurrency_options: {
    from: (actual) => actual.concurrency_options ?? null,
    same: (actual, wanted) =>
      wanted === null ||
      actual.concurrency_options?.collision_strategy ===
        (wanted as { collision_strategy: string }).collision_strategy,
  },
};

/** The fields where Prefect differs from what the connector wants, with from/to values in API shape. */
export function diffDeployment(spec: DeploymentSpec, actual: Deployment): FieldChanges {
  const changes: FieldChanges = {};
  for (const field of MANAGED_FIELDS) {
    const rule = FIELD_RULES[field];
    if (!rule.same(actual, spec[field]))
      changes[field] = { from: rule.from(actual), to: spec[field] };
  }
  return changes;
}

/** Every managed field as Prefect holds it, in the shape plans and events show (`from`). */
export function actualFields(actual: Deployment): Record<ManagedField, unknown> {
  return Object.fromEntries(
    MANAGED_FIELDS.map((field) => [field, FIELD_RULES[field].from(actual)]),
  ) as Record<ManagedField, unknown>;
}

/** Every managed field as the connector wants it (`to`: what would be sent). */
export function desiredFields(spec: DeploymentSpec): Record<ManagedField, unknown> {
  return Object.fromEntries(MANAGED_FIELDS.map((field) => [field, spec[field]])) as Record<
    ManagedField,
    unknown
  >;
}

/** The planned field changes that Prefect does not hold yet (settling an intent reads this). */
export function unappliedFields(fields: FieldChanges, actual: Deployment): FieldChanges {
  const left: FieldChanges = {};
  for (const [field, values] of Object.entries(fields) as [
    ManagedField,
    FieldChanges[ManagedField],
  ][]) {
    if (values && !FIELD_RULES[field].same(actual, values.to)) left[field] = values;
  }
  return left;
}

/** A schedule as shown in plans and event payloads: what it does, not its ids. */
export function scheduleView(schedule: DeploymentSchedule): Record<string, unknown> {
  const view: Record<string, unknown> = {
    ...schedule.schedule,
    active: schedule.active,
    slug: schedule.slug,
  };
  if (!isEmptyish(schedule.parameters)) view.parameters = schedule.parameters;
  return view;
}

function sameSchedules(actual: DeploymentSchedule[], desired: ScheduleSpec[]): boolean {
  if (actual.length !== desired.length) return false;
  const [want] = desired;
  const [have] = actual;
  if (!want || !have) return true; // both empty
  const s = have.schedule;
  return (
    have.slug === SCHEDULE_SLUG &&
    typeof s.cron === 'string' &&
    normalizeCron(s.cron) === want.cron &&
    (s.timezone ?? 'UTC') === want.timezone &&
    s.day_or === want.day_or &&
    have.active === want.active &&
    isEmptyish(have.parameters) &&
    Object.keys(s).every((k) => k === 'cron' || k === 'timezone' || k === 'day_or')
  );
}

/** A schema without parameters is no schema: Prefect keeps `{}` sent as {"type":"object","properties":{}}. */
function noSchema(schema: unknown): unknown {
  if (
    isPlainObject(schema) &&
    schema.type === 'object' &&
    isEmptyish(schema.properties) &&
    Object.keys(schema).every((k) => k === 'type' || k === 'properties')
  )
    return null;
  return schema;
}

function sameJsonish(a: unknown, b: unknown): boolean {
  if (isEmptyish(a) && isEmptyish(b)) return true;
  return jsonEqual(a, b);
}

function sameSet(a: string[], b: string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((x) => right.has(x));
}

/** The action a set of field changes amounts to: pause/resume when only `paused` moved. */
export function updateAction(fields: FieldChanges): 'update' | 'pause' | 'resume' {
  const keys = Object.keys(fields);
  if (keys.length === 1 && fields.paused) return fields.paused.to === true ? 'pause' : 'resume';
  return 'update';
}
