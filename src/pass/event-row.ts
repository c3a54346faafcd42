import type { EventDraft, EventRow } from '../domain/events.js';
import { maskerOf } from '../domain/mask.js';
import type { PassDeps } from './context.js';

/**
 * A draft as the event log stores it: its payload masked (secret parameter
 * keys read "[masked]", docs/guides/security.md), with its id, time and pass. Every
 * event a pass writes goes through here, so nothing downstream of the event
 * table — `events`, /api, the console, the sinks — ever sees a secret.
 */
export function eventRow(
  deps: Pick<PassDeps, 'config' | 'newId'>,
  draft: EventDraft,
  passId: string,
  occurred: Date,
): EventRow {
  const payload = maskerOf(deps.config.masking.keys).eventPayload(draft.payload);
  return { ...draft, payload, id: deps.newId(), occurred, pass_id: passId };
}
