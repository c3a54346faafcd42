import { controlRelease, type ReleaseVerb } from '../../domain/release-controls.js';
import { ReleaseChangedError } from '../../domain/errors.js';
import { releaseEvent } from '../../domain/events.js';
import { EXIT } from '../../domain/exit-codes.js';
import type { Release } from '../../domain/release.js';
import { eventRow } from '../../pass/event-row.js';
import {
  connectorsPerRelease,
  readReleases,
  releaseHistory,
  saveReleases,
} from '../../postgres/releases.js';
import { requireCurrentSchema } from '../../postgres/schema-check.js';
import { releaseJson, renderRelease, renderReleases } from '../../render/releases.js';
import type { Runtime } from '../../runtime.js';
import { WAKEUP_CHANNEL } from '../../worker/wakeups.js';
import type { Output } from '../output.js';

// `releases` and `release show|pause|resume|promote|abort|rollback RELEASE`
// (docs/concepts/releases.md). The controls change the ledger only, with
// their event, and wake a running worker: its leader's next pass does what
// the ledger says. They never write to Prefect and need no lock.

export async function releasesCommand(
  rt: Runtime,
  options: { json?: boolean },
  out: Output,
): Promise<number> {
  const { schema } = rt.config.database;
  await requireCurrentSchema(rt.pool, schema);
  const ledger = await readReleases(rt.pool, schema);
  const counts = await connectorsPerRelease(rt.pool, schema);
  const newestFirst = [...ledger].sort((a, b) => b.seq - a.seq);
  out.print(
    options.json
      ? JSON.stringify(
          newestFirst.map((r) => releaseJson(r, counts.get(r.id) ?? 0)),
          null,
          2,
        )
      : renderReleases(ledger, counts),
  );
  return EXIT.ok;
}

export interface ReleaseControlOptions {
  json?: boolean;
  by: string;
  reason: string | null;
}

export async function releaseCommand(
  rt: Runtime,
  verb: ReleaseVerb | 'show',
  id: string,
  options: ReleaseControlOptions,
  out: Output,
): Promise<number> {
  const { schema } = rt.config.database;
  await requireCurrentSchema(rt.pool, schema);
  for (let attempt = 0; ; attempt++) {
    const ledger = await readReleases(rt.pool, schema);
    const release = ledger.find((r) => r.id === id);
    if (!release) {
      const known = [...ledger].sort((a, b) => b.seq - a.seq).map((r) => r.id);
      out.printError(
        `error: no release ${JSON.stringify(id)}; the ledger has ${known.length > 0 ? known.join(', ') : 'none yet'}`,
      );
      return EXIT.usage;
    }
    if (verb === 'show') return show(rt, release, options, out);
    try {
      return await control(rt, verb, { ledger, release, options }, out);
    } catch (error) {
      // The worker moved the release on meanwhile: read it again and decide anew.
      if (!(error instanceof ReleaseChangedError) || attempt >= 3) throw error;
    }
  }
}

async function show(
  rt: Runtime,
  release: Release,
  options: ReleaseControlOptions,
  out: Output,
): Promise<number> {
  const { schema } = rt.config.database;
  const connectors = (await connectorsPerRelease(rt.pool, schema)).get(release.id) ?? 0;
  const history = await releaseHistory(rt.pool, schema, release.id);
  out.print(
    options.json
      ? JSON.stringify(
          {
            ...releaseJson(release, connectors),
            members: release.members,
            gate: release.gate,
            spec: release.spec,
            history,
          },
          null,
          2,
        )
      : renderRelease(release, connectors, history),
  );
  return EXIT.ok;
}

async function control(
  rt: Runtime,
  verb: ReleaseVerb,
  input: { ledger: Release[]; release: Release; options: ReleaseControlOptions },
  out: Output,
): Promise<number> {
  const { options } = input;
  const now = new Date();
  const outcome = controlRelease(verb, {
    ledger: input.ledger,
    release: input.release,
    by: options.by,
    reason: options.reason,
    now,
  });
  if (!outcome.ok) {
    out.printError(`error: ${outcome.message}`);
    return EXIT.usage;
  }
  const operation = rt.newId();
  const events = outcome.events.map((e) =>
    eventRow(rt, releaseEvent(e.action, e.id, e.payload), operation, now),
  );
  await saveReleases(rt.pool, rt.config.database.schema, outcome.writes, events);
  // A full pass of a running worker's leader does what the ledger now says.
  await rt.pool.query('SELECT pg_notify($1, $2)', [WAKEUP_CHANNEL, '']);
  rt.logger.info({ release: input.release.id, verb, by: options.by }, `release ${verb}`);
  out.print(
    options.json
      ? JSON.stringify({ release: input.release.id, verb, message: outcome.message }, null, 2)
      : outcome.message,
  );
  return EXIT.ok;
}
