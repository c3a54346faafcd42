import { failedEvent, type EventRow } from '../core/events.js';
import type { PassDeps } from './context.js';
import { connectorOutcome, type OutcomeInput } from './outcome.js';

/**
 * Writes the state of every connector the pass judged, with one failure event
 * (and one WARN line) per new problem. Returns the number of events written.
 */
export async function recordStates(
  deps: PassDeps,
  passId: string,
  input: OutcomeInput,
): Promise<number> {
  const { states, newProblems } = connectorOutcome(input);
  const events: EventRow[] = newProblems.map((problem) => {
    deps.logger.warn(
      { connector: problem.connectorId, status: problem.status, problem: problem.message },
      `connector ${problem.connectorId} is ${problem.status}`,
    );
    return { ...failedEvent(problem), id: deps.newId(), occurred: input.now, pass_id: passId };
  });
  if (events.length > 0 || states.length > 0) await deps.store.appendEvents(events, states);
  return events.length;
}
