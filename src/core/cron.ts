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
  if (/[^\x20-\x7e]/.test(normalized)) return `cron "${cron}" contains non-ASCII characters`;
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
  try {
    CronExpressionParser.parse(normalized, { strict: false }).next();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return `invalid cron "${normalized}": ${reason}`;
  }
  return null;
}
