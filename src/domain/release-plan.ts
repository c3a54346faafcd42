import {
  assignmentOf,
  inProgress,
  lastGood,
  releaseIdFor,
  specHashOf,
  waveLabel,
  type Release,
  type ReleaseSpec,
} from './release.js';
import { canaryOrder, startRelease, topUp, type Candidate, type RolloutRules } from './rollout.js';

// What the ledger means for one pass (docs/concepts/releases.md): pure. A
// full pass that meets a template release the ledger does not know starts it
// (its first wave chosen now, so this very pass writes it); every pass gives
// each connector the release it is assigned — the one rolling out for its
// members, the last good one for everyone else.

/** The release the template and configuration give today, as the ledger knows it. */
export interface TargetRelease {
  id: string;
  specHash: string;
  spec: ReleaseSpec;
  /** The ledger had it before this pass. */
  known: boolean;
}

export interface ReleasePlan {
  /** The ledger as this pass acts on it. */
  ledger: Release[];
  /** Releases to write before any deployment is: started, superseded, given connectors. */
  changed: Release[];
  /** The release this pass started, if any. */
  started: Release | null;
  target: TargetRelease;
  /** The order connectors join a release in. */
  order: string[];
  /** The release each connector is given; id null before the ledger has any. */
  assign: (connectorId: string) => { id: string | null; spec: ReleaseSpec };
}

export function planReleases(input: {
  ledger: Release[];
  target: ReleaseSpec;
  candidates: Candidate[];
  rules: RolloutRules;
  /** Only a full pass starts a release or adds connectors to one. */
  fullPass: boolean;
  now: Date;
}): ReleasePlan {
  const { ledger, rules, now } = input;
  const specHash = specHashOf(input.target);
  const known = ledger.find((r) => r.specHash === specHash);
  const target: TargetRelease = {
    id: known?.id ?? releaseIdFor(input.target, specHash, ledger),
    specHash,
    spec: input.target,
    known: known !== undefined,
  };
  const order = canaryOrder(input.candidates, rules.canaries);
  let after = ledger;
  const changed: Release[] = [];
  let started: Release | null = null;
  const back = input.fullPass && known ? returnTo(known, ledger, now) : [];
  if (input.fullPass && (!known || known.state === 'superseded') && lastGood(ledger)) {
    // A release the ledger does not know, or one a later release superseded
    // that the template names again: rolled out in waves, from the first.
    const begun = startRelease({ ...target, ledger: withoutId(ledger, known), order, rules, now });
    started = {
      ...begun.release,
      seq: known?.seq ?? begun.release.seq,
      revision: known?.revision ?? 0,
    };
    changed.push(started, ...(begun.superseded ? [begun.superseded] : []));
    after = [...replaced(withoutId(ledger, known), begun.superseded), started];
  } else if (back.length > 0) {
    changed.push(...back);
    after = back.reduce(replaced, ledger);
  } else if (input.fullPass) {
    const current = inProgress(ledger);
    const grown = current ? topUp(current, order) : null;
    if (grown && grown !== current) {
      changed.push(grown);
      after = replaced(ledger, grown);
    }
  }
  return {
    ledger: after,
    changed,
    started,
    target,
    order,
    assign: assignmentOf(after, target.spec),
  };
}

function withoutId(ledger: Release[], release: Release | undefined): Release[] {
  return release ? ledger.filter((r) => r.id !== release.id) : ledger;
}

/**
 * The template went back to a release that completed before: the fleet goes
 * back to it at once (it was proven), and what stood after it — complete or
 * in progress — is superseded. Nothing when it is already where the fleet rests.
 */
function returnTo(known: Release, ledger: Release[], now: Date): Release[] {
  if (known.state !== 'complete') return [];
  const current = inProgress(ledger);
  const good = lastGood(ledger);
  if (good?.id === known.id && (!current || current.id === known.id)) return [];
  return ledger
    .filter(
      (r) =>
        r.id !== known.id &&
        ((r.state === 'complete' && r.seq > known.seq) ||
          r.state === 'rolling-out' ||
          r.state === 'paused'),
    )
    .map((r) => ({
      ...r,
      state: 'superseded' as const,
      reason: `the template went back to ${known.id}`,
      finishedAt: r.finishedAt ?? now,
    }));
}

function replaced(ledger: Release[], release: Release | null): Release[] {
  return release ? ledger.map((r) => (r.id === release.id ? release : r)) : ledger;
}

/** What a plan tells the operator of the releases: one line each, for `plan` and logs. */
export function releaseNotices(plan: ReleasePlan): string[] {
  const lines: string[] = [];
  if (plan.started) {
    const r = plan.started;
    lines.push(
      `release ${r.id} starts (${waveLabel(r)}): ${r.members.length} of ${plan.order.length} connectors get it first [${r.members.join(', ')}]; the rest stay on ${r.previous ?? 'their release'}`,
    );
  }
  const current = inProgress(plan.ledger);
  if (current && current !== plan.started)
    lines.push(
      `release ${current.id} is ${current.state} (${waveLabel(current)}, ${current.members.length} connectors on it)`,
    );
  const bad = plan.ledger.find((r) => r.specHash === plan.target.specHash);
  if (bad && (bad.state === 'failed' || bad.state === 'rolled-back'))
    lines.push(
      `the template's release ${bad.id} is ${bad.state}${bad.reason ? ` (${bad.reason})` : ''}: the fleet stays on ${lastGood(plan.ledger)?.id ?? 'its release'} until a newer one is registered or it is retried (connector-sync release resume ${bad.id})`,
    );
  return lines;
}
