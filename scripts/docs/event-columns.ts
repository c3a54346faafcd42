// The columns of an event row, for the events page and its examples.

import type { StoredEvent } from '../../src/domain/events.ts';

/** Every column of an event row, with what it holds (the compiler keeps this complete). */
export const EVENT_COLUMNS: Record<keyof StoredEvent, [type: string, description: string]> = {
  id: [
    'uuid',
    'UUIDv7, made by the worker when it confirms the change; also the event id in Prefect and `Nats-Msg-Id` on NATS',
  ],
  occurred: ['timestamptz', 'when the change was confirmed (a pass event: when the pass ended)'],
  event: ['text', 'the Prefect-style event name of the action (below)'],
  action: ['text', 'what happened: one of the actions below'],
  connector_id: ['text', 'the connector; null for a pass event and for the delete of an orphan'],
  deployment_id: [
    'uuid',
    'the Prefect deployment; null for a pass event and for a connector that has none',
  ],
  resource: [
    'jsonb',
    'what the event is about, in the shape of Prefect\'s events: `{"prefect.resource.id", "prefect.resource.name"}` — the deployment (`prefect.deployment.<id>`), the connector (`connector-sync.connector.<id>`: failed, recovered, held) or the pass (`connector-sync.pass.<id>`)',
  ],
  related: [
    'jsonb',
    "related resources, each with a `prefect.resource.role`: `flow`, `work-queue`, `work-pool`, `connector`, and `deployment` on a connector's event",
  ],
  payload: [
    'jsonb',
    'what changed (per action, below); values under secret-looking parameter keys read `"[masked]"` (`masking.keys`)',
  ],
  pass_id: ['uuid', 'the pass that wrote it (`connector-sync passes`)'],
};
