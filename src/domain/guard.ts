import { isLeftover, pauseChange } from './changes.js';
import type {
  Change,
  DeleteChange,
  DeploymentSpec,
  HeldConnector,
  HeldDeletes,
  HoldRule,
  Notice,
  Plan,
  Problem,
  UpdateChange,
} from './types.js';

// The delete guards (docs/concepts/ownership-and-safety.md): a pass's deletes
// go only when the pass makes few of them, the sliding window's budget has
// room for them, and the source looks as healthy as the last good pass.

/** A pass's plan before the guard has its say: its deletes apart from the rest. */
export interface GuardDraft {
  changes: Change[];
  deletes: DeleteChange[];
  problems: Problem[];
  unchanged: string[];
}

/** What the guards know when a pass decides. */
export interface DeleteRules {
  /** More deletes than this in one pass, and the pass deletes nothing. */
  perPass: number;
  /** At most `limit` deletes in any `window` (its words, e.g. "1h"); `used` of them are made. */
  budget: { limit: number; window: string; used: number };
  /** Set when the source shrank past its limit since the last good pass: no delete goes. */
  sourceShrank: { from: number; to: number } | null;
  /**
   * Deletes an operator approved: `all` (`--allow-mass-delete`), or the
   * deployments (by id) an `approve-deletes` listed — those go whatever the
   * rules say; the rest are judged as ever.
   */
  approved: 'all' | ReadonlySet<string>;
}

type Guarded = Omit<Plan, 'suspended'>;

interface Hold {
  rule: HoldRule;
  by: string;
  limit: number;
  held: DeleteChange[];
  /** Why, at the end of each held connector's line. */
  why: string;
  notice: string;
  /** Whether what must not run meanwhile is paused (not when the source itself looks broken). */
  pause: boolean;
}

/**
 * The delete guards. What a guard holds back holds back what depends on it:
 * a renamed connector's new deployment is not created while its old one
 * stays; a deployment that must not run meanwhile (a leftover beside the
 * connector's live deployment, an inactive connector's) is paused instead —
 * except when the source looks broken, when nothing is paused either.
 */
export function guardDeletes(draft: GuardDraft, rules: DeleteRules): Guarded {
  const { approved } = rules;
  const judged =
    approved === 'all' ? [] : draft.deletes.filter((d) => !approved.has(d.deployment.id));
  // Approved deletes spend the budget too: the rest get what room is left.
  const budget = {
    ...rules.budget,
    used: rules.budget.used + draft.deletes.length - judged.length,
  };
  const hold = judged.length === 0 ? null : holdOf(judged, { ...rules, budget });
  if (!hold)
    return {
      problems: draft.problems,
      unchanged: draft.unchanged,
      changes: [...draft.changes, ...draft.deletes],
      notices: [],
      heldDeletes: null,
    };
  return applyHold(draft, hold);
}

/** The rule that holds deletes back this pass, first that applies; null when they all go. */
function holdOf(deletes: DeleteChange[], rules: DeleteRules): Hold | null {
  const n = deletes.length;
  const shrank = rules.sourceShrank;
  if (shrank) {
    const rows = `source shrank from ${shrank.from} to ${shrank.to} rows`;
    return {
      rule: 'source-shrank',
      by: 'the source check',
      limit: shrank.from,
      held: deletes,
      why: `the ${rows} since the last good pass; nothing is deleted or paused until it looks healthy again, or the deletes are approved`,
      notice: `source check: the ${rows} since the last good pass; none of ${n} deletes was made and nothing was paused (a view returning nothing, a truncated table, the wrong source.table?); if the rows were meant to go, approve the deletes`,
      pause: false,
    };
  }
  if (n > rules.perPass)
    return {
      rule: 'per-pass',
      by: 'the mass-delete guard',
      limit: rules.perPass,
      held: deletes,
      why: `the mass-delete guard held back all ${n} deletes of this pass (limit ${rules.perPass}); run with --allow-mass-delete if they are intended`,
      notice: `mass-delete guard: this pass would delete ${n} deployments, more than the limit of ${rules.perPass}; nothing was deleted (use --allow-mass-delete if this is intended)`,
      pause: true,
    };
  const { limit, window, used } = rules.budget;
  const room = Math.max(0, limit - used);
  if (n <= room) return null;
  const spent = `${used} deployments deleted in the last ${window}, the delete budget is ${limit} per ${window}`;
  return {
    rule: 'budget',
    by: 'the delete budget',
    limit,
    // The ones that go are the first in a stable order; the rest wait their turn.
    held: [...deletes].sort(byConnector).slice(room),
    // Without the count, which moves: the same hold reads the same on every pass (one held event).
    why: `the delete budget of ${limit} per ${window} is spent; it goes once the window frees up, or when approved`,
    notice: `delete budget: ${spent}; ${n - room} of this pass's ${n} deletes are held back until the window frees up (approve them if they are intended)`,
    pause: true,
  };
}

function applyHold(draft: GuardDraft, hold: Hold): Guarded {
  const heldIds = new Set(hold.held.map((d) => d.deployment.id));
  const going = draft.deletes.filter((d) => !heldIds.has(d.deployment.id));
  const waitingToRecreate = new Set(hold.held.filter(isLeftover).map((d) => d.connectorId));
  const recreates = new Map<string, DeploymentSpec>();
  const changes: Change[] = [];
  for (const change of draft.changes) {
    if (change.action === 'create' && waitingToRecreate.has(change.connectorId))
      recreates.set(change.connectorId, change.spec);
    else changes.push(change);
  }
  const pauses = hold.pause ? pausesWhileHeld(hold.held, recreates) : [];
  const notices: Notice[] = [{ connectorId: null, message: hold.notice }];
  const heldDeletes: HeldDeletes = {
    rule: hold.rule,
    by: hold.by,
    count: hold.held.length,
    limit: hold.limit,
    deletes: hold.held,
    connectors: heldConnectors(hold.held, recreates, pauses, hold.why),
  };
  return {
    problems: draft.problems,
    unchanged: draft.unchanged,
    changes: [...changes, ...going, ...pauses],
    notices,
    heldDeletes,
  };
}

function byConnector(a: DeleteChange, b: DeleteChange): number {
  const ka = a.connectorId ?? '\uffff';
  const kb = b.connectorId ?? '\uffff';
  return (
    ka.localeCompare(kb, 'en', { numeric: true }) ||
    a.deployment.name.localeCompare(b.deployment.name)
  );
}

/**
 * The held deletes whose deployment must not go on running: inactive
 * connectors' deployments, and every leftover of a rename but one — the one
 * an active connector waiting for its recreate goes on running on.
 */
function pausesWhileHeld(
  deletes: DeleteChange[],
  recreates: Map<string, DeploymentSpec>,
): UpdateChange[] {
  const runsOn = new Set<string>();
  const pauses: UpdateChange[] = [];
  for (const d of deletes) {
    if (d.connectorId === null || d.deployment.paused) continue;
    const inactive = d.reason === 'inactive' || d.reason === 'inactive, row invalid';
    if (!inactive && !isLeftover(d)) continue; // a deleted row's: left as it is
    const recreate = recreates.get(d.connectorId);
    if (isLeftover(d) && recreate && !recreate.paused && !runsOn.has(d.connectorId)) {
      runsOn.add(d.connectorId);
      continue;
    }
    pauses.push(pauseChange(d.deployment, d.connectorId, d.connectorName, 'delete held back'));
  }
  return pauses;
}

function heldConnectors(
  deletes: DeleteChange[],
  recreates: Map<string, DeploymentSpec>,
  pauses: UpdateChange[],
  why: string,
): HeldConnector[] {
  const paused = new Set(pauses.map((p) => p.deployment.id));
  const byConnector = new Map<string, HeldConnector>();
  for (const d of deletes) {
    if (d.connectorId === null || d.reason === 'orphan') continue;
    const then = paused.has(d.deployment.id) ? '; it is paused until then' : '';
    const line = `deployment "${d.deployment.name}" (${d.reason}) not deleted: ${why}${then}`;
    const held = byConnector.get(d.connectorId);
    if (held) held.message = `${held.message}. ${line}`;
    else
      byConnector.set(d.connectorId, {
        connectorId: d.connectorId,
        connectorName: d.connectorName,
        message: line,
        notCreated: null,
      });
  }
  for (const [connectorId, spec] of recreates) {
    const held = byConnector.get(connectorId);
    if (!held) continue;
    held.message = `${held.message}; "${spec.name}" is created once it is deleted`;
    held.notCreated = spec.name;
  }
  return [...byConnector.values()];
}
