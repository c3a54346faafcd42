import { judgeGate, nextWave, waveMembers, type GateRunView } from '../domain/rollout.js';
import { waveLabel, type Gate, type Release } from '../domain/release.js';
import type { PassDeps } from './context.js';
import { rolloutRulesOf } from './settings.js';
import { connectorIdOf } from '../domain/plan.js';
import type { ReleaseAction } from '../domain/events.js';
import type { Deployment, Plan } from '../domain/types.js';
import type { Acted } from './act.js';
import type { Judgement } from './judge.js';
import type { Snapshot } from './observe.js';

// The gate of a wave (docs/concepts/releases.md, "A wave passes on
// evidence"): once every connector of the wave is written, its runs are asked
// for (verify: trigger) or looked for (verify: scheduled), then judged on
// each later full pass until the wave passes or fails.

/** The tag of the runs a wave is judged by. */
export const releaseRunTag = (releaseId: string) => `connector-sync-release:${releaseId}`;

export interface ReleaseStepInput {
  passId: string;
  snapshot: Snapshot;
  judgement: Judgement;
  plan: Plan;
  acted: Acted;
  /** The ledger as this process last wrote it (startReleases). */
  ledger: Release[];
}

export type Step = {
  release: Release;
  events: {
    action: ReleaseAction;
    id: string;
    payload: Record<string, unknown>;
    runs?: string[];
  }[];
};

/** Connector id → its deployment after this pass (created ones included). */
export function deploymentsAfter(
  input: ReleaseStepInput,
  configTags: string[],
): Map<string, Deployment> {
  const byConnector = new Map<string, Deployment>();
  for (const d of input.snapshot.managed) {
    const id = connectorIdOf(d, configTags);
    if (id !== null) byConnector.set(id, d);
  }
  for (const a of input.acted.applied)
    if (a.result && a.change.connectorId !== null) byConnector.set(a.change.connectorId, a.result);
  return byConnector;
}

export async function startGate(
  deps: PassDeps,
  release: Release,
  wave: string[],
  input: ReleaseStepInput & { now: Date },
): Promise<Step> {
  const { verify } = deps.config.rollout;
  const configTags = [...deps.config.deployment.tags, deps.config.ownership.managedTag];
  const deployments = deploymentsAfter(input, configTags);
  const active = new Set(
    input.judgement.validated.valid.filter((r) => r.isActive).map((r) => r.id),
  );
  const judged = wave.flatMap((id) => {
    const d = deployments.get(id);
    return d && active.has(id) && !input.snapshot.suspensions.has(id)
      ? [{ connectorId: id, deploymentId: d.id }]
      : [];
  });
  if (verify === 'none' || judged.length === 0) return wavePassed(deps, release, input, []);
  const runs: Gate['runs'] = [];
  for (const { connectorId, deploymentId } of judged)
    runs.push({
      connectorId,
      deploymentId,
      flowRunId:
        verify === 'trigger'
          ? await deps.prefect.createFlowRun(
              deploymentId,
              [releaseRunTag(release.id)],
              `connector-sync-release:${release.id}:${release.wave}:${connectorId}`,
            )
          : null,
    });
  deps.logger.info(
    { release: release.id, runs: runs.map((r) => r.flowRunId) },
    `release ${release.id} ${waveLabel(release)} written: verifying ${runs.length} runs (${verify})`,
  );
  return {
    release: { ...release, gate: { wave: release.wave, startedAt: input.now, runs } },
    events: [],
  };
}

export async function judgeWave(
  deps: PassDeps,
  release: Release,
  input: ReleaseStepInput & { now: Date },
): Promise<Step> {
  const gate = await discoverScheduledRuns(deps, release, release.gate!);
  const known = gate.runs.flatMap((r) => (r.flowRunId ? [r.flowRunId] : []));
  const views = known.length > 0 ? await deps.prefect.readFlowRuns({ ids: known }) : [];
  const rules = rolloutRulesOf(deps.config);
  const context = { now: input.now, releaseId: release.id, idlePools: [] as string[] };
  let verdict = judgeGate(gate, views, rules, context);
  if (verdict.verdict === 'failed' && verdict.runId === null)
    verdict = judgeGate(gate, views, rules, {
      ...context,
      idlePools: await idlePools(deps, release),
    });
  const states = new Map(views.map((v) => [v.id, v.stateType]));
  const withGate = {
    ...release,
    gate: {
      ...gate,
      runs: gate.runs.map((r) => ({
        ...r,
        state: (r.flowRunId && states.get(r.flowRunId)) ?? r.state ?? null,
      })),
    },
  };
  if (verdict.verdict === 'waiting') return { release: withGate, events: [] };
  if (verdict.verdict === 'passed') return wavePassed(deps, withGate, input, known);
  deps.logger.error(
    { release: release.id, reason: verdict.reason },
    `release ${release.id} failed`,
  );
  return {
    release: { ...withGate, state: 'failed', reason: verdict.reason, finishedAt: input.now },
    events: [
      {
        action: 'release-failed',
        id: release.id,
        payload: { wave: release.wave + 1, reason: verdict.reason, run: verdict.runId },
        runs: known,
      },
    ],
  };
}

/** `verify: scheduled`: each connector's first run of the new version since the wave was written. */
async function discoverScheduledRuns(deps: PassDeps, release: Release, gate: Gate): Promise<Gate> {
  const missing = gate.runs.filter((r) => r.flowRunId === null);
  if (missing.length === 0) return gate;
  const runs: GateRunView[] = await deps.prefect.readFlowRuns({
    deploymentIds: missing.map((r) => r.deploymentId),
    after: gate.startedAt,
  });
  const ofRelease = runs.filter((r) => r.deploymentVersion?.startsWith(`${release.name}+`));
  return {
    ...gate,
    runs: gate.runs.map((g) =>
      g.flowRunId !== null
        ? g
        : { ...g, flowRunId: ofRelease.find((r) => r.deploymentId === g.deploymentId)?.id ?? null },
    ),
  };
}

/** The work pools of the release that no worker has polled lately (Prefect says NOT_READY). */
async function idlePools(deps: PassDeps, release: Release): Promise<string[]> {
  const idle: string[] = [];
  const status = await deps.prefect.workPoolStatus(release.spec.workPoolName);
  if (status !== 'READY') idle.push(release.spec.workPoolName);
  return idle;
}

export function wavePassed(
  deps: PassDeps,
  release: Release,
  input: ReleaseStepInput & { now: Date },
  runs: string[],
): Step {
  const next = nextWave(release, input.judgement.releases.order, input.now);
  const passed = {
    action: 'release-wave-passed' as const,
    id: release.id,
    payload: {
      wave: release.wave + 1,
      connectors: waveMembers(release),
      verify: deps.config.rollout.verify,
      ...(next.state === 'complete' ? {} : { next: waveMembers(next) }),
    },
    runs,
  };
  deps.logger.info(
    { release: release.id, runs },
    `release ${release.id} ${waveLabel(release)} passed`,
  );
  if (next.state !== 'complete') return { release: next, events: [passed] };
  deps.logger.info({ release: release.id }, `release ${release.id} complete`);
  return {
    release: next,
    events: [
      passed,
      {
        action: 'release-completed',
        id: release.id,
        payload: { waves: release.waves, connectors: release.members.length },
      },
    ],
  };
}
