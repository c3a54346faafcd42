export { releaseRunTag } from './release-gate.js';
import type { EventRow } from '../domain/events.js';
import { releaseEvent, type ReleaseAction } from '../domain/events.js';
import {
  inProgress,
  lastGood,
  releaseViewOf,
  waveLabel,
  type Release,
  type ReleaseView,
} from '../domain/release.js';
import type { ReleasePlan } from '../domain/release-plan.js';
import { waveMembers } from '../domain/rollout.js';
import { judgeWave, startGate, type ReleaseStepInput, type Step } from './release-gate.js';
import { parseDuration } from '../domain/duration.js';
import type { PassDeps } from './context.js';
import { eventRow } from './event-row.js';
import type { Judgement } from './judge.js';
import { ReleaseChangedError } from '../domain/errors.js';

// Step 7 of a full pass, releases (docs/concepts/releases.md): once the
// pass has written what it could, move the release in progress on — start
// its wave's gate when every connector of the wave is written, judge the gate
// by its runs, pass the wave (the next one's connectors are written by the
// next pass) or fail it (its connectors go back to the previous release) —
// and record the release every connector is on.

export interface ReleaseStep {
  /** Come back for a full pass this soon (a release is moving); null when none is. */
  comeBackInMs: number | null;
  events: number;
  /** For the metrics; null when the ledger changed under this pass. */
  view: ReleaseView | null;
}

/**
 * Before act: a release this pass starts, or the connectors it adds to one,
 * are in the ledger before any deployment is given it — a pass killed
 * half-way leaves the ledger naming every connector that may carry it.
 * Returns the ledger as written.
 */
export async function startReleases(
  deps: PassDeps,
  input: { passId: string; judgement: Judgement; read: Release[] },
  guard: (() => Promise<void>) | undefined,
): Promise<Release[]> {
  const { passId, judgement } = input;
  const { changed, started, ledger } = judgement.releases;
  if (changed.length === 0) return ledger;
  await guard?.();
  const now = deps.now();
  const events = started
    ? [
        eventRow(
          deps,
          releaseEvent('release-started', started.id, {
            previous: started.previous,
            waves: started.waves,
            wave: started.wave + 1,
            connectors: started.members,
          }),
          passId,
          now,
        ),
      ]
    : [];
  await deps.store.saveReleases(changed, events);
  if (started)
    deps.logger.info(
      { release: started.id, previous: started.previous, connectors: started.members },
      `release ${started.id} started: ${waveLabel(started)}`,
    );
  return written(ledger, changed, input.read);
}

/** The ledger after `writes` were saved: each one read before a revision on, each new one at 0. */
function written(ledger: Release[], writes: Release[], read: Release[]): Release[] {
  const known = new Set(read.map((r) => r.id));
  const byId = new Map(ledger.map((r) => [r.id, r]));
  for (const w of writes) byId.set(w.id, { ...w, revision: known.has(w.id) ? w.revision + 1 : 0 });
  return [...byId.values()];
}

export async function advanceReleases(
  deps: PassDeps,
  input: ReleaseStepInput,
): Promise<ReleaseStep> {
  const plan = input.judgement.releases;
  const ledger = input.ledger;
  const now = deps.now();
  const unwritten = unwrittenConnectors(input);
  const writes: Release[] = [];
  const drafts: {
    action: ReleaseAction;
    id: string;
    payload: Record<string, unknown>;
    runs?: string[];
  }[] = [];
  if (ledger.length === 0) writes.push(baselineOf(plan, now));
  const current = inProgress(ledger);
  if (current?.state === 'rolling-out') {
    const moved = await stepRollout(deps, current, { ...input, unwritten, now });
    if (moved.release !== current) writes.push(moved.release);
    drafts.push(...moved.events);
  }
  for (const r of ledger) {
    if (r.state !== 'failed' || r.rolledBackAt !== null) continue;
    if (r.members.some((id) => unwritten.has(id))) continue;
    writes.push({ ...r, rolledBackAt: now });
    const to = lastGood(ledger)?.id ?? null;
    drafts.push({
      action: 'release-rolled-back',
      id: r.id,
      payload: { to, connectors: r.members },
    });
    deps.logger.warn(
      { release: r.id, to, connectors: r.members.length },
      `release ${r.id} rolled back to ${to}`,
    );
  }
  const events: EventRow[] = drafts.map((d) =>
    eventRow(deps, releaseEvent(d.action, d.id, d.payload, d.runs), input.passId, now),
  );
  if (!(await saved(deps, writes, events))) return { comeBackInMs: 1000, events: 0, view: null };
  const connectors = await recordWhereConnectorsAre(deps, input, unwritten, writes);
  const after = mergeLedger(ledger, writes);
  const moving =
    inProgress(after)?.state === 'rolling-out' ||
    after.some((r) => r.state === 'failed' && r.rolledBackAt === null);
  // A wave that just passed (its successor's connectors to write) or failed
  // (its connectors to give back) is written by a pass at once, not after checkEvery.
  const urgent = drafts.some(
    (d) => d.action === 'release-wave-passed' || d.action === 'release-failed',
  );
  const every = parseDuration(deps.config.rollout.checkEvery)! * 1000;
  return {
    comeBackInMs: moving ? (urgent ? 0 : every) : null,
    events: events.length,
    view: releaseViewOf(after, plan.target, connectors, now),
  };
}

/** False when an operator changed a release meanwhile: nothing written; the next pass sees it. */
async function saved(deps: PassDeps, writes: Release[], events: EventRow[]): Promise<boolean> {
  try {
    await deps.store.saveReleases(writes, events);
    return true;
  } catch (error) {
    if (!(error instanceof ReleaseChangedError)) throw error;
    deps.logger.info({ release: error.releaseId }, error.message);
    return false;
  }
}

function mergeLedger(ledger: Release[], writes: Release[]): Release[] {
  const byId = new Map(ledger.map((r) => [r.id, r]));
  for (const w of writes) byId.set(w.id, w);
  return [...byId.values()];
}

/** The first release the ledger sees is where the fleet already is: complete, nothing to roll back to. */
function baselineOf(plan: ReleasePlan, now: Date): Release {
  return {
    id: plan.target.id,
    name: plan.target.spec.release ?? plan.target.specHash.slice(0, 8),
    specHash: plan.target.specHash,
    spec: plan.target.spec,
    state: 'complete',
    previous: null,
    waves: [],
    wave: 0,
    members: [],
    waveFrom: 0,
    gate: null,
    reason: 'the release the fleet was on when the ledger began',
    startedAt: now,
    finishedAt: now,
    rolledBackAt: null,
    revision: 0,
    seq: 1,
  };
}

/**
 * Connectors whose deployment may not be on the release they are given yet:
 * a planned change that did not go, an earlier call not settled, a failing
 * connector in its backoff.
 */
function unwrittenConnectors(input: ReleaseStepInput): Set<string> {
  const applied = new Set(input.acted.applied.map((a) => a.change));
  const out = new Set<string>();
  for (const change of input.plan.changes)
    if (change.connectorId !== null && !applied.has(change)) out.add(change.connectorId);
  for (const id of input.judgement.waitingIds) out.add(id);
  for (const id of input.judgement.deferred.connectors) {
    const status = input.judgement.states.get(id)?.status;
    if (status === 'failed' || status === 'pending') out.add(id);
  }
  return out;
}

async function stepRollout(
  deps: PassDeps,
  release: Release,
  input: ReleaseStepInput & { unwritten: Set<string>; now: Date },
): Promise<Step> {
  const wave = waveMembers(release);
  const blocked = wave.filter((id) => input.unwritten.has(id));
  if (blocked.length > 0) {
    deps.logger.info(
      { release: release.id, blocked },
      `release ${release.id} ${waveLabel(release)}: waiting for ${blocked.length} connectors to be written`,
    );
    return { release, events: [] };
  }
  if (release.gate === null) return startGate(deps, release, wave, input);
  return judgeWave(deps, release, input);
}

/** Records the release each connector's deployment is on now (only those that moved). */
async function recordWhereConnectorsAre(
  deps: PassDeps,
  input: ReleaseStepInput,
  unwritten: Set<string>,
  writes: Release[],
): Promise<Map<string, number>> {
  const plan = input.judgement.releases;
  const baseline = writes.find((w) => w.previous === null && w.state === 'complete');
  const stored = await deps.store.readConnectorReleases();
  const problems = new Set(input.plan.problems.map((p) => p.connectorId));
  const on = new Map<string, string>();
  for (const row of input.judgement.validated.valid) {
    if (unwritten.has(row.id) || problems.has(row.id) || input.snapshot.suspensions.has(row.id))
      continue;
    const id = plan.assign(row.id).id ?? baseline?.id ?? null;
    if (id !== null && stored.get(row.id) !== id) on.set(row.id, id);
  }
  const live = new Set(input.snapshot.source.rows.filter((r) => !r.deleted).map((r) => r.id));
  const gone = [...stored.keys()].filter((id) => !live.has(id));
  await deps.store.recordConnectorReleases(on, gone);
  const now = new Map(stored);
  for (const id of gone) now.delete(id);
  for (const [id, release] of on) now.set(id, release);
  const counts = new Map<string, number>();
  for (const release of now.values()) counts.set(release, (counts.get(release) ?? 0) + 1);
  return counts;
}
