import type { RelatedContext } from './events.js';
import { unappliedFields, updateAction } from './diff.js';
import type { Change, Deployment, DeploymentSpec, FieldChanges, UpdateChange } from './types.js';

// An intent is recorded before a Prefect call and confirmed after it. One left
// open by a crash or an unknown outcome (timeout) is settled here by reading
// what Prefect now holds: an event is written only for what took effect.

export interface Intent {
  id: string;
  passId: string;
  change: Change;
  flowId: string | null;
  context: RelatedContext;
  createdAt: Date;
}

export type Settlement =
  { tookEffect: true; change: Change; result: Deployment | null } | { tookEffect: false };

export interface PrefectView {
  byId: Map<string, Deployment>;
  /** key: `${flow_id}/${name}` */
  byFlowAndName: Map<string, Deployment>;
}

export function viewOf(deployments: Deployment[]): PrefectView {
  return {
    byId: new Map(deployments.map((d) => [d.id, d])),
    byFlowAndName: new Map(deployments.map((d) => [`${d.flow_id}/${d.name}`, d])),
  };
}

export function settleIntent(
  change: Change,
  flowId: string | null,
  prefect: PrefectView,
): Settlement {
  switch (change.action) {
    case 'create': {
      const found =
        flowId === null ? undefined : prefect.byFlowAndName.get(`${flowId}/${change.spec.name}`);
      return found ? { tookEffect: true, change, result: found } : { tookEffect: false };
    }
    case 'delete':
      return prefect.byId.has(change.deployment.id)
        ? { tookEffect: false }
        : { tookEffect: true, change, result: null };
    case 'update':
    case 'pause':
    case 'resume': {
      const found = prefect.byId.get(change.deployment.id);
      if (!found) return { tookEffect: false };
      const remaining = unappliedFields(change.fields, found);
      const applied: FieldChanges = {};
      for (const [field, values] of Object.entries(change.fields) as [
        keyof FieldChanges,
        { from: unknown; to: unknown },
      ][]) {
        if (!(field in remaining)) applied[field] = values;
      }
      if (Object.keys(applied).length === 0) return { tookEffect: false };
      return {
        tookEffect: true,
        change: { ...change, action: updateAction(applied), fields: applied },
        result: found,
      };
    }
  }
}

/** The settings that bound how long one of our Prefect writes can take (config `prefect.*`). */
export interface CallLimits {
  timeoutMs: number;
  retries: number;
  retryMaxDelayMs: number;
}

/**
 * How long after its intent a change may still send a write attempt to
 * Prefect; the HTTP client sends none later (src/prefect/http.ts). On the
 * normal schedule a request's last attempt goes out after `retries` attempts
 * of at most `timeoutMs` each and `retries` pauses of at most
 * `retryMaxDelayMs` each; one more `timeoutMs` leaves room for a CSRF-token
 * fetch or a rate-limit wait. Attempts pushed later (a Retry-After pause, a
 * change that needs several requests) are not sent: the change fails with an
 * unknown outcome and its intent stays open, as after a timeout.
 */
export function writeWindowMs(limits: CallLimits): number {
  return limits.retries * (limits.timeoutMs + limits.retryMaxDelayMs) + limits.timeoutMs;
}

/**
 * How old an open intent must be before a pass may settle it. Its last
 * attempt left within the write window; we stop waiting for it `timeoutMs`
 * later; and we give Prefect one more `timeoutMs` to finish a request whose
 * caller gave up or died (Prefect does not cancel a request whose
 * connection closed). Read Prefect earlier and a write still in flight may
 * land after the settle judged it "did not take effect": a change with no
 * event. Defaults (10 s, 4 retries, 8 s): 102 s.
 */
export function settleAfterMs(limits: CallLimits): number {
  return writeWindowMs(limits) + 2 * limits.timeoutMs;
}

export interface WaitingIntent<T> {
  intent: T;
  /** When it may be settled (clock of `now`). */
  settlesAt: Date;
}

/** Splits open intents into the ones old enough to settle and the ones a call may still be writing for. */
export function ripeIntents<T extends { createdAt: Date }>(
  intents: T[],
  now: Date,
  afterMs: number,
): { ripe: T[]; waiting: WaitingIntent<T>[] } {
  const ripe: T[] = [];
  const waiting: WaitingIntent<T>[] = [];
  for (const intent of intents) {
    const settlesAt = new Date(intent.createdAt.getTime() + afterMs);
    if (settlesAt.getTime() <= now.getTime()) ripe.push(intent);
    else waiting.push({ intent, settlesAt });
  }
  return { ripe, waiting };
}

/** What the operator reads about a connector whose earlier call may still land. */
export function waitingMessage(action: Change['action'], passId: string, settlesAt: Date): string {
  return `waiting for an earlier ${action} call (intent from pass ${passId}) to finish; settles after ${settlesAt.toISOString()}`;
}

/**
 * A change as stored in an intent, in today's shape. Intents written by the
 * release before this one carried the connector's whole spec on updates,
 * pauses and resumes, and no `connectorName`; one may still be open when the
 * new release starts, and must settle all the same.
 */
export function storedChange(raw: Change): Change {
  if (raw.action === 'create' || raw.action === 'delete' || 'connectorName' in raw) return raw;
  const legacy = raw as Omit<UpdateChange, 'connectorName'> & { spec?: DeploymentSpec };
  const { spec, ...rest } = legacy;
  return { ...rest, connectorName: spec?.connectorName ?? null };
}
