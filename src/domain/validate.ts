import { cronProblem, normalizeCron } from './cron.js';
import { inspectJson, isPlainObject, prefectJsonSize } from './json.js';
import { PREFECT_TIMEZONES } from './timezones.generated.js';
import { describe } from './describe.js';
import { parseOverrides } from './overrides.js';
import type { ConnectorRow, IdKind, Problem, SourceRow } from './types.js';

export const MAX_PARAMETERS_BYTES = 512 * 1024;
export const MAX_NAME_LENGTH = 2000;
/**
 * Prefect 3.9.1 answers 500 ("Maximum serialization depth exceeded") for
 * parameters nested about 250 deep; 100 leaves room for the wrappers Prefect
 * adds when it serialises runs and events.
 */
export const MAX_PARAMETERS_DEPTH = 100;
/**
 * Prefect on Postgres indexes the deployment name with a btree, whose entries
 * cannot exceed 2704 bytes: a 3000-byte name gets a 503. 1000 bytes is far
 * from that and from any sensible id.
 */
export const MAX_DEPLOYMENT_NAME_BYTES = 1000;
const FORBIDDEN_NAME_CHARS = /[/%&><]/;

export interface ValidationSettings {
  idKind: IdKind;
  defaultTimezone: string;
  nameTemplate: string;
  /** Tags a row may not add: the managed tag and deployment.tags. */
  reservedTags?: string[];
}

export interface ValidatedRows {
  /** Live rows (not soft-deleted) that can be synced. */
  valid: ConnectorRow[];
  /** Ids of rows marked deleted (deleted_at set). */
  softDeleted: Map<string, string | null>;
  problems: Problem[];
}

export function deploymentName(template: string, id: string): string {
  return template.replaceAll('{id}', id);
}

/** Splits rows into valid connectors, soft-deleted ids and precise problems. No I/O. */
export function validateRows(rows: SourceRow[], settings: ValidationSettings): ValidatedRows {
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.id, (counts.get(row.id) ?? 0) + 1);

  const result: ValidatedRows = { valid: [], softDeleted: new Map(), problems: [] };
  const reported = new Set<string>();
  for (const row of rows) {
    const name = typeof row.name === 'string' ? row.name : null;
    if ((counts.get(row.id) ?? 0) > 1) {
      // One connector, one problem: a problem per row meant a failed event per row.
      if (reported.has(row.id)) continue;
      reported.add(row.id);
      result.problems.push(
        invalid(
          row.id,
          name,
          `id "${row.id}" appears ${counts.get(row.id)} times in the source; ids must be unique`,
        ),
      );
      continue;
    }
    if (row.deleted) {
      result.softDeleted.set(row.id, name);
      continue;
    }
    const checked = validateRow(row, settings);
    if (typeof checked === 'string') result.problems.push(invalid(row.id, name, checked));
    else result.valid.push(checked);
  }
  return result;
}

/** Returns the row with defaults applied, or a message that says what to fix. */
export function validateRow(row: SourceRow, settings: ValidationSettings): ConnectorRow | string {
  const idProblem = checkId(row.id, settings);
  if (idProblem) return idProblem;

  if (typeof row.name !== 'string') return `name must be text, got ${describe(row.name)}`;
  if (row.name.trim() === '') return 'name is empty; give the connector a name';
  if (row.name.length > MAX_NAME_LENGTH) {
    return `name is ${row.name.length} characters long; keep it under ${MAX_NAME_LENGTH}`;
  }
  if (row.name.includes('\u0000')) return 'name contains a NUL character; remove it';

  const cron = parseSchedule(row.schedule);
  if (typeof cron === 'object' && cron !== null) return cron.problem;
  const timezone = parseTimezone(row.timezone, settings.defaultTimezone);
  if (typeof timezone === 'object') return timezone.problem;

  let isActive = true;
  if (row.isActive !== null && row.isActive !== undefined) {
    if (typeof row.isActive !== 'boolean')
      return `is_active must be a boolean, got ${describe(row.isActive)}`;
    isActive = row.isActive;
  }

  const parameters = parseParameters(
    row.parameters,
    settings.idKind === 'number' ? Number(row.id) : row.id,
  );
  if (typeof parameters === 'string') return parameters;
  const overrides = parseOverrides(row, settings.reservedTags ?? []);
  if (typeof overrides === 'string') return overrides;

  return {
    id: row.id,
    name: row.name,
    cron,
    timezone,
    isActive,
    parameters,
    prefectDeploymentId: row.prefectDeploymentId,
    overrides,
  };
}

/** A 5-field cron (normalised), null for none, or what to fix. */
function parseSchedule(schedule: unknown): string | null | { problem: string } {
  if (schedule === null || schedule === undefined) return null;
  if (typeof schedule !== 'string')
    return { problem: `schedule must be text, got ${describe(schedule)}` };
  if (schedule.trim() === '') return null;
  const problem = cronProblem(schedule);
  return problem ? { problem } : normalizeCron(schedule);
}

function parseTimezone(timezone: unknown, fallback: string): string | { problem: string } {
  if (timezone === null || timezone === undefined) return fallback;
  if (typeof timezone !== 'string')
    return { problem: `timezone must be text, got ${describe(timezone)}` };
  if (timezone.trim() === '')
    return {
      problem:
        'timezone is empty; leave it null for deployment.defaultTimezone or use an IANA name such as "Europe/Berlin"',
    };
  if (!PREFECT_TIMEZONES.has(timezone))
    return {
      problem: `unknown timezone "${timezone}"; use an IANA name such as "Europe/Berlin" or "UTC"`,
    };
  return timezone;
}

function checkId(id: string, settings: ValidationSettings): string | null {
  if (id.trim() === '') return 'id is empty';
  if (settings.idKind === 'number' && !Number.isSafeInteger(Number(id))) {
    return `id ${id} is larger than 2^53 and cannot be passed to the flow as an exact JSON number`;
  }
  const name = deploymentName(settings.nameTemplate, id);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_DEPLOYMENT_NAME_BYTES) {
    return `deployment name "${name.slice(0, 40)}…" would be ${bytes} bytes long; Prefect needs it under ${MAX_DEPLOYMENT_NAME_BYTES}, so use a shorter id`;
  }
  if (FORBIDDEN_NAME_CHARS.test(name) || hasControlCharacter(name)) {
    return `deployment name "${name}" would contain a character Prefect forbids (/ % & > < or a control character); change the id`;
  }
  return null;
}

const NUL_MESSAGE =
  'parameters contain a NUL character (\\u0000), which Prefect cannot store; remove it';

/** parameters arrive as the column's JSON text (or null). */
function parseParameters(
  raw: unknown,
  connectorId: string | number,
): Record<string, unknown> | string {
  if (raw === null || raw === undefined) return {};
  let value: unknown = raw;
  if (typeof raw === 'string') {
    if (raw.includes('\u0000')) return NUL_MESSAGE;
    try {
      value = JSON.parse(raw);
    } catch {
      return 'parameters are not valid JSON; store a JSON object such as {"source": "x"}';
    }
  }
  if (!isPlainObject(value)) {
    return `parameters must be a JSON object, got ${describe(value)}; wrap values in an object such as {"value": ...}`;
  }
  const shape = inspectJson(value, MAX_PARAMETERS_DEPTH);
  if (shape.depth > MAX_PARAMETERS_DEPTH) {
    return `parameters are nested more than ${MAX_PARAMETERS_DEPTH} levels deep; Prefect cannot serialise them, so flatten them`;
  }
  if (shape.nul) return NUL_MESSAGE;
  if (shape.loneSurrogate) {
    return 'parameters contain a lone UTF-16 surrogate (such as \\ud800 without its pair), which Prefect cannot store; fix the escape';
  }
  // Measured as sent: the deployment's parameters include connector_id.
  const size = prefectJsonSize({ ...value, connector_id: connectorId });
  if (size > MAX_PARAMETERS_BYTES) {
    return `parameters are ${size} bytes as Prefect measures them; the limit is ${MAX_PARAMETERS_BYTES} (512 KiB)`;
  }
  return value;
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return true;
  return false;
}

function invalid(connectorId: string, connectorName: string | null, message: string): Problem {
  return { connectorId, connectorName, status: 'invalid', message, retryable: false };
}
