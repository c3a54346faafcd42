import { describe, expect, it } from 'vitest';
import { moreNote } from '../../../src/cli/commands/events.js';
import { parseSince } from '../../../src/cli/since.js';

const NOW = new Date('2026-03-10T12:00:00Z');

describe('events --since', () => {
  it.each([
    ['45s', '2026-03-10T11:59:15.000Z'],
    ['30m', '2026-03-10T11:30:00.000Z'],
    ['2h', '2026-03-10T10:00:00.000Z'],
    ['7d', '2026-03-03T12:00:00.000Z'],
    ['2w', '2026-02-24T12:00:00.000Z'],
    ['1h30m', '2026-03-10T10:30:00.000Z'],
    [' 90m ', '2026-03-10T10:30:00.000Z'],
    ['0s', '2026-03-10T12:00:00.000Z'],
    ['2026-01-31', '2026-01-31T00:00:00.000Z'],
    ['2026-01-31T08:00:00Z', '2026-01-31T08:00:00.000Z'],
    ['2026-01-31T08:00:00+02:00', '2026-01-31T06:00:00.000Z'],
  ])('%s', (value, expected) => {
    const since = parseSince(value, NOW);
    expect(since).toBeInstanceOf(Date);
    expect((since as Date).toISOString()).toBe(expected);
  });

  it.each(['', '30', '5x', '-1h', '1.5h', '2 hours', 'h', 'yesterday', '2026-13-45', '31/01/2026'])(
    'refuses %j',
    (value) => {
      expect(parseSince(value, NOW)).toMatch(/^expected an ISO date .* or a duration such as/);
    },
  );

  it('a duration too long for a date is refused, not turned into an invalid date', () => {
    expect(typeof parseSince('99999999999999999d', NOW)).toBe('string');
  });
});

describe('the "more events" note', () => {
  it('counts with separators', () => {
    expect(moreNote(100, 2_345)).toBe(
      'Showing the newest 100 of 2,345 events; use --limit to see more or --since to narrow.',
    );
  });
});
