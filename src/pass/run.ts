import { act, type Acted } from './act.js';
import type { PassDeps, PassOptions } from './context.js';
import { decide } from './decide.js';
import { judge } from './judge.js';
import { callsSince, logDecision, logPassFinished } from './log.js';
import { observe } from './observe.js';
import type { PassResult } from './result.js';
import type { CallCounts } from '../prefect/http.js';
import { lookUpStrangers } from './strangers.js';
import { checkWorkPools } from './work-pools.js';
import { advanceReleases, startReleases } from './releases.js';
import { checkRunHealth } from './run-health.js';

// One reconcile pass, its steps in the order they run
// (docs/concepts/how-a-pass-works.md):
//
//   1. observe     read both sides: the rows, our state, open intents and
//                  suspensions, the managed deployments; then, once per
//                  process, that this installation's name is its own
//                                                 observe.ts, installation.ts
//   2. judge       pure: settle or wait on open intents, validate the rows,
//                  their desired specs, the connectors deferred     judge.ts
//   3. strangers   read deployments not ours with a name a create
//                  wants (only when a create is planned)         strangers.ts
//   4. decide      pure: the plan — changes, holds, problems       decide.ts
//   5. work pools  read the pools the plan's writes use; drop the
//                  writes to pools that do not exist          work-pools.ts
//   6. act         settle, mark pending, apply, write states and
//                  events, write deployment ids back                  act.ts
//   7. releases    a full pass: move the release in progress on —
//                  start its wave's gate, judge it by its runs, pass
//                  or fail the wave; record each connector's release
//                                                           releases.ts
//   8. run health  a full pass only: one batched read of the managed
//                  deployments' recent runs, kept per connector  run-health.ts
//
// Level-triggered: it looks at the whole state every time, so running it
// twice changes nothing the second time. A dry run (plan) stops after 5.

const NOTHING_DONE: Acted = {
  settled: { tookEffect: 0, didNot: 0 },
  applied: [],
  failures: [],
  aborted: null,
  events: 0,
};

/**
 * One name, one installation (installation.ts): checked once per process, after
 * the first reads (a wrong URL or refused credentials are said as such) and
 * before anything is decided or written. Its calls are not the pass's: they
 * are returned, to be left out of the pass's counts.
 */
async function claimInstallation(deps: PassDeps, options: PassOptions): Promise<CallCounts> {
  if (!deps.installation) return NO_CALLS;
  const before = deps.prefect.callCounts();
  await deps.installation.ensure(!options.dryRun);
  return callsSince(deps.prefect.callCounts(), before);
}

const NO_CALLS: CallCounts = { reads: 0, writes: 0, byRoute: {} };

/** One reconcile pass, with its closing "pass finished" line. */
export async function runPass(deps: PassDeps, options: PassOptions): Promise<PassResult> {
  const result = await passWithoutSummary(deps, options);
  logPassFinished(deps.logger, result, options);
  return result;
}

/**
 * The pass without its closing "pass finished" line, for a caller with more
 * to do first (history.ts writes the history): that line is the last word.
 */
export async function passWithoutSummary(
  deps: PassDeps,
  options: PassOptions,
): Promise<PassResult> {
  const started = Date.now();
  const passId = options.passId ?? deps.newId();
  const log = deps.logger.child({ pass: passId });
  const callsBefore = deps.prefect.callCounts();

  const snapshot = await observe(deps, options.scope);
  const claimCalls = await claimInstallation(deps, options);
  const judgement = judge(snapshot, deps.config, options, deps.now());
  const strangers = await lookUpStrangers(deps, snapshot.flowId, judgement.lookups);
  const decided = decide(judgement, snapshot, strangers, deps.config, options);
  const { plan, workPools } = await checkWorkPools(deps, decided, judgement.settings.workPoolName);
  logDecision(log, judgement, plan, options);

  const ledger = options.dryRun
    ? snapshot.releases
    : await startReleases(
        { ...deps, logger: log },
        { passId, judgement, read: snapshot.releases },
        options.guard,
      );
  const acted = options.dryRun
    ? NOTHING_DONE
    : await act(
        { ...deps, logger: log },
        { passId, snapshot, judgement, plan, options, workPools: [...workPools.values()] },
      );
  const releases =
    options.dryRun || options.scope || acted.aborted
      ? null
      : await advanceReleases(
          { ...deps, logger: log },
          { passId, snapshot, judgement, plan, acted, ledger },
        );
  const runHealth = acted.aborted
    ? null
    : await checkRunHealth(deps, { managed: snapshot.managed, applied: acted.applied, options });
  const result: PassResult = {
    passId,
    dryRun: options.dryRun,
    plan,
    ...acted,
    events: acted.events + (releases?.events ?? 0),
    releaseComeBackInMs: releases?.comeBackInMs ?? null,
    releases: releases?.view ?? null,
    runHealth,
    waiting: judgement.waiting,
    calls: callsSince(deps.prefect.callCounts(), callsBefore, claimCalls),
    durationMs: Date.now() - started,
  };
  return result;
}
