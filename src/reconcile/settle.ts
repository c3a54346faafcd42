import { eventForChange, type EventRow } from '../core/events.js';
import { settleIntent, viewOf } from '../core/settle.js';
import type { Deployment } from '../core/types.js';
import { confirmIntent, dropIntent, openIntents } from '../db/eventlog.js';
import type { ConnectorState } from '../db/state.js';
import { stateAfter } from './apply.js';
import type { PassDeps } from './context.js';

/** Intents left open by a crash or an unknown outcome: an event for what took effect, nothing for the rest. */
export async function settleLeftovers(
  deps: PassDeps,
  passId: string,
  managed: Deployment[],
  flowId: string | null,
  states: Map<string, ConnectorState>,
  /** A targeted pass settles only its connectors' intents: its listing covers nothing else. */
  scope: Set<string> | null,
): Promise<{ tookEffect: number; didNot: number }> {
  const schema = deps.config.database.schema;
  const intents = (await openIntents(deps.pool, schema)).filter(
    (intent) =>
      scope === null ||
      (intent.change.connectorId !== null && scope.has(intent.change.connectorId)),
  );
  const view = viewOf(managed);
  let tookEffect = 0;
  for (const intent of intents) {
    const settlement = settleIntent(intent.change, intent.flowId ?? flowId, view);
    if (settlement.outcome === 'did-not-take-effect') {
      await dropIntent(deps.pool, schema, intent.id);
      continue;
    }
    const draft = eventForChange(settlement.change, settlement.result, intent.context);
    const event: EventRow = {
      ...draft,
      id: deps.newId(),
      occurred: deps.now(),
      pass_id: intent.passId,
    };
    const next = stateAfter(settlement.change, settlement.result, states, deps.now());
    if (await confirmIntent(deps.pool, schema, intent.id, event, next)) {
      tookEffect++;
      for (const s of next) states.set(s.connectorId, s);
    }
  }
  if (intents.length > 0) {
    deps.logger.info(
      { pass: passId, open: intents.length, tookEffect },
      'settled leftover intents',
    );
  }
  return { tookEffect, didNot: intents.length - tookEffect };
}
