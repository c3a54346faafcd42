import { normalizeCron } from './cron.js';
import { SCHEDULE_SLUG } from './desired.js';
import { isEmptyish, jsonEqual } from './json.js';
import type {
  Deployment,
  DeploymentSchedule,
  DeploymentSpec,
  FieldChanges,
  ManagedField,
  ScheduleSpec,
} from './types.js';

/**
 * The fields where Prefect differs from what the connector wants, with from/to
 * values in API shape. Only real differences count (SPEC §5): tags as a set,
 * crons with whitespace normalised, null/{}/[] alike for the JSON-ish fields.
 */
export function diffDeployment(spec: DeploymentSpec, actual: Deployment): FieldChanges {
  const changes: FieldChanges = {};
  const note = (field: ManagedField, from: unknown, to: unknown, same: boolean): void => {
    if (!same) changes[field] = { from, to };
  };

  note(
    'description',
    actual.description,
    spec.description,
    (actual.description ?? '') === spec.description,
  );
  note(
    'parameters',
    actual.parameters,
    spec.parameters,
    sameJsonish(actual.parameters, spec.parameters),
  );
  const actualSchedules = actual.schedules.map(scheduleView);
  note(
    'schedules',
    actualSchedules,
    spec.schedules,
    sameSchedules(actual.schedules, spec.schedules),
  );
  note('paused', actual.paused, spec.paused, actual.paused === spec.paused);
  note('tags', [...actual.tags].sort(), spec.tags, sameSet(actual.tags, spec.tags));
  note(
    'work_pool_name',
    actual.work_pool_name,
    spec.work_pool_name,
    actual.work_pool_name === spec.work_pool_name,
  );
  note(
    'work_queue_name',
    actual.work_queue_name,
    spec.work_queue_name,
    actual.work_queue_name === spec.work_queue_name,
  );
  note('entrypoint', actual.entrypoint, spec.entrypoint, actual.entrypoint === spec.entrypoint);
  note('path', actual.path, spec.path, sameJsonish(actual.path, spec.path));
  note(
    'pull_steps',
    actual.pull_steps,
    spec.pull_steps,
    sameJsonish(actual.pull_steps, spec.pull_steps),
  );
  note(
    'job_variables',
    actual.job_variables,
    spec.job_variables,
    sameJsonish(actual.job_variables, spec.job_variables),
  );
  return changes;
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
