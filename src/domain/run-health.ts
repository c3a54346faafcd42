// Run health (docs/concepts/how-a-pass-works.md, "Run health"): `synced` says
// Prefect took the deployment we asked for, not that its runs work. A full pass
// reads each managed deployment's readiness (its listing) and its recent runs
// (one batched read), and this summarises them per connector. Pure.

/** What a connector's runs say, worst first (`paused` is judged before all: a paused deployment runs nothing). */
export const RUN_HEALTH_VERDICTS = [
  'failing',
  'late',
  'not-ready',
  'no-runs',
  'unknown',
  'paused',
  'healthy',
] as const;
export type RunHealthVerdict = (typeof RUN_HEALTH_VERDICTS)[number];

export const RUN_HEALTH_DESCRIPTIONS: Record<RunHealthVerdict, string> = {
  failing:
    'its last finished run failed or crashed, or at least half of its last runs did (whatever its sync status)',
  late: 'a run is still scheduled past its expected start: no worker picked it up',
  'not-ready': 'Prefect says NOT_READY: no worker has polled its work pool lately',
  'no-runs': 'no run expected within the lookback window',
  unknown:
    'none of its runs was among those read (the read stopped at runHealth.maxRuns): nothing is known',
  paused: 'its deployment is paused: nothing runs',
  healthy: 'its runs start and do not fail',
};

/** One flow run, as much of it as the summary reads. */
export interface RunSummary {
  deploymentId: string;
  /** Prefect's state type: SCHEDULED, PENDING, RUNNING, COMPLETED, FAILED, CRASHED, CANCELLED, … */
  stateType: string | null;
  /** The state's name (`Late`, `TimedOut`, `Completed`, …). */
  stateName: string | null;
  expectedStartTime: Date | null;
  startTime: Date | null;
}

/** A managed deployment, as the summary needs it. */
export interface WatchedDeployment {
  connectorId: string;
  deploymentId: string;
  paused: boolean;
  /** Prefect's deployment `status`: READY, NOT_READY, or null when it gave none. */
  readiness: string | null;
}

/** One connector's run health: one row of <schema>.run_health. */
export interface RunHealth {
  connectorId: string;
  deploymentId: string;
  readiness: string | null;
  health: RunHealthVerdict;
  /** The newest run expected to have started by now: its state and when it started (or was expected to). */
  lastRunState: string | null;
  lastRunStateType: string | null;
  lastRunAt: Date | null;
  /** Runs still SCHEDULED (Prefect's `Late` among them) more than LATE_AFTER_SECONDS past their expected start. */
  runsLate: number;
  /** Of the last `lastRuns` runs (`runsConsidered` of them found), those that FAILED or CRASHED. */
  failedRuns: number;
  runsConsidered: number;
}

/** A connector's run health as stored: with when the pass read it. */
export type CheckedRunHealth = RunHealth & { checkedAt: Date };

export interface RunHealthOptions {
  now: Date;
  /** N of "failed of the last N". */
  lastRuns: number;
  /** The read stopped at its cap: a connector none of whose runs were read is `unknown`, not `no-runs`. */
  truncated: boolean;
}

/** Prefect marks a run Late 15 s after its expected start; a scheduled run this much older is late here too. */
export const LATE_AFTER_SECONDS = 60;

const FAILED_TYPES = new Set(['FAILED', 'CRASHED']);
const FINISHED_TYPES = new Set(['COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED']);

/** Each deployment's run health, from the runs read (any order, any deployment). */
export function summariseRunHealth(
  deployments: readonly WatchedDeployment[],
  runs: readonly RunSummary[],
  options: RunHealthOptions,
): RunHealth[] {
  const byDeployment = new Map<string, RunSummary[]>();
  for (const run of runs) {
    // Only runs that should have started by now: Prefect keeps many future ones scheduled.
    if (!run.expectedStartTime || run.expectedStartTime > options.now) continue;
    const list = byDeployment.get(run.deploymentId) ?? [];
    list.push(run);
    byDeployment.set(run.deploymentId, list);
  }
  return deployments.map((d) =>
    healthOf(d, newestFirst(byDeployment.get(d.deploymentId) ?? []), options),
  );
}

function newestFirst(runs: RunSummary[]): RunSummary[] {
  return runs.sort((a, b) => b.expectedStartTime!.getTime() - a.expectedStartTime!.getTime());
}

function healthOf(d: WatchedDeployment, runs: RunSummary[], options: RunHealthOptions): RunHealth {
  const last = runs[0] ?? null;
  const recent = runs.slice(0, options.lastRuns);
  const failedRuns = recent.filter((r) => FAILED_TYPES.has(r.stateType ?? '')).length;
  const runsLate = runs.filter((r) => isLate(r, options.now)).length;
  const lastFinished = runs.find((r) => FINISHED_TYPES.has(r.stateType ?? '')) ?? null;
  const facts = {
    paused: d.paused,
    failing:
      (lastFinished !== null && FAILED_TYPES.has(lastFinished.stateType ?? '')) ||
      (failedRuns > 0 && failedRuns * 2 >= recent.length),
    late: runsLate > 0,
    notReady: d.readiness === 'NOT_READY',
    noRuns: runs.length === 0,
    truncated: options.truncated,
  };
  return {
    connectorId: d.connectorId,
    deploymentId: d.deploymentId,
    readiness: d.readiness,
    health: verdictOf(facts),
    lastRunState: last?.stateName ?? last?.stateType ?? null,
    lastRunStateType: last?.stateType ?? null,
    lastRunAt: last ? (last.startTime ?? last.expectedStartTime) : null,
    runsLate,
    failedRuns,
    runsConsidered: recent.length,
  };
}

/** A run still waiting to start well after it should have: Prefect's `Late`, or SCHEDULED and overdue. */
export function isLate(run: RunSummary, now: Date): boolean {
  if (run.stateType !== 'SCHEDULED' || !run.expectedStartTime) return false;
  if (run.stateName === 'Late') return true;
  return now.getTime() - run.expectedStartTime.getTime() > LATE_AFTER_SECONDS * 1000;
}

/**
 * Failing runs come first whatever else is true: a connector whose runs crash
 * is never shown as healthy. A paused deployment runs nothing, so its old
 * runs say nothing of it.
 */
function verdictOf(f: {
  paused: boolean;
  failing: boolean;
  late: boolean;
  notReady: boolean;
  noRuns: boolean;
  truncated: boolean;
}): RunHealthVerdict {
  if (f.paused) return 'paused';
  if (f.failing) return 'failing';
  if (f.late) return 'late';
  if (f.notReady) return 'not-ready';
  if (f.noRuns) return f.truncated ? 'unknown' : 'no-runs';
  return 'healthy';
}

/** Connectors per verdict (every verdict present, 0 when none) and the late runs in all: the gauges. */
export function runHealthTotals(rows: readonly RunHealth[]): {
  byHealth: Record<RunHealthVerdict, number>;
  runsLate: number;
} {
  const byHealth = Object.fromEntries(RUN_HEALTH_VERDICTS.map((v) => [v, 0])) as Record<
    RunHealthVerdict,
    number
  >;
  let runsLate = 0;
  for (const row of rows) {
    byHealth[row.health]++;
    runsLate += row.runsLate;
  }
  return { byHealth, runsLate };
}
