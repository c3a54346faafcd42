import { canonicalJson, isPlainObject } from './json.js';

// Secret-looking parameter keys, masked in everything connector-sync shows
// or sends (docs/guides/security.md): event payloads, plan output, /api, the
// console, the sinks. Only Prefect's deployment gets the real value. A
// masked value still shows *that* it changed: an update event lists the
// masked paths whose value differs in `masked_changes`.

/** What a masked value reads as. */
export const MASKED = '[masked]';

/**
 * The default pattern (config `masking.keys`): matched, case-insensitive,
 * anywhere in a key, at any depth — `db_password`, `apiKey`, `client_secret`.
 */
export const DEFAULT_SECRET_KEYS =
  'password|passwd|passphrase|pwd|secret|token|api[-_]?key|credential|private[-_]?key|access[-_]?key|authorization|cookie|dsn|connection[-_]?string';

/** Shorter values are not replaced inside free text: "a" would blank every "a" of a message. */
const MIN_TEXT_LENGTH = 4;

export interface Masker {
  isSecretKey(key: string): boolean;
  /** A copy with the value of every secret key, at any depth, replaced by MASKED (null stays null). */
  mask<T>(value: T): T;
  /** The dotted paths of secret keys whose value differs between the two (added and removed included). */
  changedSecrets(from: unknown, to: unknown, prefix?: string): string[];
  /** Every text held under a secret key (strings and numbers), for scrubbing free text. */
  secretTexts(value: unknown): string[];
  /** An event payload as it may be stored or shown: masked, with `masked_changes` on an update. */
  eventPayload(payload: Record<string, unknown>): Record<string, unknown>;
}

const cache = new Map<string, Masker>();

/** The masker of a pattern (a regular expression's source), compiled once. */
export function maskerOf(pattern: string): Masker {
  let masker = cache.get(pattern);
  if (!masker) {
    masker = makeMasker(new RegExp(pattern, 'i'));
    cache.set(pattern, masker);
  }
  return masker;
}

/** Why a pattern cannot be used, or null. */
export function secretKeysProblem(pattern: string): string | null {
  try {
    const re = new RegExp(pattern, 'i');
    return re.test('') ? 'matches every key (it matches the empty string)' : null;
  } catch (error) {
    return `is not a regular expression: ${(error as Error).message}`;
  }
}

function makeMasker(pattern: RegExp): Masker {
  const isSecretKey = (key: string): boolean => pattern.test(key);

  const mask = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(mask);
    if (!isPlainObject(value)) return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        isSecretKey(key) && item !== null ? MASKED : mask(item),
      ]),
    );
  };

  const changedSecrets = (from: unknown, to: unknown, prefix = ''): string[] => {
    const fromObject = containerOf(from);
    const toObject = containerOf(to);
    if (!fromObject && !toObject) return [];
    const changed: string[] = [];
    for (const key of new Set([...Object.keys(fromObject ?? {}), ...Object.keys(toObject ?? {})])) {
      const path = prefix ? `${prefix}.${key}` : key;
      const a = fromObject?.[key];
      const b = toObject?.[key];
      if (!isSecretKey(key)) changed.push(...changedSecrets(a, b, path));
      else if (canonicalJson(a ?? null) !== canonicalJson(b ?? null)) changed.push(path);
    }
    return changed;
  };

  const secretTexts = (value: unknown, underSecret = false): string[] => {
    if (Array.isArray(value)) return value.flatMap((item) => secretTexts(item, underSecret));
    if (isPlainObject(value))
      return Object.entries(value).flatMap(([key, item]) =>
        secretTexts(item, underSecret || isSecretKey(key)),
      );
    if (!underSecret || (typeof value !== 'string' && typeof value !== 'number')) return [];
    const text = String(value);
    return text.length >= MIN_TEXT_LENGTH && text !== MASKED ? [text] : [];
  };

  const eventPayload = (payload: Record<string, unknown>): Record<string, unknown> => {
    const masked = mask(payload) as Record<string, unknown>;
    if (!isPlainObject(payload.updates)) return masked;
    const already = Array.isArray(payload.masked_changes) ? payload.masked_changes.map(String) : [];
    const found = Object.entries(payload.updates).flatMap(([field, change]) =>
      isPlainObject(change) ? changedSecrets(change.from, change.to, field) : [],
    );
    const all = [...new Set([...already, ...found])].sort();
    return all.length > 0 ? { ...masked, masked_changes: all } : masked;
  };

  return {
    isSecretKey,
    mask: <T>(value: T): T => mask(value) as T,
    changedSecrets,
    secretTexts: (value) => [...new Set(secretTexts(value))],
    eventPayload,
  };
}

/** Objects and arrays (by index) are walked into; anything else is a leaf. */
function containerOf(value: unknown): Record<string, unknown> | null {
  if (isPlainObject(value)) return value;
  if (Array.isArray(value)) return Object.fromEntries(value.map((item, i) => [String(i), item]));
  return null;
}
