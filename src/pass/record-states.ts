import {
  failedEvent,
  heldEvent,
  recoveredEvent,
  type ConnectorSubject,
} from '../domain/connector-events.js';
import type { EventDraft, RelatedContext } from '../domain/events.js';
import { connectorIdOf } from '../domain/plan.js';
import type { Deployment } from '../domain/types.js';
import type { PassDeps } from './context.js';
import { eventRow } from './event-row.js';
import { statesAfterPass, type AfterPassInput } from '../domain/states-after-pass.js';

/**
 * Writes the state of every connector the pass judged, with the events of
 * what happened to connectors rather than deployments: one per new problem
 * (and one WARN line), one per recovery, one per connector newly held back.
 * Returns the number of events written.
 */
export async function recordStates(
  deps: PassDeps,
  passId: string,
  input: AfterPassInput,
  context: RelatedContext,
): Promise<number> {
  const { states, newProblems, recovered, newlyHeld } = statesAfterPass(input);
  const subject = subjects(input.managed, input.configTags, context);
  const drafts: EventDraft[] = [
    ...newProblems.map((problem) => {
      deps.logger.warn(
        { connector: problem.connectorId, status: problem.status, problem: problem.message },
        `connector ${problem.connectorId} is ${problem.status}`,
      );
      return failedEvent(problem, subject(problem.connectorId));
    }),
    ...recovered.map(({ connectorId, from }) => {
      deps.logger.info(
        { connector: connectorId, from: from.status },
        `connector ${connectorId} recovered`,
      );
      return recoveredEvent(
        { id: connectorId, name: nameOf(input, connectorId) },
        from,
        subject(connectorId),
      );
    }),
    // A source that looks broken is one event about the source (source-check.ts), not one per connector.
    ...(input.plan.heldDeletes?.rule === 'source-shrank'
      ? []
      : newlyHeld.map((held) => heldEvent(held, subject(held.connectorId)))),
  ];
  const events = drafts.map((draft) => eventRow(deps, draft, passId, input.now));
  if (events.length > 0 || states.length > 0) await deps.store.appendEvents(events, states);
  return events.length;
}

/** A connector's deployment (as listed this pass) and what it relates to, for its events. */
function subjects(
  managed: Deployment[],
  configTags: string[],
  context: RelatedContext,
): (connectorId: string) => ConnectorSubject {
  const byConnector = new Map<string, Deployment>();
  for (const d of managed) {
    const id = connectorIdOf(d, configTags);
    if (id !== null) byConnector.set(id, d);
  }
  return (connectorId) => ({ deployment: byConnector.get(connectorId) ?? null, context });
}

function nameOf(input: AfterPassInput, connectorId: string): string | null {
  for (const change of input.plan.changes)
    if (change.connectorId === connectorId)
      return change.action === 'create' ? change.spec.connectorName : change.connectorName;
  return null;
}
