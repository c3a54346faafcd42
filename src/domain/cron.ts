import { CronExpressionParser } from 'cron-parser';

// Prefect's croniter accepts these macros (checked against a real 3.9.1 server).
const MACROS = new Set([
  '@yearly',
  '@annually',
  '@monthly',
  '@weekly',
  '@daily',
  '@midnight',
  '@hourly',
]);

/** Collapses runs of whitespace so "0  1 * * *" and "0 1 * * *" are the same schedule. */
export function normalizeCron(cron: string): string {
  return cron.trim().split(/\s+/).join(' ');
}

/**
 * Checks a cron string the way Prefect will judge it, and says what to fix.
 * cron-parser alone is too lenient (it takes six fields and hashed `H` fields),
 * so the shape is checked first and cron-parser only checks the ranges.
 */
export function cronProblem(cron: string): string | null {
  const normalized = normalizeCron(cron);
  if (MACROS.has(normalized.toLowerCase())) return null;
  if (normalized.startsWith('@')) return `unknown cron macro "${normalized}"`;
  if (/[^\x20-\x7e]/.test(normalized))
    return `cron "${cron}" contains non-ASCII characters; write it with ASCII digits and names (0-9, mon, jan)`;
  const fields = normalized.split(' ');
  if (fields.length !== 5) {
    return `cron "${normalized}" has ${fields.length} fields; use 5 (minute hour day-of-month month day-of-week)`;
  }
  const hashed = fields.find((field) =>
    field.split(/[,/-]/).some((token) => /^[HR](\(.*)?$/i.test(token)),
  );
  if (hashed !== undefined) {
    return `cron "${normalized}" uses the random/hashed field "${hashed}", which Prefect rejects`;
  }
  const dayOfWeek = fields[4]!;
  if (/\dL/i.test(dayOfWeek)) {
    return `cron "${normalized}": Prefect does not take "${dayOfWeek}"; write the last weekday of a month as L<day>, e.g. L5`;
  }
  try {
    CronExpressionParser.parse(normalized, { strict: false }).next();
  } catch (error) {
    // Prefect's croniter also takes dialect cron-parser refuses (L5, wrapping
    // ranges such as 5-1): leave those to Prefect, whose 422 still marks the row invalid.
    if (fields.some(isCroniterDialect)) return null;
    const reason = error instanceof Error ? error.message : String(error);
    return `invalid cron "${normalized}": ${reason}`;
  }
  return null;
}

function isCroniterDialect(field: string): boolean {
  if (/L|#/i.test(field)) return true;
  return field.split(',').some((part) => {
    const range = /^(\d+)-(\d+)/.exec(part);
    return range !== null && Number(range[1]) > Number(range[2]);
  });
}
