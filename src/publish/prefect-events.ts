import type { StoredEvent } from '../domain/events.js';

// Which events of our log go to Prefect's event stream, and as what. Prefect
// emits prefect.deployment.* itself for our writes: those are never posted
// again. What it cannot know is posted under connector-sync.* names, with
// our event id as its id (Prefect keeps one copy per id). Pure.

export interface PrefectEvent {
  id: string;
  occurred: string;
  event: string;
  resource: Record<string, unknown>;
  related: Record<string, unknown>[];
  payload: Record<string, unknown>;
}

/** The Prefect event an event of ours becomes, or null when Prefect has its own. */
export function prefectEventOf(e: StoredEvent): PrefectEvent | null {
  const name = nameOf(e);
  if (name === null) return null;
  const [resource, related] =
    e.action === 'updated' ? asConnectorEvent(e) : [e.resource, e.related];
  return {
    id: e.id,
    occurred: e.occurred.toISOString(),
    event: name,
    resource,
    related,
    payload: { ...e.payload, pass_id: e.pass_id },
  };
}

function nameOf(e: StoredEvent): string | null {
  switch (e.action) {
    case 'failed':
      // One name per problem, so an automation can trigger on exactly the one it cares about.
      return `connector-sync.connector.${typeof e.payload.status === 'string' ? e.payload.status : 'failed'}`;
    case 'recovered':
    case 'held':
    case 'pass-failed':
    case 'pass-aborted':
    case 'release-started':
    case 'release-wave-passed':
    case 'release-paused':
    case 'release-resumed':
    case 'release-failed':
    case 'release-rolled-back':
    case 'release-completed':
      return e.event;
    case 'updated':
      return e.payload.drift === true ? 'connector-sync.deployment.drift-reverted' : null;
    default:
      return null;
  }
}

/**
 * A drift reverted is posted about the connector, naming its deployment
 * (role `deployment`) and the rest as related, like every connector-sync.* event.
 */
function asConnectorEvent(e: StoredEvent): [Record<string, unknown>, Record<string, unknown>[]] {
  const connector = e.related.find((r) => r['prefect.resource.role'] === 'connector');
  const others = e.related.filter((r) => r !== connector);
  const resource = connector
    ? Object.fromEntries(Object.entries(connector).filter(([k]) => k !== 'prefect.resource.role'))
    : { 'prefect.resource.id': `connector-sync.connector.${e.connector_id ?? 'unknown'}` };
  return [resource, [{ ...e.resource, 'prefect.resource.role': 'deployment' }, ...others]];
}
