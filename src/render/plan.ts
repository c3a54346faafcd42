import type {
  Change,
  FieldChanges,
  HeldDeletes,
  Problem,
  SuspendedConnector,
} from '../domain/types.js';
import { DEFAULT_SECRET_KEYS, maskerOf, type Masker } from '../domain/mask.js';
import type { PassResult } from '../pass/result.js';

// How a pass is shown: a diff for people, a stable JSON object for machines.
// Values under secret keys are shown masked (docs/guides/security.md); a change
// says which masked values it changes. The default masks the default keys,
// so nothing renders a secret even when a caller forgets its configuration.
const DEFAULT_MASKER = maskerOf(DEFAULT_SECRET_KEYS);

export interface PlanSummary {
  create: number;
  update: number;
  pause: number;
  resume: number;
  delete: number;
  unchanged: number;
  /** Connectors an operator suspended: left as they are. */
  suspended: number;
  invalid: number;
  conflict: number;
  failed: number;
}

export interface PlanJson {
  changes: {
    action: Change['action'];
    connector_id: string | null;
    deployment_name: string;
    deployment_id: string | null;
    fields: Record<string, { from: unknown; to: unknown }> | null;
    /** The masked paths (e.g. parameters.db.password) whose value the change changes. */
    masked_changes?: string[];
  }[];
  problems: {
    connector_id: string;
    status: Problem['status'];
    message: string;
    still_running_since?: string;
  }[];
  /** Set when a delete guard held deletes of this pass back. */
  held_deletes: {
    /** The rule that held them: `per-pass`, `budget` or `source-shrank`. */
    rule: HeldDeletes['rule'];
    count: number;
    limit: number;
    deployments: {
      deployment_id: string;
      deployment_name: string;
      connector_id: string | null;
      reason: string;
    }[];
    connectors: { connector_id: string; message: string; not_created: string | null }[];
  } | null;
  /** Connectors an operator suspended, left as they are (who, why, since). */
  suspended: {
    connector_id: string;
    suspended_by: string;
    reason: string;
    suspended_at: string;
    deployment_name: string | null;
    /** Its deployment differs from its row: the suspension holds that change back. */
    would_change: boolean;
  }[];
  summary: PlanSummary;
}

export function allProblems(result: PassResult): Problem[] {
  return [...result.plan.problems, ...result.failures];
}

export function summarize(result: PassResult): PlanSummary {
  const count = (action: Change['action']): number =>
    result.plan.changes.filter((c) => c.action === action).length;
  const problems = allProblems(result);
  const status = (s: Problem['status']): number => problems.filter((p) => p.status === s).length;
  return {
    create: count('create'),
    update: count('update'),
    pause: count('pause'),
    resume: count('resume'),
    delete: count('delete'),
    unchanged: result.plan.unchanged.length,
    suspended: result.plan.suspended.length,
    invalid: status('invalid'),
    conflict: status('conflict'),
    failed: status('failed'),
  };
}

export function planJson(result: PassResult, masker: Masker = DEFAULT_MASKER): PlanJson {
  return {
    changes: result.plan.changes.map((change) => {
      const fields =
        change.action === 'create' || change.action === 'delete' ? null : change.fields;
      const masked = fields ? maskedChanges(fields, masker) : [];
      return {
        action: change.action,
        connector_id: change.connectorId,
        deployment_name: deploymentNameOf(change),
        deployment_id: change.action === 'create' ? null : change.deployment.id,
        fields: fields && masker.mask(fields),
        ...(masked.length > 0 ? { masked_changes: masked } : {}),
      };
    }),
    problems: allProblems(result).map((p) => ({
      connector_id: p.connectorId,
      status: p.status,
      message: p.message,
      ...(p.stillRunningSince ? { still_running_since: p.stillRunningSince.toISOString() } : {}),
    })),
    held_deletes: heldJson(result.plan.heldDeletes),
    suspended: result.plan.suspended.map((s) => ({
      connector_id: s.connectorId,
      suspended_by: s.by,
      reason: s.reason,
      suspended_at: s.since.toISOString(),
      deployment_name: s.deploymentName,
      would_change: s.wouldChange === true,
    })),
    summary: summarize(result),
  };
}

function heldJson(held: HeldDeletes | null): PlanJson['held_deletes'] {
  if (!held) return null;
  return {
    rule: held.rule,
    count: held.count,
    limit: held.limit,
    deployments: held.deletes.map((d) => ({
      deployment_id: d.deployment.id,
      deployment_name: d.deployment.name,
      connector_id: d.connectorId,
      reason: d.reason,
    })),
    connectors: held.connectors.map((c) => ({
      connector_id: c.connectorId,
      message: c.message,
      not_created: c.notCreated,
    })),
  };
}

function deploymentNameOf(change: Change): string {
  return change.action === 'create' ? change.spec.name : change.deployment.name;
}

const SIGN: Record<Change['action'], string> = {
  create: '+',
  update: '~',
  pause: '~',
  resume: '~',
  delete: '-',
};

/** The masked paths whose values these field changes change. */
function maskedChanges(fields: FieldChanges, masker: Masker): string[] {
  return Object.entries(fields).flatMap(([field, v]) => masker.changedSecrets(v.from, v.to, field));
}

export function renderChange(change: Change, masker: Masker = DEFAULT_MASKER): string {
  const head = `${SIGN[change.action]} ${change.action.padEnd(7)} ${deploymentNameOf(change).padEnd(14)}`;
  switch (change.action) {
    case 'create': {
      const schedule = change.spec.schedules[0];
      const when = schedule ? `schedule "${schedule.cron}" ${schedule.timezone}` : 'no schedule';
      return `${head} ${when}, ${change.spec.paused ? 'paused' : 'active'}`.trimEnd();
    }
    case 'delete':
      return `${head} (${change.reason})`;
    case 'pause':
      return change.reason ? `${head} (${change.reason})` : head.trimEnd();
    case 'resume':
      return head.trimEnd();
    case 'update': {
      const masked = maskedChanges(change.fields, masker);
      const note = masked.length > 0 ? `; masked: ${masked.join(', ')} changed` : '';
      return `${head} ${renderFields(masker.mask(change.fields))}${note}`.trimEnd();
    }
  }
}

export function renderFields(fields: FieldChanges): string {
  return Object.entries(fields)
    .map(([field, v]) => `${field}: ${renderValue(field, v.from)} -> ${renderValue(field, v.to)}`)
    .join('; ');
}

function renderValue(field: string, value: unknown): string {
  if (field === 'schedules' && Array.isArray(value)) {
    if (value.length === 0) return 'none';
    return value
      .map((s: Record<string, unknown>) => {
        const timezone = typeof s.timezone === 'string' ? s.timezone : '';
        const what =
          typeof s.cron === 'string' ? `"${s.cron}" ${timezone}`.trim() : JSON.stringify(s);
        return s.active === false ? `${what} (inactive)` : what;
      })
      .join(', ');
  }
  const text = JSON.stringify(value) ?? 'null';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** One line per delete the guard held back, saying what it holds back with it. */
export function renderHeld(held: HeldDeletes, changes: Change[]): string[] {
  const paused = new Set(
    changes.flatMap((c) => (c.action === 'pause' && c.reason ? [c.deployment.id] : [])),
  );
  const notCreated = new Map(held.connectors.map((c) => [c.connectorId, c.notCreated]));
  return held.deletes.map((d) => {
    const then = paused.has(d.deployment.id)
      ? '; paused until then'
      : d.connectorId !== null && notCreated.get(d.connectorId)
        ? `; "${notCreated.get(d.connectorId)}" not created until then`
        : '';
    return `= held    ${d.deployment.name.padEnd(14)} delete held back by ${held.by} (${d.reason}${then})`;
  });
}

/** `= suspended connector-42  left as it is (suspended by alice: "migrating"; since …)` */
export function renderSuspended(s: SuspendedConnector): string {
  const what = s.deploymentName ?? `connector ${s.connectorId} (no deployment)`;
  const held = s.wouldChange === true ? ', would change' : '';
  return `= suspended ${what.padEnd(14)} left as it is${held} (suspended by ${s.by}: ${JSON.stringify(s.reason)}; since ${s.since.toISOString()})`;
}

export function renderProblem(problem: Problem): string {
  const running = problem.stillRunningSince
    ? ` — still running the spec of ${problem.stillRunningSince.toISOString()}`
    : '';
  return `! ${problem.status.padEnd(7)} ${`connector ${problem.connectorId}`.padEnd(14)} ${problem.message}${running}`;
}

export function renderPlan(
  result: PassResult,
  verb: 'Plan' | 'Applied',
  masker: Masker = DEFAULT_MASKER,
): string {
  const lines = [
    ...result.plan.changes.map((change) => renderChange(change, masker)),
    ...(result.plan.heldDeletes ? renderHeld(result.plan.heldDeletes, result.plan.changes) : []),
    ...result.plan.suspended.map(renderSuspended),
    ...allProblems(result).map(renderProblem),
  ];
  for (const notice of result.plan.notices) lines.push(`? note    ${notice.message}`);
  const s = summarize(result);
  const parts = [
    `${s.create} to create`,
    `${s.update} to update`,
    `${s.pause} to pause`,
    `${s.resume} to resume`,
    `${s.delete} to delete`,
  ];
  const issues = [
    s.invalid ? `${s.invalid} invalid` : '',
    s.conflict ? `${s.conflict} conflict` : '',
    s.failed ? `${s.failed} failed` : '',
  ].filter(Boolean);
  const suspended = s.suspended ? `, ${s.suspended} suspended` : '';
  const tail = `${s.unchanged} unchanged${suspended}${issues.length ? `; ${issues.join(', ')}` : ''}.`;
  if (verb === 'Applied') {
    lines.push(
      `Applied: ${result.applied.length} of ${result.plan.changes.length} changes; ${parts.join(', ').replaceAll(' to ', ' ')}; ${tail}`,
    );
  } else lines.push(`Plan: ${parts.join(', ')}; ${tail}`);
  return lines.join('\n');
}
