import { explainConfig, type ExplainedKey } from '../../config/explain.js';
import type { Provenance } from '../../config/explain.js';
import type { Config } from '../../config/schema.js';
import { EXIT } from '../../domain/exit-codes.js';
import { renderColumns } from '../../render/table.js';
import type { Output } from '../output.js';

/**
 * `connector-sync config`: the effective configuration, every key with its
 * value (secrets masked) and where it came from — default, file, env or flag.
 */
export function configCommand(
  loaded: { config: Config; provenance: Provenance },
  options: { json?: boolean },
  output: Output,
): number {
  const keys = explainConfig(loaded.config, loaded.provenance);
  if (options.json) {
    output.print(JSON.stringify({ keys }));
    return EXIT.ok;
  }
  const rows = keys.map((k) => [k.key, shown(k.value), sourceOf(k)]);
  for (const line of renderColumns(['KEY', 'VALUE', 'SOURCE'], rows)) output.print(line);
  return EXIT.ok;
}

function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function sourceOf(key: ExplainedKey): string {
  return key.from === null ? key.source : `${key.source} ${key.from}`;
}
