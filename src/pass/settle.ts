import { eventForChange } from '../domain/events.js';
import { eventRow } from './event-row.js';
import type { PassDeps } from './context.js';
import { stateAfter, type ConnectorState } from '../domain/connector-state.js';
import type { IntentSettlement } from './judge.js';

/**
 * Writes what the decide step read off Prefect for each open intent old
 * enough to settle: the event of a change that took effect (with the states
 * it leads to, atomically), nothing for one that did not (the intent goes).
 */
export async function confirmSettlements(
  deps: PassDeps,
  settlements: IntentSettlement[],
  states: Map<string, ConnectorState>,
): Promise<{ tookEffect: number; didNot: number }> {
  let tookEffect = 0;
  const current = new Map(states);
  for (const { intent, settlement } of settlements) {
    if (!settlement.tookEffect) {
      await deps.store.dropIntent(intent.id);
      continue;
    }
    const draft = eventForChange(settlement.change, settlement.result, intent.context);
    const event = eventRow(deps, draft, intent.passId, deps.now());
    const next = stateAfter(settlement.change, settlement.result, current, deps.now());
    if (!(await deps.store.confirmIntent(intent.id, event, next))) continue;
    tookEffect++;
    for (const s of next) current.set(s.connectorId, s);
  }
  return { tookEffect, didNot: settlements.length - tookEffect };
}
