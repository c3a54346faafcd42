// The words connector-sync's tables, API, CLI and renderers share, each
// written once. The SQL CHECK constraints (sql/migrations) list the same;
// test/unit/vocabulary.test.ts keeps them in step.

/** `events.action`: what happened (docs/concepts/event-log.md). */
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
  'source-shrank',
  'release-started',
  'release-wave-passed',
  'release-paused',
  'release-resumed',
  'release-failed',
  'release-rolled-back',
  'release-completed',
] as const;
export type EventAction = (typeof EVENT_ACTIONS)[number];

/** When each action is written, and what its payload holds (docs/reference/events.md). */
export const EVENT_DESCRIPTIONS: Record<EventAction, string> = {
  created: 'A deployment was created for a connector. Payload: the deployment as created.',
  updated:
    'Fields of a connector\'s deployment were changed. Payload: `updated_fields`, `updates` (`{field: {"from", "to"}}`), `masked_changes` (the masked paths whose value changed) when there are any, and `"drift": true` when the deployment had been changed in Prefect by hand and the pass put it back.',
  paused: 'A deployment was paused: the payload of `updated`, `paused` the only field.',
  resumed: 'A deployment was resumed: the payload of `updated`, `paused` the only field.',
  deleted: 'A deployment was deleted. Payload: the deployment as it was.',
  failed:
    'A connector got into a problem (status `failed`, `invalid` or `conflict`), or its problem changed: once per distinct problem, not on every pass. Payload: `status`, `message`, `retryable`.',
  recovered:
    'A connector went from `failed`, `invalid` or `conflict` to `synced` (not from `held`). Payload: `from`, the problem status it left, and `was`, its message.',
  held: "A delete guard (the per-pass limit or the delete budget) held back the delete of one of the connector's deployments. Payload: `message`.",
  'pass-failed':
    'A pass failed (Prefect or Postgres away). Payload: `kind`, `error`, `duration_ms`.',
  'pass-aborted':
    "A pass was cut short (too many failures in a row); not when the worker's own shutdown or a lost lock ended it. Payload: as `pass-failed`.",
  'source-shrank':
    'A full pass read far fewer rows than the last good pass (reconcile.sourceShrinkLimit), or none: every delete is held until the source looks healthy again. Once per episode, about the source (resource `connector-sync.source.<table>`). Payload: `from_rows`, `to_rows`, `limit`, `held_deletes`.',
  'release-started':
    'A new release (a new template version or `deployment` configuration) began to roll out; about the release (resource `connector-sync.release.<release>`), as are all release events. Payload: `release`, `previous`, `waves`, `wave`, `connectors` (the first wave).',
  'release-wave-passed':
    "A wave of a release passed: its runs completed (`verify`), or an operator promoted it (`by`). The gate runs are related. Payload: `release`, `wave`, `connectors`, `verify`, and `next` (the next wave's connectors) unless it was the last.",
  'release-paused':
    'An operator paused a release (`connector-sync release pause`): no wave starts or passes until it is resumed. Payload: `release`, `by`, `reason`.',
  'release-resumed':
    'An operator resumed a paused release, or retried a failed one from its first wave. Payload: `release`, `by`, `retry`.',
  'release-failed':
    "A wave's gate failed (a run failed or crashed, or none finished in time: `reason` names the run, its state and message, or the pool no worker polls), or an operator aborted the release. Its connectors go back to the previous release. Payload: `release`, `wave`, `reason`, `run`.",
  'release-rolled-back':
    "A failed release's connectors are all back on the previous release, or an operator rolled the fleet back to an earlier release (`connector-sync release rollback`). Payload: `release`, `to`, `connectors`, `by` (an operator's rollback).",
  'release-completed':
    'Every wave of a release passed: the whole fleet is on it. Payload: `release`, `waves`, `connectors`.',
};

/** `connector_state.status` (docs/concepts/how-a-pass-works.md, "Per-connector state"). */
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

/** What each status means (docs/reference/events.md). */
export const CONNECTOR_STATUS_DESCRIPTIONS: Record<ConnectorStatus, string> = {
  synced: 'the deployment matches the row',
  pending:
    "a change is planned or its intent is open (`last_error` says when an earlier call's intent will be settled)",
  failed: 'Prefect refused or failed the last change (`last_error`)',
  invalid:
    'the row cannot become a deployment (`last_error` says what to fix); not retried until the row changes',
  conflict: 'a same-named deployment without the managed tag exists',
  held: 'a delete guard (the per-pass limit, the delete budget, the source check) held back the delete of one of its deployments (`last_error` names it, why, and what waits with it)',
  deleted:
    'the connector has no deployment (row deleted, soft-deleted, or inactive with `onInactive: delete`)',
};

/** `passes.result`: how a real pass ended (docs/concepts/exactly-once.md, "Pass history"). */
export const PASS_RESULTS = ['ok', 'problems', 'aborted', 'error'] as const;
export type PassResultKind = (typeof PASS_RESULTS)[number];

/** How each result came about (docs/reference/events.md). */
export const PASS_RESULT_DESCRIPTIONS: Record<PassResultKind, string> = {
  ok: 'the pass ran to its end with nothing wrong',
  problems:
    'the pass ran to its end, but some connectors failed, are invalid or in conflict, or a delete guard held deletes back',
  aborted:
    'the pass was cut short: Prefect kept failing, the worker stopped, or it lost the reconcile lock to another replica',
  error: 'the pass itself failed (Prefect or Postgres away)',
};

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
