// Small JSON helpers shared by validation and diffing.

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Structural equality of JSON values; object key order does not matter. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]))
    );
  }
  return false;
}

/** null, {} and [] all mean "nothing" for job_variables, pull_steps, parameters and path. */
export function isEmptyish(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isPlainObject(value)) return Object.keys(value).length === 0;
  return false;
}

/**
 * Size of a value as Prefect measures parameters: Python's compact json.dumps
 * with ASCII escaping, so DEL and every non-ASCII UTF-16 unit cost six bytes (\uXXXX).
 */
export function prefectJsonSize(value: unknown): number {
  const text = JSON.stringify(value) ?? '';
  let size = 0;
  for (let i = 0; i < text.length; i++) size += text.charCodeAt(i) >= 0x7f ? 6 : 1;
  return size;
}

export interface JsonShape {
  /** Nesting depth: a scalar is 0, `{}` is 1, `{"a": []}` is 2. Counted up to `maxDepth + 1`. */
  depth: number;
  /** A string or key holds NUL (U+0000). */
  nul: boolean;
  /** A string or key holds a lone UTF-16 surrogate (\ud800 without its pair). */
  loneSurrogate: boolean;
}

/**
 * Walks a parsed JSON value without recursion, so a value nested 100,000 deep
 * (JSON.parse takes it) cannot overflow the stack. Stops descending past
 * `maxDepth`: the caller rejects such a value anyway.
 */
export function inspectJson(value: unknown, maxDepth: number): JsonShape {
  const shape: JsonShape = { depth: 0, nul: false, loneSurrogate: false };
  const checkText = (text: string): void => {
    if (text.includes('\u0000')) shape.nul = true;
    if (!text.isWellFormed()) shape.loneSurrogate = true;
  };
  const stack: [unknown, number][] = [[value, 0]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [item, depth] = next;
    if (typeof item === 'string') {
      checkText(item);
      continue;
    }
    if (typeof item !== 'object' || item === null) continue;
    shape.depth = Math.max(shape.depth, depth + 1);
    if (depth + 1 > maxDepth) continue;
    if (Array.isArray(item)) {
      for (const child of item) stack.push([child, depth + 1]);
    } else {
      for (const [key, child] of Object.entries(item as Record<string, unknown>)) {
        checkText(key);
        stack.push([child, depth + 1]);
      }
    }
  }
  return shape;
}

/** JSON with object keys sorted at every depth: equal values give equal text (for hashing). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isPlainObject(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}
