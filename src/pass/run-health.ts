import type { Applied, Deployment } from '../domain/types.js';
import { connectorIdOf } from '../domain/plan.js';
import { parseDuration } from '../domain/duration.js';
import { coerceError, LeadershipLostError } from '../domain/errors.js';
import {
  runHealthTotals,
  summariseRunHealth,
  type RunHealthVerdict,
  type WatchedDeployment,
} from '../domain/run-health.js';
import type { PassDeps, PassOptions } from './context.js';

// Step 7 of a full pass that may write, after act: run health. Whether each
// managed deployment runs right — its readiness (already in the listing) and
// its recent runs, read in ONE batched, capped read (domain/run-health.ts
// summarises; <schema>.run_health keeps it). It changes nothing in Prefect and
// decides nothing: a read that fails is a WARN, the last pass's reading stays.

/** What a pass found of its deployments' runs (for the gauges). */
export interface RunHealthFound {
  byHealth: Record<RunHealthVerdict, number>;
  runsLate: number;
  /** Runs read, and whether the read stopped at runHealth.maxRuns. */
  runs: number;
  truncated: boolean;
}

export interface RunHealthInput {
  /** The managed deployments the pass listed. */
  managed: Deployment[];
  /** What the pass changed: deletes leave, creates arrive, updates replace. */
  applied: Applied[];
  options: PassOptions;
}

/** Null when the pass does not check run health (targeted, dry run, off) or the read failed. */
export async function checkRunHealth(
  deps: PassDeps,
  input: RunHealthInput,
): Promise<RunHealthFound | null> {
  const { config } = deps;
  if (!config.runHealth.enabled || input.options.dryRun || input.options.scope) return null;
  const now = deps.now();
  const since = new Date(now.getTime() - parseDuration(config.runHealth.lookback)! * 1000);
  try {
    const { runs, truncated } = await deps.prefect.readRecentRuns(config.ownership.managedTag, {
      since,
      until: now,
      max: config.runHealth.maxRuns,
    });
    const rows = summariseRunHealth(watched(deps, input), runs, {
      now,
      lastRuns: config.runHealth.lastRuns,
      truncated,
    });
    await input.options.guard?.();
    await deps.store.recordRunHealth(rows, now);
    if (truncated)
      deps.logger.warn(
        { runs: runs.length, maxRuns: config.runHealth.maxRuns },
        'run health: the runs read stopped at runHealth.maxRuns; connectors none of whose runs were read are unknown',
      );
    return { ...runHealthTotals(rows), runs: runs.length, truncated };
  } catch (error) {
    if (error instanceof LeadershipLostError) throw error;
    deps.logger.warn(
      { err: coerceError(error) },
      "could not read the deployments' runs; run health stays as the last pass left it",
    );
    return null;
  }
}

/** The deployments after the pass, one a connector (the first listed when a connector has several). */
function watched(deps: PassDeps, input: RunHealthInput): WatchedDeployment[] {
  const { config } = deps;
  const after = new Map(input.managed.map((d) => [d.id, d]));
  for (const { change, result } of input.applied) {
    if (change.action === 'delete') after.delete(change.deployment.id);
    else if (result) after.set(result.id, { ...after.get(result.id), ...result });
  }
  const configTags = [...config.deployment.tags, config.ownership.managedTag];
  const byConnector = new Map<string, WatchedDeployment>();
  for (const d of after.values()) {
    const connectorId = connectorIdOf(d, configTags);
    if (connectorId === null || byConnector.has(connectorId)) continue;
    byConnector.set(connectorId, {
      connectorId,
      deploymentId: d.id,
      paused: d.paused,
      readiness: d.status ?? null,
    });
  }
  return [...byConnector.values()];
}
