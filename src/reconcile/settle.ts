import { eventForChange, type EventRow } from '../core/events.js';
import {
  ripeIntents,
  settleAfterMs,
  settleIntent,
  viewOf,
  waitingMessage,
} from '../core/settle.js';
import type { Deployment } from '../core/types.js';
import { confirmIntent, databaseNow, dropIntent, openIntents } from '../db/eventlog.js';
import type { ConnectorState } from '../db/state.js';
import { stateAfter } from './apply.js';
import type { PassDeps } from './context.js';

/** An open intent too young to settle: a call of ours may still be writing it into Prefect. */
export interface Waiting {
  connectorId: string | null;
  /** The deployment it changes (none for a create). */
  deploymentId: string | null;
  message: string;
  /** How long until it may be settled. */
  inMs: number;
}

export interface Settled {
  tookEffect: number;
  didNot: number;
  waiting: Waiting[];
}

/**
 * Intents left open by a crash or an unknown outcome: an event for what took
 * effect, nothing for the rest. An intent younger than `settleAfterMs` is left
 * open: its connector is not touched this pass (see core/settle.ts).
 */
export async function settleLeftovers(
  deps: PassDeps,
  passId: string,
  managed: Deployment[],
  flowId: string | null,
  states: Map<string, ConnectorState>,
  /** A targeted pass settles only its connectors' intents: its listing covers nothing else. */
  scope: Set<string> | null,
): Promise<Settled> {
  const schema = deps.config.database.schema;
  const open = (await openIntents(deps.pool, schema)).filter(
    (intent) =>
      scope === null ||
      (intent.change.connectorId !== null && scope.has(intent.change.connectorId)),
  );
  if (open.length === 0) return { tookEffect: 0, didNot: 0, waiting: [] };
  const now = await databaseNow(deps.pool);
  const { ripe, waiting } = ripeIntents(open, now, settleAfterMs(deps.config.prefect));
  const view = viewOf(managed);
  let tookEffect = 0;
  for (const intent of ripe) {
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
  const left = waiting.map(({ intent, settlesAt }) => ({
    connectorId: intent.change.connectorId,
    deploymentId: intent.change.action === 'create' ? null : intent.change.deployment.id,
    message: waitingMessage(intent.change.action, intent.passId, settlesAt),
    inMs: settlesAt.getTime() - now.getTime(),
  }));
  deps.logger.info(
    { pass: passId, open: open.length, tookEffect, waiting: left.length },
    'settled leftover intents',
  );
  return { tookEffect, didNot: ripe.length - tookEffect, waiting: left };
}
