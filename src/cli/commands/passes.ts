import type { PassResultKind } from '../../domain/vocabulary.js';
import { recentPasses } from '../../postgres/passes.js';
import { requireCurrentSchema } from '../../postgres/schema-check.js';
import { passJson, renderPassesTable } from '../../render/passes.js';
import { EXIT } from '../../domain/exit-codes.js';
import type { Runtime } from '../../runtime.js';
import type { Output } from '../output.js';

export interface PassesOptions {
  limit: number;
  result?: PassResultKind;
  json?: boolean;
}

/** `connector-sync passes`: the newest real passes, newest first. Reads only. */
export async function passesCommand(
  rt: Runtime,
  options: PassesOptions,
  out: Output,
): Promise<number> {
  const { schema } = rt.config.database;
  await requireCurrentSchema(rt.pool, schema);
  // One more than shown: whether to say that there are more.
  const found = await recentPasses(rt.pool, schema, {
    limit: options.limit + 1,
    result: options.result,
  });
  const passes = found.slice(0, options.limit);
  if (options.json) passes.forEach((p) => out.print(JSON.stringify(passJson(p))));
  else out.print(renderPassesTable(passes, found.length > passes.length));
  return EXIT.ok;
}
