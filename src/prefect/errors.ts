import type { ErrorClass } from '../domain/errors.js';
import { isPlainObject } from '../domain/json.js';

export type PrefectErrorKind =
  | 'network' // no answer: refused, reset, timed out
  | 'transient' // 408, 429, 5xx: worth retrying
  | 'auth' // 401 / 403: credentials refused
  | 'not-found'
  | 'invalid' // 422
  | 'conflict' // 409
  | 'permanent' // any other 4xx
  | 'not-an-api'; // PREFECT_API_URL answers, but not as Prefect's API (no /api, HTML, TLS to plain HTTP)

const TRANSIENT = new Set([408, 429, 500, 502, 503, 504]);

/** A failed Prefect call, classified; its message never holds credentials. */
export class PrefectError extends Error {
  /** The answer's body, without what it echoes of our request (it is logged and kept). */
  readonly detail: unknown;
  /** PREFECT_API_URL without credentials, once the client that met it has said (failures name it). */
  apiUrl: string | null = null;

  constructor(
    message: string,
    readonly kind: PrefectErrorKind,
    readonly status: number | null,
    detail: unknown,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'PrefectError';
    this.detail = withoutEchoes(detail);
  }

  /** What it says about the world (domain/errors.ts classifyError reads it). */
  get errorClass(): ErrorClass {
    if (this.kind === 'network') return 'unreachable';
    // Anything else Prefect refuses outside a change is about the setup it was pointed at.
    return this.kind === 'transient' ? 'transient' : 'configuration';
  }

  get retryable(): boolean {
    return this.kind === 'network' || this.kind === 'transient';
  }

  /** A 422 caused by the row's own data (cron, timezone, parameters): the connector is invalid. */
  get isRowDataProblem(): boolean {
    const body = isPlainObject(this.detail) ? this.detail : {};
    // A PATCH that breaks the deployment's parameter schema gets a 409.
    if (this.kind === 'conflict')
      return (
        typeof body.detail === 'string' &&
        /^Error updating deployment: Validation failed/.test(body.detail)
      );
    if (this.kind !== 'invalid') return false;
    // Only what the validator says (msg, loc), never the request it echoes back.
    const said = [
      typeof body.detail === 'string' ? body.detail : '',
      ...(Array.isArray(body.exception_detail) ? body.exception_detail : [])
        .filter(isPlainObject)
        .map((d) => `${typeof d.msg === 'string' ? d.msg : ''} ${JSON.stringify(d.loc ?? [])}`),
    ];
    return said.some((text) =>
      /Invalid timezone|Invalid cron|cron string|"body","parameters"|parameter size|parameters? (is|are) too large|Validation failed (for field|\. Failure reason)/i.test(
        text,
      ),
    );
  }
}

/**
 * A failed call as a pass's failure is told (once, in the log, the pass
 * history and a command's last line): always naming PREFECT_API_URL, never
 * a credential.
 */
export function describePrefectFailure(error: PrefectError): string {
  if (error.apiUrl === null || error.message.startsWith('PREFECT_API_URL ')) return error.message;
  return `PREFECT_API_URL ${error.apiUrl}: ${error.message}`;
}

/** Any error a pass ended with, as told: a Prefect failure names PREFECT_API_URL. */
export function failureText(error: Error): string {
  return error instanceof PrefectError ? describePrefectFailure(error) : error.message;
}

export function kindOfStatus(status: number): PrefectErrorKind {
  if (TRANSIENT.has(status)) return 'transient';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not-found';
  if (status === 409) return 'conflict';
  if (status === 422) return 'invalid';
  return 'permanent';
}

/**
 * An error body without what Prefect echoes of our request: its 422s carry
 * the whole `request_body` and each validation error's `input` — a
 * connector's parameters, secrets and all. The error's detail is logged and
 * kept; the validator's messages (msg, loc) are all we read.
 */
export function withoutEchoes(body: unknown): unknown {
  if (!isPlainObject(body)) return body;
  const without = (object: Record<string, unknown>, key: string): Record<string, unknown> =>
    Object.fromEntries(Object.entries(object).filter(([k]) => k !== key));
  const rest = without(body, 'request_body');
  if (Array.isArray(rest.exception_detail))
    rest.exception_detail = rest.exception_detail.map((d: unknown) =>
      isPlainObject(d) ? without(d, 'input') : d,
    );
  return rest;
}

/** A short human reading of Prefect's error body (FastAPI `detail` or pydantic errors). */
export function describePrefectBody(body: unknown): string {
  if (!isPlainObject(body)) return typeof body === 'string' ? body.slice(0, 300) : '';
  if (typeof body.detail === 'string') return body.detail;
  const details = body.exception_detail;
  if (Array.isArray(details)) {
    // pydantic reports every union branch; the "Value error" ones say what is wrong.
    const messages = details
      .filter(isPlainObject)
      .map((d) => (typeof d.msg === 'string' ? d.msg : ''))
      .filter((m) => m !== '');
    const valueErrors = messages.filter((m) => m.startsWith('Value error'));
    const chosen = valueErrors.length > 0 ? valueErrors : messages.slice(0, 3);
    return chosen.map((m) => m.replace(/^Value error, /, '')).join('; ');
  }
  if (typeof body.exception_message === 'string') return body.exception_message;
  return JSON.stringify(body).slice(0, 300);
}

/** Parses Retry-After (delta seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: unknown, now: number): number | null {
  if (typeof value !== 'string') return null;
  const text = value.trim();
  // RFC 9110: delta-seconds is digits only; an HTTP date always names a day and month.
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return null;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
