import { describe, expect, it } from 'vitest';
import { cronProblem, normalizeCron } from '../../../src/domain/cron.js';

describe('normalizeCron', () => {
  it.each([
    ['0 1 * * *', '0 1 * * *'],
    ['0  1 * * *', '0 1 * * *'],
    ['  0 1 * * *  ', '0 1 * * *'],
    ['0\t1\n*  *   *', '0 1 * * *'],
    ['*/15 * * * mon-fri', '*/15 * * * mon-fri'],
  ])('%j -> %j', (input, expected) => {
    expect(normalizeCron(input)).toBe(expected);
  });
});

describe('cronProblem: accepted expressions', () => {
  it.each([
    '0 1 * * *',
    '* * * * *',
    '*/15 * * * *',
    '0 */6 * * *',
    '5 4 * * *',
    '0 0 1,15 * *',
    '0 9 * * mon-fri',
    '0 9 * * MON-FRI',
    '0 9 * * thu',
    '0 9 * * 0-7',
    '0 9 1 jan *',
    '0 9 * jan-mar *',
    '30 2 29 2 *',
  ])('%j is a valid 5-field cron', (cron) => {
    expect(cronProblem(cron)).toBeNull();
  });

  it.each(['0  1 * * *', '  0 1 * * *', '0 1 * * *  ', '0\t1 * * *'])(
    '%j is accepted once its whitespace is normalised',
    (cron) => {
      expect(cronProblem(cron)).toBeNull();
    },
  );

  it.each(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'])(
    'the macro %j is accepted',
    (macro) => {
      expect(cronProblem(macro)).toBeNull();
    },
  );

  it('macros are case-insensitive and may carry surrounding whitespace', () => {
    expect(cronProblem('@DAILY')).toBeNull();
    expect(cronProblem('  @hourly ')).toBeNull();
  });
});

describe('cronProblem: rejected expressions say what to fix', () => {
  it('a 6-field cron (seconds) is rejected and the message asks for 5 fields', () => {
    expect(cronProblem('0 1 * * * *')).toBe(
      'cron "0 1 * * * *" has 6 fields; use 5 (minute hour day-of-month month day-of-week)',
    );
  });

  it('a 4-field cron is rejected and the message asks for 5 fields', () => {
    expect(cronProblem('0 1 * *')).toBe(
      'cron "0 1 * *" has 4 fields; use 5 (minute hour day-of-month month day-of-week)',
    );
  });

  it('the field count is taken after whitespace is normalised', () => {
    expect(cronProblem('  0   1 * *  ')).toMatch(/^cron "0 1 \* \*" has 4 fields; use 5/);
  });

  it('a hashed field "H" is rejected as unsupported by Prefect', () => {
    expect(cronProblem('H 2 * * *')).toBe(
      'cron "H 2 * * *" uses the random/hashed field "H", which Prefect rejects',
    );
  });

  it('a hashed field with a range "H(0-29)" is rejected', () => {
    expect(cronProblem('H(0-29) * * * *')).toBe(
      'cron "H(0-29) * * * *" uses the random/hashed field "H(0-29)", which Prefect rejects',
    );
  });

  it('hashed fields in lower case and inside lists or steps are rejected too', () => {
    expect(cronProblem('h 2 * * *')).toMatch(/random\/hashed field "h"/);
    expect(cronProblem('0 H/2 * * *')).toMatch(/random\/hashed field "H\/2"/);
    expect(cronProblem('0 1,H * * *')).toMatch(/random\/hashed field "1,H"/);
  });

  it('a random field "R" is rejected', () => {
    expect(cronProblem('R 2 * * *')).toBe(
      'cron "R 2 * * *" uses the random/hashed field "R", which Prefect rejects',
    );
  });

  it('"R" alone is rejected for its field count', () => {
    expect(cronProblem('R')).toBe(
      'cron "R" has 1 fields; use 5 (minute hour day-of-month month day-of-week)',
    );
  });

  it.each([
    ['61 * * * *', 'got value 61 expected range 0-59'],
    ['0 24 * * *', 'got value 24 expected range 0-23'],
    ['0 0 0 * *', 'got value 0 expected range 1-31'],
    ['0 0 * 13 *', 'got value 13 expected range 1-12'],
    ['0 0 * * 8', 'got value 8 expected range 0-7'],
  ])('the out-of-range cron %j is rejected naming the bad value and the range', (cron, why) => {
    const problem = cronProblem(cron);
    expect(problem?.startsWith(`invalid cron "${cron}": `)).toBe(true);
    expect(problem).toContain(why);
  });

  it('a step of zero is rejected', () => {
    expect(cronProblem('*/0 * * * *')).toMatch(/^invalid cron "\*\/0 \* \* \* \*": /);
  });

  it('a cron that can never fire (31 February) is rejected', () => {
    expect(cronProblem('0 0 31 2 *')).toMatch(/^invalid cron "0 0 31 2 \*": .*day of month/i);
  });

  it('letters that are not day or month names are rejected', () => {
    expect(cronProblem('a b c d e')).toMatch(/^invalid cron "a b c d e": /);
  });

  it('an empty or blank cron is rejected (blank schedules are handled by validation, not here)', () => {
    for (const cron of ['', '   ']) {
      expect(cronProblem(cron)).toBe(
        'cron "" has 1 fields; use 5 (minute hour day-of-month month day-of-week)',
      );
    }
  });

  it('full-width digits are rejected as non-ASCII', () => {
    expect(cronProblem('０ 1 * * *')).toBe(
      'cron "０ 1 * * *" contains non-ASCII characters; write it with ASCII digits and names (0-9, mon, jan)',
    );
  });

  it('an emoji is rejected as non-ASCII, quoting the cron as given', () => {
    expect(cronProblem('0 1 * * * 🙂')).toBe(
      'cron "0 1 * * * 🙂" contains non-ASCII characters; write it with ASCII digits and names (0-9, mon, jan)',
    );
  });

  it('accented day names are rejected as non-ASCII', () => {
    expect(cronProblem('0 9 * * mön')).toMatch(/non-ASCII/);
  });

  it.each(['@reboot', '@every 5m', '@fortnightly'])(
    'the unknown macro %j is rejected by name',
    (macro) => {
      expect(cronProblem(macro)).toBe(`unknown cron macro "${macro}"`);
    },
  );
});

// cron.ts says it "checks a cron string the way Prefect will judge it". Checked against
// Prefect 3.9.1's own validator (prefect._internal.schemas.validators.validate_cron_string,
// vendored croniter), cron-parser disagrees with Prefect on these dialect details:
describe('cronProblem: agreement with Prefect 3.9.1 on dialect details', () => {
  // BUG: cron-parser accepts "5L" (last Friday, Quartz style) but Prefect's croniter
  // answers 422 "Invalid cron string". The row passes validation and only fails at
  // the Prefect call.
  it('rejects "0 9 * * 5L", which Prefect rejects', () => {
    expect(cronProblem('0 9 * * 5L')).not.toBeNull();
  });

  // BUG: Prefect accepts "L5" (croniter's spelling of "last Friday of the month"),
  // cron-parser rejects it, so a row Prefect would take is marked invalid.
  it('accepts "0 9 * * L5", which Prefect accepts', () => {
    expect(cronProblem('0 9 * * L5')).toBeNull();
  });
});
