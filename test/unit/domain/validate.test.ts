import { describe, expect, it } from 'vitest';
import { prefectJsonSize } from '../../../src/domain/json.js';
import type { ConnectorRow, SourceRow } from '../../../src/domain/types.js';
import {
  deploymentName,
  MAX_DEPLOYMENT_NAME_BYTES,
  MAX_NAME_LENGTH,
  MAX_PARAMETERS_BYTES,
  MAX_PARAMETERS_DEPTH,
  validateRow,
  validateRows,
  type ValidationSettings,
} from '../../../src/domain/validate.js';
import { sourceRow } from '../../harness/plan-fixtures.js';

const NUMBER_IDS: ValidationSettings = {
  idKind: 'number',
  defaultTimezone: 'UTC',
  nameTemplate: 'connector-{id}',
};
const STRING_IDS: ValidationSettings = { ...NUMBER_IDS, idKind: 'string' };

function ok(row: Partial<SourceRow>, settings: ValidationSettings = NUMBER_IDS): ConnectorRow {
  const result = validateRow(sourceRow(row), settings);
  if (typeof result === 'string') throw new Error(`expected the row to be valid, got: ${result}`);
  return result;
}

function problem(row: Partial<SourceRow>, settings: ValidationSettings = NUMBER_IDS): string {
  const result = validateRow(sourceRow(row), settings);
  if (typeof result !== 'string') throw new Error('expected the row to be invalid');
  return result;
}

/** Parameters text {"k":"<fill>"} whose compact JSON is `8 + fill` characters long. */
function paramsText(fill: string): string {
  return JSON.stringify({ k: fill });
}

describe('deploymentName', () => {
  it('replaces every {id} in the template', () => {
    expect(deploymentName('connector-{id}', '42')).toBe('connector-42');
    expect(deploymentName('{id}-sync-{id}', '7')).toBe('7-sync-7');
  });
});

describe('validateRow: a good row', () => {
  it('comes back with defaults applied and the cron normalised', () => {
    expect(
      validateRow(
        sourceRow({
          id: '42',
          name: 'Orders',
          schedule: ' 0   1 * * * ',
          timezone: null,
          isActive: null,
          parameters: '{"source": "crm", "batch": 500}',
          prefectDeploymentId: 'abc',
        }),
        { ...NUMBER_IDS, defaultTimezone: 'Europe/Berlin' },
      ),
    ).toEqual({
      id: '42',
      name: 'Orders',
      cron: '0 1 * * *',
      timezone: 'Europe/Berlin',
      isActive: true,
      parameters: { source: 'crm', batch: 500 },
      overrides: {
        workPoolName: null,
        workQueueName: null,
        jobVariables: null,
        tags: [],
        concurrencyLimit: null,
      },
      prefectDeploymentId: 'abc',
    });
  });
});

describe('validateRow: name', () => {
  it.each([
    [42, 'name must be text, got a number'],
    [null, 'name must be text, got null'],
    [{ first: 'x' }, 'name must be text, got an object'],
    [['x'], 'name must be text, got an array'],
    [true, 'name must be text, got a boolean'],
  ])('a name of %j is rejected: %s', (name, message) => {
    expect(problem({ name })).toBe(message);
  });

  it.each(['', '   ', '\t\n'])('an empty name %j is rejected', (name) => {
    expect(problem({ name })).toBe('name is empty; give the connector a name');
  });

  it(`a name of exactly ${MAX_NAME_LENGTH} characters is accepted`, () => {
    expect(ok({ name: 'x'.repeat(MAX_NAME_LENGTH) }).name).toHaveLength(MAX_NAME_LENGTH);
  });

  it('a name one character too long is rejected with its length', () => {
    expect(problem({ name: 'x'.repeat(MAX_NAME_LENGTH + 1) })).toBe(
      `name is ${MAX_NAME_LENGTH + 1} characters long; keep it under ${MAX_NAME_LENGTH}`,
    );
  });

  it('a name containing NUL is rejected', () => {
    expect(problem({ name: 'Orders\u0000v2' })).toBe('name contains a NUL character; remove it');
  });

  it('non-ASCII names are fine', () => {
    expect(ok({ name: 'Bestellungen – Köln 🚚' }).name).toBe('Bestellungen – Köln 🚚');
  });
});

describe('validateRow: schedule', () => {
  it.each([null, undefined, '', '   ', '\t'])('a schedule of %j means no schedule', (schedule) => {
    expect(ok({ schedule }).cron).toBeNull();
  });

  it('a schedule that is not text is rejected', () => {
    expect(problem({ schedule: 5 })).toBe('schedule must be text, got a number');
    expect(problem({ schedule: ['0 1 * * *'] })).toBe('schedule must be text, got an array');
  });

  it('a schedule is stored whitespace-normalised', () => {
    expect(ok({ schedule: '30  2 * *   mon-fri' }).cron).toBe('30 2 * * mon-fri');
  });

  it('a macro is kept as written', () => {
    expect(ok({ schedule: '@daily' }).cron).toBe('@daily');
  });

  it.each([
    [
      '0 1 * * * *',
      'cron "0 1 * * * *" has 6 fields; use 5 (minute hour day-of-month month day-of-week)',
    ],
    ['H 2 * * *', 'cron "H 2 * * *" uses the random/hashed field "H", which Prefect rejects'],
  ])('a bad cron %j is rejected with the cron problem', (schedule, message) => {
    expect(problem({ schedule })).toBe(message);
  });

  it('an out-of-range cron is rejected', () => {
    expect(problem({ schedule: '61 * * * *' })).toMatch(/^invalid cron "61 \* \* \* \*": /);
  });
});

describe('validateRow: timezone', () => {
  it.each([null, undefined])('a timezone of %j takes deployment.defaultTimezone', (timezone) => {
    expect(ok({ timezone }, { ...NUMBER_IDS, defaultTimezone: 'America/Chicago' }).timezone).toBe(
      'America/Chicago',
    );
  });

  it.each(['UTC', 'Europe/Berlin', 'Europe/London', 'US/Pacific', 'Asia/Calcutta', 'Etc/UTC'])(
    '%j is a timezone Prefect knows and is kept',
    (timezone) => {
      expect(ok({ timezone }, { ...NUMBER_IDS, defaultTimezone: 'Asia/Tokyo' }).timezone).toBe(
        timezone,
      );
    },
  );

  it.each(['Mars/Olympus', 'utc', 'Europe/london', 'PST', 'localtime', 'Berlin'])(
    'the unknown timezone %j is rejected',
    (timezone) => {
      expect(problem({ timezone })).toBe(
        `unknown timezone "${timezone}"; use an IANA name such as "Europe/Berlin" or "UTC"`,
      );
    },
  );

  it.each(['', '  '])(
    'the empty timezone %j is rejected, pointing at null for the default',
    (timezone) => {
      expect(problem({ timezone })).toBe(
        'timezone is empty; leave it null for deployment.defaultTimezone or use an IANA name such as "Europe/Berlin"',
      );
    },
  );

  // Prefect 3.9.1 answers 422 for these (checked against the real server).
  it.each(['+02:00', 'UTC+2', 'GMT+2', 'Z'])('the offset %j is not a timezone', (timezone) => {
    expect(problem({ timezone })).toMatch(/^unknown timezone/);
  });

  it('Etc/GMT+2 (the IANA spelling of a fixed offset) is fine', () => {
    expect(ok({ timezone: 'Etc/GMT+2' }).timezone).toBe('Etc/GMT+2');
  });

  it('a timezone that is not text is rejected', () => {
    expect(problem({ timezone: 1 })).toBe('timezone must be text, got a number');
  });

  it('an unknown timezone is reported even when the row has no schedule', () => {
    expect(problem({ schedule: null, timezone: 'Mars/Olympus' })).toMatch(/^unknown timezone/);
  });
});

describe('validateRow: is_active', () => {
  it('null or missing means active', () => {
    expect(ok({ isActive: null }).isActive).toBe(true);
    expect(ok({ isActive: undefined }).isActive).toBe(true);
  });

  it('booleans are kept', () => {
    expect(ok({ isActive: false }).isActive).toBe(false);
    expect(ok({ isActive: true }).isActive).toBe(true);
  });

  it.each([
    ['false', 'is_active must be a boolean, got a string'],
    [0, 'is_active must be a boolean, got a number'],
    [1, 'is_active must be a boolean, got a number'],
    [{}, 'is_active must be a boolean, got an object'],
  ])('%j is rejected', (isActive, message) => {
    expect(problem({ isActive })).toBe(message);
  });
});

describe('validateRow: parameters', () => {
  it.each([null, undefined])('%j means {}', (parameters) => {
    expect(ok({ parameters }).parameters).toEqual({});
  });

  it('JSON text is parsed', () => {
    expect(ok({ parameters: '{"source": "crm", "nested": {"a": [1, 2]}}' }).parameters).toEqual({
      source: 'crm',
      nested: { a: [1, 2] },
    });
  });

  it('an already-parsed object is accepted as it is', () => {
    expect(ok({ parameters: { batch: 5 } }).parameters).toEqual({ batch: 5 });
  });

  it.each([
    ['[1, 2]', 'an array'],
    ['"crm"', 'a string'],
    ['42', 'a number'],
    ['true', 'a boolean'],
  ])('JSON text %j is rejected as not an object', (parameters, got) => {
    expect(problem({ parameters })).toBe(
      `parameters must be a JSON object, got ${got}; wrap values in an object such as {"value": ...}`,
    );
  });

  it('a parsed array is rejected as not an object', () => {
    expect(problem({ parameters: [1] })).toMatch(/^parameters must be a JSON object, got an array/);
  });

  it.each(['not json', '{"source": ', "{'source': 'crm'}", ''])(
    'the non-JSON text %j is rejected',
    (parameters) => {
      expect(problem({ parameters })).toBe(
        'parameters are not valid JSON; store a JSON object such as {"source": "x"}',
      );
    },
  );

  it('an escaped NUL (\\u0000) in the JSON text is rejected', () => {
    expect(problem({ parameters: String.raw`{"a": "x\u0000y"}` })).toBe(
      'parameters contain a NUL character (\\u0000), which Prefect cannot store; remove it',
    );
  });

  it('a raw NUL character in the text is rejected the same way', () => {
    expect(problem({ parameters: '{"a": "x\u0000y"}' })).toMatch(/^parameters contain a NUL/);
  });

  // Regression: the NUL check used to be a substring search in the JSON text, so a
  // literal backslash followed by "u0000" (no NUL anywhere) was refused.
  it('a literal backslash-u0000 (escaped backslash, no NUL) is accepted', () => {
    expect(ok({ parameters: String.raw`{"path": "C:\\u0000dir"}` }).parameters).toEqual({
      path: String.raw`C:\u0000dir`,
    });
  });

  describe('nesting depth (Prefect answers 500 past about 250 levels)', () => {
    const nested = (depth: number, open = '{"a":', close = '}'): string =>
      `${open.repeat(depth)}1${close.repeat(depth)}`;

    it(`${MAX_PARAMETERS_DEPTH} levels are accepted`, () => {
      expect(MAX_PARAMETERS_DEPTH).toBe(100);
      expect(typeof validateRow(sourceRow({ parameters: nested(100) }), NUMBER_IDS)).toBe('object');
    });

    it.each([101, 10_000, 200_000])(
      'parameters nested %i deep are rejected, without overflowing the stack',
      (depth) => {
        expect(problem({ parameters: nested(depth) })).toBe(
          'parameters are nested more than 100 levels deep; Prefect cannot serialise them, so flatten them',
        );
      },
    );

    it('arrays count as levels too', () => {
      expect(problem({ parameters: `{"a":${nested(100, '[', ']')}}` })).toMatch(
        /^parameters are nested more than 100 levels/,
      );
    });

    it('a wide but shallow object is fine', () => {
      const wide = JSON.stringify(
        Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, [i]])),
      );
      expect(Object.keys(ok({ parameters: wide }).parameters)).toHaveLength(5000);
    });
  });

  describe('lone surrogates (a json column keeps \\ud800; Prefect answers 503 for it)', () => {
    const message =
      'parameters contain a lone UTF-16 surrogate (such as \\ud800 without its pair), which Prefect cannot store; fix the escape';

    it.each([
      String.raw`{"a": "x\ud800y"}`,
      String.raw`{"a": "\udc00"}`,
      String.raw`{"\ud83d": 1}`,
    ])('%s is rejected', (parameters) => {
      expect(problem({ parameters })).toBe(message);
    });

    it('a proper surrogate pair (an emoji) is fine', () => {
      expect(ok({ parameters: String.raw`{"a": "\ud83d\ude00"}` }).parameters).toEqual({ a: '😀' });
    });

    it('a NUL deep inside an array is found', () => {
      expect(problem({ parameters: String.raw`{"a": [[{"b": ["x\u0000"]}]]}` })).toMatch(
        /^parameters contain a NUL/,
      );
    });
  });

  describe('size, as Prefect measures it (compact JSON, ASCII-escaped)', () => {
    const limit = MAX_PARAMETERS_BYTES;
    // What Prefect measures is the deployment's parameters: the row's plus ,"connector_id":42
    const overhead = ',"connector_id":42'.length;
    const sent = (fill: string): Record<string, unknown> => ({ k: fill, connector_id: 42 });

    it('the limit is 512 KiB', () => {
      expect(limit).toBe(524_288);
    });

    it('parameters that reach exactly the limit once connector_id is added are accepted', () => {
      const fill = 'a'.repeat(limit - 8 - overhead);
      expect(prefectJsonSize(sent(fill))).toBe(limit);
      expect(Object.keys(ok({ parameters: paramsText(fill) }).parameters)).toEqual(['k']);
    });

    it('one byte over the limit is rejected with the measured size', () => {
      expect(problem({ parameters: paramsText('a'.repeat(limit - 7 - overhead)) })).toBe(
        `parameters are ${limit + 1} bytes as Prefect measures them; the limit is ${limit} (512 KiB)`,
      );
    });

    it('a row exactly at the limit on its own is over it once connector_id is added', () => {
      const fill = 'a'.repeat(limit - 8);
      expect(prefectJsonSize({ k: fill })).toBe(limit);
      expect(problem({ parameters: paramsText(fill) })).toMatch(/^parameters are 524306 bytes/);
    });

    it('whitespace in the stored text does not count', () => {
      const text = `{${' '.repeat(40)}"k"  :  "${'a'.repeat(limit - 8 - overhead)}"  }`;
      expect(text.length).toBeGreaterThan(limit);
      expect(typeof validateRow(sourceRow({ parameters: text }), NUMBER_IDS)).toBe('object');
    });

    it('non-ASCII text counts six bytes per character: under the limit in UTF-8, over it for Prefect', () => {
      const text = paramsText('é'.repeat(100_000));
      expect(Buffer.byteLength(text, 'utf8')).toBe(200_008);
      expect(Buffer.byteLength(text, 'utf8')).toBeLessThan(limit);
      expect(problem({ parameters: text })).toBe(
        `parameters are ${600_008 + overhead} bytes as Prefect measures them; the limit is ${limit} (512 KiB)`,
      );
    });

    it('astral characters count six bytes per UTF-16 unit (twelve each)', () => {
      // 43_688 emoji * 12 + 8 + 18 = 524_282: under; 43_689 → 524_294: over.
      const under = paramsText('😀'.repeat(43_688));
      expect(prefectJsonSize({ ...JSON.parse(under), connector_id: 42 })).toBe(524_282);
      expect(typeof validateRow(sourceRow({ parameters: under }), NUMBER_IDS)).toBe('object');
      expect(problem({ parameters: paramsText('😀'.repeat(43_689)) })).toMatch(
        /^parameters are 524294 bytes as Prefect measures them/,
      );
    });

    // Python's json.dumps(ensure_ascii=True), which Prefect uses, escapes DEL (0x7F)
    // as "\u007f" (6 bytes); regression test for counting it as 1.
    it('DEL (0x7f) counts six bytes, as Python json.dumps escapes it', () => {
      expect(prefectJsonSize({ a: '\u007f' })).toBe(14); // {"a":"\u007f"}
    });
  });
});

describe('validateRow: id', () => {
  it(`an integer id up to 2^53-1 is accepted for a numeric id column`, () => {
    expect(ok({ id: '9007199254740991' }).id).toBe('9007199254740991');
  });

  it.each(['9007199254740992', '9007199254740993', '18446744073709551615'])(
    'the integer id %s (2^53 or more) is rejected for a numeric id column',
    (id) => {
      expect(problem({ id })).toBe(
        `id ${id} is larger than 2^53 and cannot be passed to the flow as an exact JSON number`,
      );
    },
  );

  it('the same large id is fine when the id column is text', () => {
    expect(ok({ id: '9007199254740993' }, STRING_IDS).id).toBe('9007199254740993');
  });

  it('uuid ids are fine for a string id column', () => {
    const id = '6b1f1b9e-3a57-4c0e-9d7a-1c2b3d4e5f60';
    expect(ok({ id }, STRING_IDS).id).toBe(id);
  });

  it.each(['a/b', '50%', 'a&b', 'a>b', 'a<b', 'tab\there', 'new\nline'])(
    'the id %j would put a forbidden character in the deployment name',
    (id) => {
      expect(problem({ id }, STRING_IDS)).toBe(
        `deployment name "connector-${id}" would contain a character Prefect forbids (/ % & > < or a control character); change the id`,
      );
    },
  );

  it(`a deployment name of ${MAX_DEPLOYMENT_NAME_BYTES} bytes is accepted`, () => {
    const id = 'x'.repeat(MAX_DEPLOYMENT_NAME_BYTES - 'connector-'.length);
    expect(ok({ id }, STRING_IDS).id).toBe(id);
  });

  it('an id that makes the deployment name longer than 1000 bytes is rejected', () => {
    const id = 'x'.repeat(10_000);
    expect(problem({ id }, STRING_IDS)).toBe(
      `deployment name "connector-${'x'.repeat(30)}…" would be 10010 bytes long; Prefect needs it under 1000, so use a shorter id`,
    );
  });

  it('the name length is counted in UTF-8 bytes', () => {
    // 330 × 3 bytes + 10 = 1000: fine; one more character is 1003 bytes.
    expect(ok({ id: '€'.repeat(330) }, STRING_IDS).id).toHaveLength(330);
    expect(problem({ id: '€'.repeat(331) }, STRING_IDS)).toMatch(/would be 1003 bytes long/);
  });

  it.each([' 7', 'ünï-😀', 'a?b', 'a#b', "a'b", 'a b'])(
    'the odd but harmless id %j is accepted (Prefect takes such names)',
    (id) => {
      expect(ok({ id }, STRING_IDS).id).toBe(id);
    },
  );

  it.each(['', '   '])('the empty id %j is rejected', (id) => {
    expect(problem({ id }, STRING_IDS)).toBe('id is empty');
  });

  it('the id is checked before the rest of the row', () => {
    expect(problem({ id: 'a/b', name: 42 }, STRING_IDS)).toMatch(
      /^deployment name "connector-a\/b"/,
    );
  });
});

describe('validateRows', () => {
  it('splits rows into valid, soft-deleted and problems', () => {
    const result = validateRows(
      [
        sourceRow({ id: '1', name: 'One' }),
        sourceRow({ id: '2', name: 'Two', timezone: 'Mars/Olympus' }),
        sourceRow({ id: '3', name: 'Three', deleted: true }),
        sourceRow({ id: '4', name: 'Four', schedule: null }),
      ],
      NUMBER_IDS,
    );
    expect(result.valid.map((r) => r.id)).toEqual(['1', '4']);
    expect([...result.softDeleted]).toEqual([['3', 'Three']]);
    expect(result.problems).toEqual([
      {
        connectorId: '2',
        connectorName: 'Two',
        status: 'invalid',
        message:
          'unknown timezone "Mars/Olympus"; use an IANA name such as "Europe/Berlin" or "UTC"',
        retryable: false,
      },
    ]);
  });

  it('a soft-deleted row goes to softDeleted even when the rest of it is invalid', () => {
    const result = validateRows(
      [sourceRow({ id: '3', name: 'Gone', schedule: 'H * * * *', deleted: true })],
      NUMBER_IDS,
    );
    expect(result.valid).toEqual([]);
    expect(result.problems).toEqual([]);
    expect(result.softDeleted.get('3')).toBe('Gone');
  });

  it('a soft-deleted row whose name is not text is remembered with a null name', () => {
    const result = validateRows([sourceRow({ id: '3', name: 5, deleted: true })], NUMBER_IDS);
    expect(result.softDeleted.has('3')).toBe(true);
    expect(result.softDeleted.get('3')).toBeNull();
  });

  // Regression: each duplicated row used to be its own problem, so a one-shot pass
  // wrote two failed events for one connector in one pass.
  it('duplicate ids make the connector invalid once, and leave the others alone', () => {
    const result = validateRows(
      [
        sourceRow({ id: '7', name: 'First' }),
        sourceRow({ id: '8', name: 'Other' }),
        sourceRow({ id: '7', name: 'Second' }),
      ],
      NUMBER_IDS,
    );
    expect(result.valid.map((r) => r.id)).toEqual(['8']);
    expect(result.problems).toEqual([
      {
        connectorId: '7',
        connectorName: 'First',
        status: 'invalid',
        message: 'id "7" appears 2 times in the source; ids must be unique',
        retryable: false,
      },
    ]);
  });

  it('three rows with one id are one problem', () => {
    const rows = ['a', 'b', 'c'].map((name) => sourceRow({ id: '5', name }));
    expect(validateRows(rows, NUMBER_IDS).problems.map((p) => p.message)).toEqual([
      'id "5" appears 3 times in the source; ids must be unique',
    ]);
  });

  it('a problem on a row whose name is not text carries a null connectorName', () => {
    const result = validateRows([sourceRow({ id: '9', name: 9 })], NUMBER_IDS);
    expect(result.problems).toEqual([
      expect.objectContaining({ connectorId: '9', connectorName: null, status: 'invalid' }),
    ]);
  });

  it('no rows, no results', () => {
    const result = validateRows([], NUMBER_IDS);
    expect(result.valid).toEqual([]);
    expect(result.problems).toEqual([]);
    expect(result.softDeleted.size).toBe(0);
  });
});
