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
