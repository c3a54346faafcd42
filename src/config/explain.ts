import { z } from 'zod';
import { isPlainObject } from '../domain/json.js';
import { configSchema, type Config } from './schema.js';

// The effective configuration, key by key, with where each value came from,
// secrets masked; and the keys the schema knows, for did-you-mean.

export type ConfigSource = 'default' | 'file' | 'env' | 'flag';

export interface ExplainedKey {
  key: string;
  value: unknown;
  source: ConfigSource;
  /** The environment variable, or the file, that set it. */
  from: string | null;
}

/** Keys whose whole value is a secret; any URL's password is masked too. */
const SECRET_KEYS = new Set(['prefect.apiKey', 'prefect.authString', 'http.auth.token']);
export const MASKED = '[masked]';

/** The object schema under a (possibly defaulted) key, or null for a leaf. */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> | null {
  let current: unknown = schema;
  for (let depth = 0; depth < 10; depth++) {
    if (current instanceof z.ZodObject) return current.shape;
    const inner = (current as { _zod?: { def?: { innerType?: unknown } } })._zod?.def?.innerType;
    if (inner === undefined) return null;
    current = inner;
  }
  return null;
}

/** Every leaf key of the schema, dotted (`reconcile.schedule`). */
export function knownKeys(schema: z.ZodType = configSchema, prefix = ''): string[] {
  const shape = objectShape(schema);
  if (!shape) return [prefix];
  return Object.entries(shape).flatMap(([key, child]) =>
    knownKeys(child, prefix ? `${prefix}.${key}` : key),
  );
}

/** The keys the schema knows at `path` (an object's own keys), for a suggestion. */
export function keysAt(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = configSchema;
  for (const part of path) {
    const shape = objectShape(schema);
    const next = shape?.[String(part)];
    if (!next) return [];
    schema = next;
  }
  return Object.keys(objectShape(schema) ?? {});
}

/** "did you mean …?" for an unknown key: the closest known one, if close enough. */
export function closestKey(unknown: string, known: readonly string[]): string | null {
  let best: { key: string; distance: number } | null = null;
  for (const key of known) {
    const distance = editDistance(unknown.toLowerCase(), key.toLowerCase());
    if (best === null || distance < best.distance) best = { key, distance };
  }
  if (best === null) return null;
  return best.distance <= Math.max(2, Math.floor(best.key.length / 3)) ? best.key : null;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = row;
  }
  return previous[b.length]!;
}

/** A value as `config` shows it: secrets masked, a URL's password too. */
export function maskedValue(key: string, value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (SECRET_KEYS.has(key)) return MASKED;
  if (key === 'http.auth.basic' && typeof value === 'string')
    return `${value.split(':')[0]}:${MASKED}`;
  if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value)) {
    try {
      const url = new URL(value);
      if (url.password) url.password = MASKED;
      return url.toString().replace(encodeURIComponent(MASKED), MASKED);
    } catch {
      return MASKED;
    }
  }
  return value;
}

export interface Provenance {
  /** Dotted keys set by each file layer, in order (a later one wins). */
  files: { file: string; keys: Set<string> }[];
  /** Dotted key → environment variable that set it. */
  env: Map<string, string>;
  /** Dotted keys set by flags. */
  flags: Set<string>;
}

/** Every leaf of the effective configuration with its source. */
export function explainConfig(config: Config, provenance: Provenance): ExplainedKey[] {
  return knownKeys().map((key) => {
    const value = key
      .split('.')
      .reduce<unknown>((at, part) => (isPlainObject(at) ? at[part] : undefined), config);
    const file = provenance.files.findLast((f) => f.keys.has(key));
    const source: [ConfigSource, string | null] = provenance.flags.has(key)
      ? ['flag', null]
      : provenance.env.has(key)
        ? ['env', provenance.env.get(key)!]
        : file
          ? ['file', file.file]
          : ['default', null];
    return { key, value: maskedValue(key, value), source: source[0], from: source[1] };
  });
}

/** The dotted leaf keys a file sets (a key the schema takes whole, such as an object, counts as one). */
export function keysOfFile(content: Record<string, unknown>): Set<string> {
  const known = new Set(knownKeys());
  const keys = new Set<string>();
  const walk = (value: unknown, prefix: string): void => {
    if (prefix && known.has(prefix)) return void keys.add(prefix);
    if (!isPlainObject(value)) return;
    for (const [k, v] of Object.entries(value)) walk(v, prefix ? `${prefix}.${k}` : k);
  };
  walk(content, '');
  return keys;
}
