import { isInstallationTag } from './ownership.js';
import { isPlainObject } from './json.js';
import type { RowOverrides, SourceRow } from './types.js';
import { describe } from './describe.js';

// A row's own settings for its deployment (docs/concepts/connectors-and-deployments.md, "Per-connector settings").

/** The optional per-connector columns: absent or null means "as configured". */
export function parseOverrides(row: SourceRow, reservedTags: string[]): RowOverrides | string {
  const workPoolName = optionalName(row.workPoolName, 'work_pool_name');
  if (typeof workPoolName === 'object' && workPoolName !== null) return workPoolName.problem;
  const workQueueName = optionalName(row.workQueueName, 'work_queue_name');
  if (typeof workQueueName === 'object' && workQueueName !== null) return workQueueName.problem;
  let jobVariables: Record<string, unknown> | null = null;
  if (row.jobVariables !== null && row.jobVariables !== undefined) {
    const value =
      typeof row.jobVariables === 'string' ? parseJson(row.jobVariables) : row.jobVariables;
    if (!isPlainObject(value))
      return `job_variables must be a JSON object (merged over deployment.jobVariables), got ${describe(value)}`;
    jobVariables = value;
  }
  const tags = parseTags(row.tags, reservedTags);
  if (typeof tags === 'string') return tags;
  let concurrencyLimit: number | null = null;
  if (row.concurrencyLimit !== null && row.concurrencyLimit !== undefined) {
    const n =
      typeof row.concurrencyLimit === 'string'
        ? Number(row.concurrencyLimit)
        : row.concurrencyLimit;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
      return `concurrency_limit must be a whole number of at least 1, got ${JSON.stringify(row.concurrencyLimit)}`;
    concurrencyLimit = n;
  }
  return { workPoolName, workQueueName, jobVariables, tags, concurrencyLimit };
}

function optionalName(value: unknown, column: string): string | null | { problem: string } {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string')
    return { problem: `${column} must be text, got ${describe(value)}` };
  if (value.trim() === '')
    return { problem: `${column} is empty; leave it null for the configured one` };
  return value;
}

/** A row's extra tags: text, and never one connector-sync itself gives (they tell deployments apart). */
function parseTags(value: unknown, reserved: string[]): string[] | string {
  if (value === null || value === undefined) return [];
  const tags = typeof value === 'string' ? parseJson(value) : value;
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t.trim() !== ''))
    return `tags must be a list of non-empty text, got ${describe(tags)}`;
  const taken = (tags as string[]).find(
    (t) => t.startsWith('connector-') || isInstallationTag(t) || reserved.includes(t),
  );
  if (taken !== undefined)
    return `tag "${taken}" is connector-sync's own (connector-*, cs-installation:* and the managed tag tell deployments apart); rename it`;
  return tags as string[];
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
