import { describe, expect, it } from 'vitest';
import { describeFailure } from '../../../src/cli/failure.js';
import { SourceError } from '../../../src/postgres/source.js';
import {
  classifyError,
  coerceError,
  ConfigurationError,
  UnavailableError,
} from '../../../src/domain/errors.js';
import { exitCodeOfClass } from '../../../src/domain/exit-codes.js';
import { PrefectError } from '../../../src/prefect/errors.js';

// One classifier for the CLI and the worker: what an error says about the world.

const pgError = (code: string, message = `pg ${code}`): Error =>
  Object.assign(new Error(message), { code });
const URL = 'postgres://sync:s3cret@db.example:6543/app';

describe('classifyError', () => {
  it.each<[string, unknown, string]>([
    ['ours: configuration', new ConfigurationError(['bad']), 'configuration'],
    ['a missing source table', new SourceError('no table'), 'configuration'],
    ['ours: unavailable', new UnavailableError('lock held'), 'unreachable'],
    ['Prefect: no answer', new PrefectError('x', 'network', null, null), 'unreachable'],
    ['Prefect: 503', new PrefectError('x', 'transient', 503, null), 'transient'],
    ['Prefect: credentials', new PrefectError('x', 'auth', 401, null), 'configuration'],
    ['Prefect: not an API', new PrefectError('x', 'not-an-api', null, null), 'configuration'],
    ['Postgres: wrong password', pgError('28P01'), 'configuration'],
    ['Postgres: no such role', pgError('28000'), 'configuration'],
    ['Postgres: no such database', pgError('3D000'), 'configuration'],
    ['Postgres: permission denied', pgError('42501'), 'configuration'],
    ['Postgres: connection refused', pgError('ECONNREFUSED'), 'unreachable'],
    ['Postgres: shutting down', pgError('57P01'), 'unreachable'],
    ['Postgres: class 08', pgError('08006'), 'unreachable'],
    ['Postgres: serialization failure', pgError('40001'), 'transient'],
    ['Postgres: out of memory', pgError('53200'), 'transient'],
    ['TLS: a refused certificate', pgError('SELF_SIGNED_CERT_IN_CHAIN'), 'configuration'],
    [
      'no SSL on the server',
      new Error('The server does not support SSL connections'),
      'configuration',
    ],
    ['a lost connection', new Error('Connection terminated unexpectedly'), 'unreachable'],
    ['a bug', new TypeError('x is not a function'), 'permanent'],
    ['a thrown string', 'boom', 'permanent'],
  ])('%s → %s', (_what, error, kind) => {
    expect(classifyError(error)).toBe(kind);
  });

  it('maps to the documented exit codes', () => {
    const classes = ['configuration', 'unreachable', 'transient', 'permanent'] as const;
    expect(Object.fromEntries(classes.map((c) => [c, exitCodeOfClass(c)]))).toEqual({
      configuration: 64,
      unreachable: 69,
      transient: 69,
      permanent: 1,
    });
  });
});

describe('coerceError', () => {
  it('keeps an Error as it is, wraps anything else and keeps it as the cause', () => {
    const error = new RangeError('r');
    expect(coerceError(error)).toBe(error);
    const wrapped = coerceError({ message: 'from an object', code: 7 });
    expect(wrapped.message).toBe('from an object');
    expect(wrapped.cause).toEqual({ message: 'from an object', code: 7 });
    expect(coerceError('plain').message).toBe('plain');
    expect(coerceError(42).message).toBe('42');
    expect(coerceError(undefined).message).toBe('undefined');
  });

  it('every error class of ours has its name', () => {
    expect(new ConfigurationError(['x']).name).toBe('ConfigurationError');
    expect(new UnavailableError('x').name).toBe('UnavailableError');
    expect(new SourceError('x').name).toBe('SourceError');
    expect(new PrefectError('x', 'network', null, null).name).toBe('PrefectError');
  });
});

describe('describeFailure: the one line a failed command ends with', () => {
  it('names the Postgres target (never the password) and what to check', () => {
    const failure = describeFailure(pgError('3D000', 'database "app" does not exist'), URL);
    expect(failure).toEqual({
      exitCode: 64,
      message:
        'Postgres (host db.example, port 6543, database "app", user "sync"): database "app" does not exist; check the database name in DATABASE_URL',
    });
    expect(failure.message).not.toContain('s3cret');
    expect(describeFailure(pgError('ECONNREFUSED', 'connect ECONNREFUSED'), URL).exitCode).toBe(69);
  });

  it('our own errors as they are, Prefect with its prefix, a bug with its stack', () => {
    expect(describeFailure(new UnavailableError('another process holds the lock'), URL)).toEqual({
      exitCode: 69,
      message: 'another process holds the lock',
    });
    expect(
      describeFailure(new PrefectError('GET /x failed: ECONNREFUSED', 'network', null, null), URL),
    ).toEqual({
      exitCode: 69,
      message: 'Prefect is unavailable: GET /x failed: ECONNREFUSED',
    });
    const bug = describeFailure(new TypeError('x is not a function'), URL);
    expect(bug.exitCode).toBe(1);
    expect(bug.message).toMatch(/^unexpected error: TypeError: x is not a function\n {4}at /);
  });
});
