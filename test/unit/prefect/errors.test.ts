import { describe, expect, it } from 'vitest';
import { networkError } from '../../../src/prefect/answers.js';
import {
  describePrefectBody,
  describePrefectFailure,
  kindOfStatus,
  parseRetryAfter,
  PrefectError,
  type PrefectErrorKind,
} from '../../../src/prefect/errors.js';

const TIMEZONE_MESSAGE =
  'Value error, Invalid timezone: "Mars/Olympus" (specify in IANA tzdata format, for example, America/New_York)';

/** What a Prefect 3 server answers when a request body fails validation. */
function validationBody(
  errors: Record<string, unknown>[],
  requestBody: unknown = null,
): Record<string, unknown> {
  return {
    exception_message: 'Invalid request received.',
    exception_detail: errors,
    request_body: requestBody,
  };
}

/** pydantic tries every schedule type of the union; only the cron branch says what is wrong. */
function scheduleErrors(cronBranch: Record<string, unknown>): Record<string, unknown>[] {
  const input = { cron: '0 1 * * *', timezone: 'Mars/Olympus', day_or: true };
  return [
    {
      type: 'missing',
      loc: ['body', 'schedules', 0, 'schedule', 'IntervalSchedule', 'interval'],
      msg: 'Field required',
      input,
    },
    cronBranch,
    {
      type: 'missing',
      loc: ['body', 'schedules', 0, 'schedule', 'RRuleSchedule', 'rrule'],
      msg: 'Field required',
      input,
    },
  ];
}

const timezoneError = {
  type: 'value_error',
  loc: ['body', 'schedules', 0, 'schedule', 'CronSchedule', 'timezone'],
  msg: TIMEZONE_MESSAGE,
  input: 'Mars/Olympus',
  ctx: { error: {} },
};

const cronError = {
  type: 'value_error',
  loc: ['body', 'schedules', 0, 'schedule', 'CronSchedule', 'cron'],
  msg: 'Value error, Invalid cron string: "61 * * * *"',
  input: '61 * * * *',
  ctx: { error: {} },
};

function invalid(detail: unknown): PrefectError {
  return new PrefectError('Prefect POST /deployments/ answered 422', 'invalid', 422, detail);
}

describe('kindOfStatus', () => {
  it.each<[number, PrefectErrorKind]>([
    [408, 'transient'],
    [429, 'transient'],
    [500, 'transient'],
    [502, 'transient'],
    [503, 'transient'],
    [504, 'transient'],
    [401, 'auth'],
    [403, 'auth'],
    [404, 'not-found'],
    [409, 'conflict'],
    [422, 'invalid'],
    [400, 'permanent'],
    [405, 'permanent'],
    [413, 'permanent'],
    [501, 'permanent'],
  ])('%i is %s', (status, kind) => {
    expect(kindOfStatus(status)).toBe(kind);
  });
});

describe('PrefectError', () => {
  it('is an Error named PrefectError carrying kind, status, detail and Retry-After', () => {
    const error = new PrefectError('boom', 'transient', 429, { detail: 'x' }, 1_000);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('PrefectError');
    expect(error.message).toBe('boom');
    expect(error).toMatchObject({ kind: 'transient', status: 429, retryAfterMs: 1_000 });
    expect(error.detail).toEqual({ detail: 'x' });
    expect(new PrefectError('x', 'network', null, null).retryAfterMs).toBeNull();
  });

  it.each<[PrefectErrorKind, boolean]>([
    ['network', true],
    ['transient', true],
    ['auth', false],
    ['not-found', false],
    ['invalid', false],
    ['conflict', false],
    ['permanent', false],
  ])('retryable for kind %s is %s', (kind, retryable) => {
    expect(new PrefectError('x', kind, null, null).retryable).toBe(retryable);
  });
});

describe('PrefectError.isRowDataProblem', () => {
  it('is true for a 422 about an invalid timezone', () => {
    expect(invalid(validationBody(scheduleErrors(timezoneError))).isRowDataProblem).toBe(true);
  });

  it('is true for a 422 about an invalid cron string', () => {
    expect(invalid(validationBody(scheduleErrors(cronError))).isRowDataProblem).toBe(true);
  });

  it('is true for a 422 about the parameters', () => {
    const error = invalid(
      validationBody([
        {
          type: 'dict_type',
          loc: ['body', 'parameters'],
          msg: 'Input should be a valid dictionary',
          input: [1, 2],
        },
      ]),
    );
    expect(error.isRowDataProblem).toBe(true);
  });

  it('is false for other 422s', () => {
    const tooMany = invalid(
      validationBody(
        [
          {
            type: 'less_than_equal',
            loc: ['body', 'limit'],
            msg: 'Input should be less than or equal to 200',
            input: 201,
            ctx: { le: 200 },
          },
        ],
        { limit: 201, offset: 0 },
      ),
    );
    expect(tooMany.isRowDataProblem).toBe(false);
    const notPatchable = invalid(
      validationBody(
        [
          {
            type: 'extra_forbidden',
            loc: ['body', 'name'],
            msg: 'Extra inputs are not permitted',
            input: 'x',
          },
        ],
        { name: 'x' },
      ),
    );
    expect(notPatchable.isRowDataProblem).toBe(false);
    expect(invalid({ detail: 'Unprocessable' }).isRowDataProblem).toBe(false);
    expect(invalid(null).isRowDataProblem).toBe(false);
  });

  it('is false for a status other than 422, whatever the text', () => {
    const detail = validationBody(scheduleErrors(timezoneError));
    for (const kind of ['permanent', 'conflict', 'transient', 'not-found'] as const) {
      expect(new PrefectError('x', kind, 400, detail).isRowDataProblem).toBe(false);
    }
  });

  // Regression: the match used to run over the whole 422 body, which echoes the
  // request (always holding `parameters`), so any 422 on a create looked like the row's fault.
  it('is false for a 422 about an unaccepted field on a create body that has parameters', () => {
    const createBody = {
      name: 'connector-42',
      flow_id: '6f1f3c5e-8a7b-4c2d-9e0f-1a2b3c4d5e6f',
      parameters: { source: 'x' },
      schedules: [
        {
          schedule: { cron: '0 1 * * *', timezone: 'UTC', day_or: true },
          active: true,
          slug: 'connector-sync',
          parameters: {},
        },
      ],
      pull_steps: null,
      enforce_parameter_schema: false,
    };
    const error = invalid(
      validationBody(
        [
          {
            type: 'extra_forbidden',
            loc: ['body', 'pull_steps'],
            msg: 'Extra inputs are not permitted',
            input: null,
          },
        ],
        createBody,
      ),
    );
    expect(describePrefectBody(error.detail)).toBe('Extra inputs are not permitted');
    expect(error.isRowDataProblem).toBe(false);
  });
});

describe('describePrefectBody', () => {
  it('picks the "Value error" messages of a pydantic error list, without the prefix', () => {
    expect(describePrefectBody(validationBody(scheduleErrors(timezoneError)))).toBe(
      'Invalid timezone: "Mars/Olympus" (specify in IANA tzdata format, for example, America/New_York)',
    );
    expect(describePrefectBody(validationBody([...scheduleErrors(timezoneError), cronError]))).toBe(
      'Invalid timezone: "Mars/Olympus" (specify in IANA tzdata format, for example, America/New_York); Invalid cron string: "61 * * * *"',
    );
  });

  it('falls back to the first three messages when none is a "Value error"', () => {
    const errors = ['a', 'b', 'c', 'd'].map((f) => ({
      type: 'missing',
      loc: ['body', f],
      msg: `Field ${f} required`,
    }));
    expect(describePrefectBody(validationBody(errors))).toBe(
      'Field a required; Field b required; Field c required',
    );
  });

  it('reads a FastAPI `detail` string', () => {
    expect(describePrefectBody({ detail: 'Invalid CSRF token or client identifier.' })).toBe(
      'Invalid CSRF token or client identifier.',
    );
    expect(describePrefectBody({ detail: 'Deployment not found.' })).toBe('Deployment not found.');
  });

  it('uses exception_message when there is no error list', () => {
    expect(describePrefectBody({ exception_message: 'Invalid request received.' })).toBe(
      'Invalid request received.',
    );
  });

  it('shortens text and unknown shapes, and says nothing of an empty body', () => {
    expect(describePrefectBody('x'.repeat(1_000))).toHaveLength(300);
    expect(describePrefectBody('Internal Server Error')).toBe('Internal Server Error');
    expect(describePrefectBody({ weird: 1 })).toBe('{"weird":1}');
    expect(describePrefectBody({ weird: 'y'.repeat(1_000) }).length).toBeLessThanOrEqual(300);
    expect(describePrefectBody(undefined)).toBe('');
    expect(describePrefectBody(null)).toBe('');
    expect(describePrefectBody('')).toBe('');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');

  it('reads delta seconds', () => {
    expect(parseRetryAfter('1', now)).toBe(1_000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 3 ', now)).toBe(3_000);
  });

  it('reads an HTTP date as the time left until it', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:30:00 GMT', now)).toBe(120_000);
  });

  it('reads the obsolete HTTP date forms too (RFC 850, asctime)', () => {
    expect(parseRetryAfter('Wednesday, 21-Oct-26 07:28:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Wed Oct 21 07:28:05 2026', now)).toBeGreaterThanOrEqual(0);
  });

  it('gives 0 for a date in the past', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:27:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT', now)).toBe(0);
  });

  it('ignores numbers that are not delta-seconds (digits only), instead of misreading them', () => {
    // Number() would read these as 1000 s, 16 s, 1.5 s; Date.parse would read "1.5" as a date.
    for (const value of ['1e3', '0x10', '1.5', '-5', '+5'])
      expect(parseRetryAfter(value, now)).toBeNull();
  });

  it('gives null for garbage and for no header', () => {
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('', now)).toBeNull();
    expect(parseRetryAfter('   ', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter(5, now)).toBeNull();
  });
});

describe('networkError: no answer, named by PREFECT_API_URL and what happened', () => {
  const where = {
    apiUrl: 'http://user:s3cret-pw@prefect.internal:4200/api?x=1',
    timeoutMs: 10_000,
  };
  const code = (c: string, message = ''): Error => Object.assign(new Error(message), { code: c });
  const text = (error: Error, at = where): string =>
    networkError(error, at, 'GET', '/flows/name/{name}', ['s3cret-pw']).message;

  it('names scheme, host, port and path, never the credentials or the query', () => {
    expect(text(code('ECONNREFUSED'))).toBe(
      'PREFECT_API_URL http://prefect.internal:4200/api: GET /flows/name/{name} failed: connection refused (ECONNREFUSED); check the host and port, and that Prefect is running there',
    );
  });

  it('a URL without a port: says which port was asked', () => {
    expect(text(code('ECONNREFUSED'), { ...where, apiUrl: 'http://prefect/api' })).toContain(
      'connection refused (ECONNREFUSED) on port 80, the default of http: (the URL names none)',
    );
  });

  it('DNS, timeouts, resets and routes in words', () => {
    expect(text(code('ENOTFOUND'))).toContain(
      'failed: the host name "prefect.internal" does not resolve (ENOTFOUND); check the host',
    );
    expect(text(code('ECONNABORTED', 'timeout of 10000ms exceeded'))).toContain(
      'failed: no answer within 10 s (timed out; prefect.timeoutMs)',
    );
    expect(text(code('ECONNRESET'))).toContain('failed: the connection was reset (ECONNRESET)');
    expect(text(code('EHOSTUNREACH'))).toContain('failed: no route to the host (EHOSTUNREACH)');
  });

  it('a failed call as a pass tells it: always naming PREFECT_API_URL', () => {
    const status = new PrefectError(
      'Prefect GET /work_pools/{name} answered 503',
      'transient',
      503,
      null,
    );
    expect(describePrefectFailure(status)).toBe('Prefect GET /work_pools/{name} answered 503');
    status.apiUrl = 'http://prefect:4200/api';
    expect(describePrefectFailure(status)).toBe(
      'PREFECT_API_URL http://prefect:4200/api: Prefect GET /work_pools/{name} answered 503',
    );
    const network = networkError(code('ECONNREFUSED'), where, 'GET', '/x', []);
    network.apiUrl = 'http://prefect.internal:4200/api';
    expect(describePrefectFailure(network)).toBe(network.message);
  });
});
