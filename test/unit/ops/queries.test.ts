import { describe, expect, it } from 'vitest';
import {
  BadRequest,
  connectorsQueryOf,
  eventsQueryOf,
  MAX_PAGE,
  passesQueryOf,
} from '../../../src/ops/queries.js';
import { containsPattern } from '../../../src/postgres/state.js';
import { parseWakeup } from '../../../src/worker/wakeups.js';

const params = (query: string): URLSearchParams => new URLSearchParams(query);
const CURSOR = '0190c2a4-7d1e-7c3b-9f00-123456789abc';

describe('eventsQueryOf', () => {
  it('reads every filter, with a default page of 100', () => {
    expect(eventsQueryOf(params(''))).toEqual({
      since: undefined,
      connectorId: undefined,
      action: undefined,
      after: undefined,
      limit: 100,
    });
    expect(
      eventsQueryOf(
        params(`since=2026-12-01T00:00:00Z&connector=42&action=failed&after=${CURSOR}&limit=7`),
      ),
    ).toEqual({
      since: new Date('2026-12-01T00:00:00Z'),
      connectorId: '42',
      action: 'failed',
      after: CURSOR,
      limit: 7,
    });
  });

  it.each([
    ['action=exploded', /action must be one of created, updated/],
    ['since=yesterday', /since must be an ISO date/],
    ['after=42', /after must be an event id/],
    ['limit=0', /limit must be a whole number from 1 to 1000/],
    [`limit=${MAX_PAGE + 1}`, /limit must be/],
    ['limit=2.5', /limit must be/],
    ['limit=ten', /limit must be/],
  ])('refuses %s', (query, message) => {
    expect(() => eventsQueryOf(params(query))).toThrow(BadRequest);
    expect(() => eventsQueryOf(params(query))).toThrow(message);
  });
});

describe('connectorsQueryOf', () => {
  it('a status of the vocabulary, a cursor, a page size', () => {
    expect(connectorsQueryOf(params('status=held&after=41&limit=3'))).toEqual({
      status: 'held',
      q: undefined,
      deleted: false,
      after: '41',
      limit: 3,
    });
    expect(() => connectorsQueryOf(params('status=sad'))).toThrow(
      /status must be one of synced, pending/,
    );
  });

  it('deleted connectors only when asked for: deleted=true or false', () => {
    expect(connectorsQueryOf(params('deleted=true')).deleted).toBe(true);
    expect(connectorsQueryOf(params('deleted=false')).deleted).toBe(false);
    expect(() => connectorsQueryOf(params('deleted=yes'))).toThrow('deleted must be true or false');
  });
});

describe('connectorsQueryOf: search', () => {
  it('trims q, treats empty values as absent, and refuses a very long q', () => {
    expect(connectorsQueryOf(params('q=%20ab%25_%20&status=&after='))).toEqual({
      status: undefined,
      q: 'ab%_',
      deleted: false,
      after: undefined,
      limit: 100,
    });
    expect(connectorsQueryOf(params('q=%20%20')).q).toBeUndefined();
    expect(() => connectorsQueryOf(params(`q=${'x'.repeat(201)}`))).toThrow(/q must be at most/);
  });
});

describe('containsPattern', () => {
  it('matches anywhere and takes the LIKE wildcards and the escape literally', () => {
    expect(containsPattern('42')).toBe('%42%');
    expect(containsPattern('a%b_c\\d')).toBe('%a\\%b\\_c\\\\d%');
  });
});

describe('passesQueryOf', () => {
  it('a result of the vocabulary, a pass id as the cursor, a page size', () => {
    expect(passesQueryOf(params(`result=error&before=${CURSOR}&limit=5`))).toEqual({
      result: 'error',
      before: CURSOR,
      limit: 5,
    });
    expect(passesQueryOf(params(''))).toEqual({ result: undefined, before: undefined, limit: 100 });
    expect(() => passesQueryOf(params('result=fine'))).toThrow(
      /result must be one of ok, problems, aborted, error/,
    );
    expect(() => passesQueryOf(params('before=41'))).toThrow(BadRequest);
    expect(() => passesQueryOf(params(`limit=${MAX_PAGE + 1}`))).toThrow(/limit must be/);
  });
});

describe('parseWakeup', () => {
  it.each<[string | undefined, string[] | null]>([
    [undefined, null],
    ['', null],
    ['  ', null],
    ['42', ['42']],
    ['1,2, 3', ['1', '2', '3']],
    ['a b\tc', ['a', 'b', 'c']],
    [',,7,,', ['7']],
  ])('%j → %j', (payload, wakeup) => {
    expect(parseWakeup(payload)).toEqual(wakeup);
  });
});
