import { eventForChange, type EventRow } from '../core/events.js';
import {
  ripeIntents,
  settleAfterMs,
  settleIntent,
  viewOf,
  waitingMessage,
} from '../core/settle.js';
import type { Deployment } from '../core/types.js';
import {
  confirmIntent,
  databaseNow,
  dropIntent,
  openIntents,
  type Intent,
} from '../db/eventlog.js';
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

/** Intents left open by a crash or an unknown outcome, split by whether they may be settled now. */
export interface OpenIntents {
  ripe: Intent[];
  waiting: Waiting[];
}

/**
 * Reads the open intents (a targeted pass: only its connectors', as its
 * listing covers nothing else) and splits them on the database's clock: an
 * intent younger than `settleAfterMs` is left open, and its connector is not
 * touched this pass (see core/settle.ts). Reads only, so `plan` says the same.
 */
export async function readOpenIntents(
  deps: PassDeps,
  scope: Set<string> | null,
): Promise<OpenIntents> {
  const open = (await openIntents(deps.pool, deps.config.database.schema)).filter(
    (intent) =>
      scope === null ||
      (intent.change.connectorId !== null && scope.has(intent.change.connectorId)),
  );
  if (open.length === 0) return { ripe: [], waiting: [] };
  const now = await databaseNow(deps.pool);
  const { ripe, waiting } = ripeIntents(open, now, settleAfterMs(deps.config.prefect));
  return {
    ripe,
    waiting: waiting.map(({ intent, settlesAt }) => ({
      connectorId: intent.change.connectorId,
      deploymentId: intent.change.action === 'create' ? null : intent.change.deployment.id,
      message: waitingMessage(intent.change.action, intent.passId, settlesAt),
      inMs: settlesAt.getTime() - now.getTime(),
    })),
  };
}

/**
 * Settles intents old enough to be settled: an event for what took effect
 * (read from `managed`, the listing of this pass), nothing for the rest.
 * Updates `states` with what the confirmed changes lead to.
 */
export async function settleRipe(
  deps: PassDeps,
  ripe: Intent[],
  managed: Deployment[],
  flowId: string | null,
  states: Map<string, ConnectorState>,
): Promise<{ tookEffect: number; didNot: number }> {
  const schema = deps.config.database.schema;
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
  return { tookEffect, didNot: ripe.length - tookEffect };
}
