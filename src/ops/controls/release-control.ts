import type pg from 'pg';
import { ReleaseChangedError } from '../../domain/errors.js';
import { releaseEvent } from '../../domain/events.js';
import { controlRelease, type ReleaseVerb } from '../../domain/release-controls.js';
import type { Release } from '../../domain/release.js';
import { eventRow } from '../../pass/event-row.js';
import type { PassDeps } from '../../pass/context.js';
import { readReleases, saveReleases } from '../../postgres/releases.js';
import { notifyWakeup } from '../../postgres/wakeup.js';

// An operator's control of a release — `connector-sync release VERB` and the
// console's release buttons both come here (docs/concepts/releases.md, "An
// operator's controls"): decided on the ledger as read (domain/release-controls.ts),
// written with its event in one transaction, and a running worker woken: its
// leader's next pass does what the ledger says. Never Prefect, never the lock.

export type ReleaseControlDeps = Pick<PassDeps, 'config' | 'newId' | 'logger'> & {
  pool: pg.Pool;
};

export type ReleaseControlResult =
  | { ok: true; release: string; verb: ReleaseVerb; message: string }
  /** `unknown`: no such release (the ledger's ids in the message); else the verb does not apply. */
  | { ok: false; unknown: boolean; message: string };

export async function applyReleaseControl(
  deps: ReleaseControlDeps,
  verb: ReleaseVerb,
  id: string,
  who: { by: string; reason: string | null },
): Promise<ReleaseControlResult> {
  const { schema } = deps.config.database;
  for (let attempt = 0; ; attempt++) {
    const ledger = await readReleases(deps.pool, schema);
    const release = ledger.find((r) => r.id === id);
    if (!release) return { ok: false, unknown: true, message: noSuchRelease(id, ledger) };
    try {
      return await applyOnce(deps, verb, { ledger, release, ...who });
    } catch (error) {
      // The worker moved the release on meanwhile: read it again and decide anew.
      if (!(error instanceof ReleaseChangedError) || attempt >= 3) throw error;
    }
  }
}

export function noSuchRelease(id: string, ledger: Release[]): string {
  const known = [...ledger].sort((a, b) => b.seq - a.seq).map((r) => r.id);
  return `no release ${JSON.stringify(id)}; the ledger has ${known.length > 0 ? known.join(', ') : 'none yet'}`;
}

async function applyOnce(
  deps: ReleaseControlDeps,
  verb: ReleaseVerb,
  input: { ledger: Release[]; release: Release; by: string; reason: string | null },
): Promise<ReleaseControlResult> {
  const now = new Date();
  const outcome = controlRelease(verb, { ...input, now });
  if (!outcome.ok) return { ok: false, unknown: false, message: outcome.message };
  const operation = deps.newId();
  const events = outcome.events.map((e) =>
    eventRow(deps, releaseEvent(e.action, e.id, e.payload), operation, now),
  );
  await saveReleases(deps.pool, deps.config.database.schema, outcome.writes, events);
  // A full pass of a running worker's leader does what the ledger now says.
  await notifyWakeup(deps.pool, null);
  deps.logger.info({ release: input.release.id, verb, by: input.by }, `release ${verb}`);
  return { ok: true, release: input.release.id, verb, message: outcome.message };
}
