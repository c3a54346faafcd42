import type { ReleaseAction } from './events.js';
import { inProgress, lastGood, waveLabel, type Release } from './release.js';
import { fromTheFirstWave } from './rollout.js';

// An operator's controls on a release (`connector-sync release VERB RELEASE`,
// docs/concepts/releases.md): pure. Each changes the ledger only; the leading
// worker's next pass does what the ledger then says, so the commands work
// beside a running worker and never write to Prefect themselves.

export const RELEASE_VERBS = ['pause', 'resume', 'promote', 'abort', 'rollback'] as const;
export type ReleaseVerb = (typeof RELEASE_VERBS)[number];

export interface ControlEvent {
  action: ReleaseAction;
  id: string;
  payload: Record<string, unknown>;
}

export type ControlOutcome =
  | { ok: true; writes: Release[]; events: ControlEvent[]; message: string }
  | { ok: false; message: string };

export interface ControlInput {
  ledger: Release[];
  release: Release;
  by: string;
  reason: string | null;
  now: Date;
}

const refuse = (message: string): ControlOutcome => ({ ok: false, message });
const moving = (r: Release) => r.state === 'rolling-out' || r.state === 'paused';

export function controlRelease(verb: ReleaseVerb, input: ControlInput): ControlOutcome {
  switch (verb) {
    case 'pause':
      return pause(input);
    case 'resume':
      return resume(input);
    case 'promote':
      return promote(input);
    case 'abort':
      return abort(input);
    case 'rollback':
      return rollback(input);
  }
}

function pause({ release, by, reason }: ControlInput): ControlOutcome {
  if (release.state !== 'rolling-out')
    return refuse(`release ${release.id} is ${release.state}: only a rolling-out release pauses`);
  return {
    ok: true,
    writes: [{ ...release, state: 'paused' }],
    events: [{ action: 'release-paused', id: release.id, payload: { by, reason } }],
    message: `Paused release ${release.id} at ${waveLabel(release)}: no wave starts or passes until \`connector-sync release resume ${release.id}\`.`,
  };
}

/** A paused release goes on; a failed, rolled-back or superseded one is retried from its first wave. */
function resume({ ledger, release, by, now }: ControlInput): ControlOutcome {
  if (release.state === 'paused')
    return {
      ok: true,
      writes: [{ ...release, state: 'rolling-out' }],
      events: [{ action: 'release-resumed', id: release.id, payload: { by, retry: false } }],
      message: `Resumed release ${release.id} at ${waveLabel(release)}.`,
    };
  if (release.state === 'rolling-out' || release.state === 'complete')
    return refuse(`release ${release.id} is ${release.state}: nothing to resume`);
  const other = inProgress(ledger);
  if (other)
    return refuse(
      `release ${other.id} is ${other.state}: abort it (or let it finish) before retrying ${release.id}`,
    );
  const retried: Release = {
    ...release,
    previous: lastGood(ledger)?.id ?? release.previous,
    ...fromTheFirstWave(now),
  };
  return {
    ok: true,
    writes: [retried],
    events: [{ action: 'release-resumed', id: release.id, payload: { by, retry: true } }],
    message: `Retrying release ${release.id} from its first wave (it was ${release.state}).`,
  };
}

/** The wave in progress passes without waiting for its runs. */
function promote({ release, by, now }: ControlInput): ControlOutcome {
  if (!moving(release))
    return refuse(
      `release ${release.id} is ${release.state}: only a release in progress is promoted`,
    );
  const passed: ControlEvent = {
    action: 'release-wave-passed',
    id: release.id,
    payload: {
      wave: release.wave + 1,
      connectors: release.members.slice(release.waveFrom),
      by,
      promoted: true,
    },
  };
  if (release.wave + 1 >= release.waves.length)
    return {
      ok: true,
      writes: [{ ...release, state: 'complete', gate: null, finishedAt: now }],
      events: [
        passed,
        {
          action: 'release-completed',
          id: release.id,
          payload: { waves: release.waves, connectors: release.members.length, by },
        },
      ],
      message: `Promoted release ${release.id} past its last wave: it is complete, and the next pass gives it to every connector.`,
    };
  const next: Release = {
    ...release,
    state: 'rolling-out',
    wave: release.wave + 1,
    waveFrom: release.members.length,
    gate: null,
  };
  return {
    ok: true,
    writes: [next],
    events: [passed],
    message: `Promoted release ${release.id}: ${waveLabel(release)} passed; the next pass writes ${waveLabel(next)}.`,
  };
}

function abort({ release, by, reason, now }: ControlInput): ControlOutcome {
  if (!moving(release))
    return refuse(
      `release ${release.id} is ${release.state}: only a release in progress is aborted`,
    );
  const why = `aborted by ${by}${reason ? `: ${reason}` : ''}`;
  return {
    ok: true,
    writes: [{ ...release, state: 'failed', reason: why, finishedAt: now }],
    events: [
      {
        action: 'release-failed',
        id: release.id,
        payload: { wave: release.wave + 1, reason: why, by },
      },
    ],
    message: `Aborted release ${release.id}: its ${release.members.length} connectors go back to ${release.previous ?? 'the previous release'} on the next pass.`,
  };
}

/** Pins the fleet to an earlier complete release: every later one still standing is rolled back. */
function rollback({ ledger, release, by, reason, now }: ControlInput): ControlOutcome {
  if (release.state !== 'complete')
    return refuse(
      `release ${release.id} is ${release.state}: the fleet can only be rolled back to a complete release`,
    );
  const later = ledger.filter((r) => r.seq > release.seq && (r.state === 'complete' || moving(r)));
  if (later.length === 0)
    return refuse(`release ${release.id} is already the release the fleet rests on`);
  const why = `rolled back to ${release.id} by ${by}${reason ? `: ${reason}` : ''}`;
  return {
    ok: true,
    writes: later.map((r) => ({
      ...r,
      state: 'rolled-back' as const,
      reason: why,
      finishedAt: r.finishedAt ?? now,
      rolledBackAt: now,
    })),
    events: later.map((r) => ({
      action: 'release-rolled-back' as const,
      id: r.id,
      payload: { to: release.id, by, reason },
    })),
    message: `Rolled the fleet back to release ${release.id} (${later.map((r) => r.id).join(', ')} rolled back): the next pass gives every connector its spec.`,
  };
}
