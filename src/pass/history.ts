import { passEvent } from '../domain/connector-events.js';
import { SHUTTING_DOWN } from './apply.js';
import { coerceError, LeadershipLostError } from '../domain/errors.js';
import { callsSince } from './log.js';
import type { PassDeps, PassOptions } from './context.js';
import { eventRow } from './event-row.js';
import { passWithoutSummary, runPass } from './run.js';
import type { PassRecord } from '../domain/pass-record.js';
import { logPassFinished } from './log.js';
import { type PassResult, verdictOf } from './result.js';
import { InstallationRefused } from './installation.js';
import { failureText } from '../prefect/errors.js';

/**
 * A pass as the CLI and the worker run it. A real pass has its history: one
 * row in <schema>.passes however it ends (but for an installation refused
 * before it began), and an event (`pass-failed`, `pass-aborted`) when it failed or was cut
 * short, so the sinks tell ops. A dry run writes nothing, as ever. Writing
 * the history never fails a pass: a Postgres that is down is logged.
 */
export async function runRecordedPass(deps: PassDeps, options: PassOptions): Promise<PassResult> {
  if (options.dryRun) return runPass(deps, options);
  const passId = options.passId ?? deps.newId();
  const startedAt = deps.now();
  const callsBefore = deps.prefect.callCounts();
  const kind = options.scope ? 'targeted' : 'full';
  let result: PassResult;
  try {
    result = await passWithoutSummary(deps, { ...options, passId });
  } catch (error) {
    // Refused before it began: not a pass of this installation, so no history and no event.
    if (error instanceof InstallationRefused) throw error;
    const err = coerceError(error);
    const calls = callsSince(deps.prefect.callCounts(), callsBefore);
    // Another replica leads now and carries on: a handover, not a failure.
    const handedOver = error instanceof LeadershipLostError;
    await remember(deps, {
      id: passId,
      startedAt,
      kind,
      result: handedOver ? 'aborted' : 'error',
      calls,
      error: failureText(err),
      news: !handedOver,
    });
    throw error;
  }
  await remember(deps, {
    id: passId,
    startedAt,
    kind,
    result: verdictOf(result),
    calls: result.calls,
    error: result.aborted,
    changes: countByAction(result),
    problems: result.plan.problems.length + result.failures.length,
    events: result.events,
    // A pass the worker's own shutdown cut short is no news for ops.
    news: result.aborted !== null && result.aborted !== SHUTTING_DOWN,
  });
  logPassFinished(deps.logger, result, options);
  return result;
}

type Ending = Pick<PassRecord, 'id' | 'startedAt' | 'kind' | 'result' | 'error'> &
  Partial<Pick<PassRecord, 'changes' | 'problems' | 'events'>> & {
    calls: { reads: number; writes: number };
    /** Whether ops hear of it: a `pass-failed` / `pass-aborted` event. */
    news: boolean;
  };

async function remember(deps: PassDeps, ending: Ending): Promise<void> {
  const finishedAt = deps.now();
  const durationMs = finishedAt.getTime() - ending.startedAt.getTime();
  const { news, ...rest } = ending;
  const record: PassRecord = {
    changes: {},
    problems: 0,
    events: 0,
    ...rest,
    calls: { reads: ending.calls.reads, writes: ending.calls.writes },
    finishedAt,
    durationMs,
  };
  try {
    await deps.store.recordPass(record);
    if (news) {
      const draft = passEvent({
        id: record.id,
        kind: record.kind,
        outcome: record.result === 'error' ? 'failed' : 'aborted',
        error: record.error ?? '',
        durationMs,
      });
      await deps.store.appendEvents([eventRow(deps, draft, record.id, finishedAt)], []);
    }
  } catch (error) {
    deps.logger.warn(
      { err: coerceError(error), pass: record.id },
      'could not record the pass in its history',
    );
  }
}

function countByAction(result: PassResult): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { change } of result.applied) counts[change.action] = (counts[change.action] ?? 0) + 1;
  return counts;
}
