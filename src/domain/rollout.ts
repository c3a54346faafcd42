import { CronExpressionParser } from 'cron-parser';
import {
  inProgress,
  lastGood,
  waveCount,
  waveLabel,
  type Gate,
  type Release,
  type ReleaseSpec,
  type WaveTarget,
} from './release.js';

// How a release moves through its waves (docs/concepts/releases.md): pure.
// The pass's release step (pass/releases.ts) reads what these judge by and
// writes what they decide.

/** What the rollout settings say, read once from the configuration. */
export interface RolloutRules {
  waves: WaveTarget[];
  verify: 'trigger' | 'scheduled' | 'none';
  canaries: string[];
  maxFailedRuns: number;
  gateTimeoutMs: number;
}

/** A connector as the canary choice sees it. */
export interface Candidate {
  connectorId: string;
  active: boolean;
  suspended: boolean;
  /** How often its schedule fires in a day (0 without one). */
  runsPerDay: number;
  /** Its last finished run on the current release completed; null when none is known. */
  lastRunCompleted: boolean | null;
}

/** A flow run as a gate judges it. */
export interface GateRunView {
  id: string;
  deploymentId: string | null;
  stateType: string | null;
  stateName: string | null;
  message: string | null;
  deploymentVersion: string | null;
  expectedStart: Date | null;
}

const FINISHED_BAD = new Set(['FAILED', 'CRASHED', 'CANCELLED']);

/** Runs a day of a cron, counted over the next day and capped (a minutely one is 1440). */
export function runsPerDay(cron: string | null, timezone: string, now: Date): number {
  if (!cron) return 0;
  try {
    const it = CronExpressionParser.parse(cron, { currentDate: now, tz: timezone });
    const end = now.getTime() + 86_400_000;
    let n = 0;
    while (n < 1440 && it.next().toDate().getTime() <= end) n++;
    return n;
  } catch {
    return 0;
  }
}

/**
 * The order connectors join a release: the configured canaries first, then
 * active connectors whose last run completed, most frequent schedules first;
 * then the other active ones; inactive and suspended ones last.
 */
export function canaryOrder(candidates: Candidate[], canaries: string[]): string[] {
  const byId = new Map(candidates.map((c) => [c.connectorId, c]));
  const first = canaries.filter((id) => byId.has(id));
  const chosen = new Set(first);
  const rank = (c: Candidate): number =>
    c.suspended ? 3 : !c.active ? 2 : c.lastRunCompleted === true ? 0 : 1;
  const rest = candidates
    .filter((c) => !chosen.has(c.connectorId))
    .sort(
      (a, b) =>
        rank(a) - rank(b) ||
        b.runsPerDay - a.runsPerDay ||
        a.connectorId.localeCompare(b.connectorId, 'en', { numeric: true }),
    )
    .map((c) => c.connectorId);
  return [...first, ...rest];
}

/** A release (new, or retried) at the start of its first wave, with no connector yet. */
export function fromTheFirstWave(
  now: Date,
): Pick<
  Release,
  | 'state'
  | 'wave'
  | 'members'
  | 'waveFrom'
  | 'gate'
  | 'reason'
  | 'startedAt'
  | 'finishedAt'
  | 'rolledBackAt'
> {
  return {
    state: 'rolling-out',
    wave: 0,
    members: [],
    waveFrom: 0,
    gate: null,
    reason: null,
    startedAt: now,
    finishedAt: null,
    rolledBackAt: null,
  };
}

/** A new release, its first wave chosen from `order`; the one in progress (if any) is superseded. */
export function startRelease(input: {
  id: string;
  specHash: string;
  spec: ReleaseSpec;
  ledger: Release[];
  order: string[];
  rules: RolloutRules;
  now: Date;
}): { release: Release; superseded: Release | null } {
  const { ledger, rules, now } = input;
  const fresh: Release = {
    id: input.id,
    name: input.spec.release ?? input.specHash.slice(0, 8),
    specHash: input.specHash,
    spec: input.spec,
    previous: lastGood(ledger)?.id ?? null,
    waves: rules.waves,
    ...fromTheFirstWave(now),
    revision: 0,
    seq: Math.max(0, ...ledger.map((r) => r.seq)) + 1,
  };
  const current = inProgress(ledger);
  const superseded: Release | null = current
    ? { ...current, state: 'superseded', finishedAt: now, reason: `superseded by ${fresh.id}` }
    : null;
  return { release: topUp(fresh, input.order), superseded };
}

/**
 * A rolling-out release whose wave in progress has fewer connectors than its
 * target (just started, promoted, retried, or the fleet grew) gets them from
 * `order`; one whose runs are being verified keeps its wave as it is.
 */
export function topUp(release: Release, order: string[]): Release {
  if (release.state !== 'rolling-out' || release.gate !== null) return release;
  const want = waveCount(release.waves[release.wave]!, order.length);
  if (release.members.length >= want) return release;
  const have = new Set(release.members);
  const added = order.filter((id) => !have.has(id)).slice(0, want - release.members.length);
  return added.length === 0 ? release : { ...release, members: [...release.members, ...added] };
}

/** The connectors of the wave in progress. */
export function waveMembers(release: Release): string[] {
  return release.members.slice(release.waveFrom);
}

/**
 * After a wave passed: the next one, its connectors from `order` (complete
 * after the last). A wave that would add nobody (a small fleet: 10 % of 5 is
 * the canary already) is skipped.
 */
export function nextWave(release: Release, order: string[], now: Date): Release {
  if (release.wave + 1 >= release.waves.length)
    return { ...release, state: 'complete', gate: null, finishedAt: now };
  const next = topUp(
    { ...release, wave: release.wave + 1, waveFrom: release.members.length, gate: null },
    order,
  );
  return next.members.length === release.members.length ? nextWave(next, order, now) : next;
}

export type GateVerdict =
  | { verdict: 'waiting'; finished: number; of: number }
  | { verdict: 'passed' }
  | { verdict: 'failed'; reason: string; runId: string | null };

/**
 * A wave's gate, judged by its runs: it fails on more than `maxFailedRuns`
 * runs that failed, crashed or were cancelled, or when not every run has
 * finished within the timeout (naming the pools no worker polls); it passes
 * when every run completed.
 */
export function judgeGate(
  gate: Gate,
  runs: GateRunView[],
  rules: Pick<RolloutRules, 'maxFailedRuns' | 'gateTimeoutMs'>,
  context: { now: Date; releaseId: string; idlePools: string[] },
): GateVerdict {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const seen = gate.runs.flatMap((g) =>
    g.flowRunId && byId.has(g.flowRunId) ? [byId.get(g.flowRunId)!] : [],
  );
  const bad = seen.filter((r) => FINISHED_BAD.has(r.stateType ?? ''));
  if (bad.length > rules.maxFailedRuns) {
    const run = bad[0]!;
    const said = run.message ? `: ${run.message}` : '';
    return {
      verdict: 'failed',
      runId: run.id,
      reason: `run ${run.id} of ${context.releaseId} ended ${run.stateName ?? run.stateType}${said}`,
    };
  }
  const finished = seen.filter(
    (r) => r.stateType === 'COMPLETED' || FINISHED_BAD.has(r.stateType ?? ''),
  );
  if (finished.length === gate.runs.length) return { verdict: 'passed' };
  if (context.now.getTime() - gate.startedAt.getTime() < rules.gateTimeoutMs)
    return { verdict: 'waiting', finished: finished.length, of: gate.runs.length };
  const pools = context.idlePools.map((p) => `no worker has polled pool ${p}`).join('; ');
  return {
    verdict: 'failed',
    runId: null,
    reason: `${finished.length} of ${gate.runs.length} runs of wave ${gate.wave + 1} finished within the gate timeout${pools ? ` (${pools})` : ''}`,
  };
}

/** A line for logs and `releases`: where a release stands. */
export function describeProgress(release: Release): string {
  if (release.state !== 'rolling-out' && release.state !== 'paused') return release.state;
  const gate = release.gate ? `, verifying ${release.gate.runs.length} runs` : ', writing';
  return `${release.state}: ${waveLabel(release)} (${release.members.length} connectors)${gate}`;
}
