import type { ReleaseVerb } from '../../domain/release-controls.js';
import { EXIT } from '../../domain/exit-codes.js';
import type { Release } from '../../domain/release.js';
import { applyReleaseControl, noSuchRelease } from '../../ops/controls/release-control.js';
import { connectorsPerRelease, readReleases, releaseHistory } from '../../postgres/releases.js';
import { requireCurrentSchema } from '../../postgres/schema-check.js';
import { releaseJson, renderRelease, renderReleases } from '../../render/releases.js';
import type { Runtime } from '../../runtime.js';
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
  if (verb !== 'show') return control(rt, verb, id, options, out);
  const ledger = await readReleases(rt.pool, schema);
  const release = ledger.find((r) => r.id === id);
  if (!release) {
    out.printError(`error: ${noSuchRelease(id, ledger)}`);
    return EXIT.usage;
  }
  return show(rt, release, options, out);
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

/** The control itself is shared with the console (ops/controls/release-control.ts). */
async function control(
  rt: Runtime,
  verb: ReleaseVerb,
  id: string,
  options: ReleaseControlOptions,
  out: Output,
): Promise<number> {
  const result = await applyReleaseControl(rt, verb, id, options);
  if (!result.ok) {
    out.printError(`error: ${result.message}`);
    return EXIT.usage;
  }
  out.print(
    options.json
      ? JSON.stringify({ release: result.release, verb, message: result.message }, null, 2)
      : result.message,
  );
  return EXIT.ok;
}
