import { migrate } from '../../postgres/migrate.js';
import { EXIT } from '../../domain/exit-codes.js';
import type { Runtime } from '../../runtime.js';
import type { Output } from '../output.js';

/** `connector-sync migrate`: the only command that creates (or upgrades) the worker's schema. */
export async function migrateCommand(rt: Runtime, out: Output): Promise<number> {
  const applied = await migrate(rt.pool, rt.config.database.schema);
  out.print(applied.length ? `Applied: ${applied.join(', ')}` : 'Schema is current.');
  return EXIT.ok;
}
