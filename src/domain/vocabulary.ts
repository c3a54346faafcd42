// The words connector-sync's tables, API, CLI and renderers share, each
// written once. The SQL CHECK constraints (sql/migrations) list the same;
// test/unit/vocabulary.test.ts keeps them in step.

/** `events.action`: what happened (README, "The event log"). */
export const EVENT_ACTIONS = [
  'created',
  'updated',
  'paused',
  'resumed',
  'deleted',
  'failed',
  'recovered',
  'held',
  'pass-failed',
  'pass-aborted',
] as const;
export type EventAction = (typeof EVENT_ACTIONS)[number];

/** `connector_state.status` (README, "Per-connector state"). */
export const CONNECTOR_STATUSES = [
  'synced',
  'pending',
  'failed',
  'invalid',
  'conflict',
  'held',
  'deleted',
] as const;
export type ConnectorStatus = (typeof CONNECTOR_STATUSES)[number];

/** `passes.result`: how a real pass ended (README, "Pass history"). */
export const PASS_RESULTS = ['ok', 'problems', 'aborted', 'error'] as const;
export type PassResultKind = (typeof PASS_RESULTS)[number];

/** `intents.action`: a change about to be sent. */
export const CHANGE_ACTIONS = ['create', 'update', 'pause', 'resume', 'delete'] as const;

/**
 * Every managed deployment carries `connector-<id>`: how a deployment is
 * found to belong to a connector, whatever its name or flow.
 */
const CONNECTOR_TAG_PREFIX = 'connector-';

export function connectorTag(connectorId: string): string {
  return `${CONNECTOR_TAG_PREFIX}${connectorId}`;
}

/**
 * The connector a deployment's tags name, or null. `notConnectorTags` are the
 * tags that are never a connector's (deployment.tags and the managed tag):
 * one of them may start with `connector-` too.
 */
export function connectorIdOfTags(tags: string[], notConnectorTags: string[]): string | null {
  const tag = tags.find((t) => t.startsWith(CONNECTOR_TAG_PREFIX) && !notConnectorTags.includes(t));
  return tag === undefined ? null : tag.slice(CONNECTOR_TAG_PREFIX.length);
}
