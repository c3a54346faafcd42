import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SECRET_KEYS,
  MASKED,
  maskerOf,
  secretKeysProblem,
} from '../../../src/domain/mask.js';
import { parameterProblem } from '../../../src/domain/parameters.js';
import { PrefectError, withoutEchoes } from '../../../src/prefect/errors.js';
import { planJson, renderChange } from '../../../src/render/plan.js';
import { passWorld } from '../../harness/pass-world.js';
import { emptyPlan, passResultOf } from '../../harness/plan-fixtures.js';

// Secret parameter keys are masked in all connector-sync shows or sends;
// only the deployment in Prefect gets the real value.

const masker = maskerOf(DEFAULT_SECRET_KEYS);
const PASSWORD = 'pw-4f1c9e77-hunter2';
const API_KEY = 'ak-0b7d2a55-c0ffee';

describe('the secret-key pattern', () => {
  it('matches secret-looking keys anywhere in the name, whatever their case', () => {
    for (const key of [
      'password',
      'DB_PASSWORD',
      'passwd',
      'apiKey',
      'api_key',
      'API-KEY',
      'client_secret',
      'accessToken',
      'credentials',
      'private_key',
      'Authorization',
      'dsn',
      'connection_string',
    ])
      expect(masker.isSecretKey(key), key).toBe(true);
    for (const key of ['source', 'batch_size', 'connector_id', 'host', 'user', 'author', 'keys'])
      expect(masker.isSecretKey(key), key).toBe(false);
  });

  it('a pattern that is no regular expression, or that masks every key, is refused', () => {
    expect(secretKeysProblem('pass(word')).toMatch(/^is not a regular expression/);
    expect(secretKeysProblem('.*')).toMatch(/matches every key/);
    expect(secretKeysProblem('pin|otp')).toBeNull();
  });
});

describe('masking a value', () => {
  const parameters = {
    source: 'crm',
    db: { host: 'db1', password: PASSWORD, options: [{ token: 'abcd1234' }] },
    api_key: API_KEY,
    credentials: { user: 'u', pass: 'p' },
    secret_hint: null,
  };

  it('replaces every value under a secret key, at any depth, and keeps the rest', () => {
    expect(masker.mask(parameters)).toEqual({
      source: 'crm',
      db: { host: 'db1', password: MASKED, options: [{ token: MASKED }] },
      api_key: MASKED,
      credentials: MASKED,
      secret_hint: null,
    });
    expect(masker.mask(masker.mask(parameters))).toEqual(masker.mask(parameters));
  });

  it('names the masked paths whose values differ, added and removed ones included', () => {
    const after = {
      ...parameters,
      db: { ...parameters.db, password: 'new-password' },
      api_key: undefined,
      token: 'x-new',
    };
    expect(masker.changedSecrets(parameters, after, 'parameters').sort()).toEqual([
      'parameters.api_key',
      'parameters.db.password',
      'parameters.token',
    ]);
    expect(masker.changedSecrets(parameters, structuredClone(parameters))).toEqual([]);
  });

  it('collects the texts under secret keys, for scrubbing free text', () => {
    expect(masker.secretTexts(parameters).sort()).toEqual([API_KEY, 'abcd1234', PASSWORD].sort());
  });

  it("an update event's payload is masked and says which masked values changed, read again or not", () => {
    const payload = {
      updated_fields: ['parameters'],
      updates: {
        parameters: { from: { db: { password: PASSWORD } }, to: { db: { password: 'other-pw' } } },
      },
    };
    const stored = masker.eventPayload(payload);
    expect(stored).toEqual({
      updated_fields: ['parameters'],
      updates: {
        parameters: { from: { db: { password: MASKED } }, to: { db: { password: MASKED } } },
      },
      masked_changes: ['parameters.db.password'],
    });
    expect(masker.eventPayload(stored)).toEqual(stored);
  });
});

describe('messages never quote a secret value', () => {
  it("the flow's schema refusing a secret parameter names it without its value", () => {
    const schema = {
      type: 'object',
      properties: { api_key: { type: 'integer' }, connector_id: { type: 'integer' } },
    };
    expect(parameterProblem({ api_key: API_KEY, connector_id: 1 }, schema, masker)).toBe(
      `parameter api_key must be integer, got "${MASKED}"`,
    );
  });

  it("Prefect's echo of the request (request_body, each error's input) is dropped from an error's detail", () => {
    const body = {
      exception_message: 'Invalid request received.',
      exception_detail: [{ loc: ['body', 'parameters'], msg: 'bad', input: { api_key: API_KEY } }],
      request_body: { parameters: { api_key: API_KEY } },
    };
    expect(JSON.stringify(withoutEchoes(body))).not.toContain(API_KEY);
    const refused = new PrefectError('Prefect answered 422', 'invalid', 422, body);
    expect(JSON.stringify(refused.detail)).not.toContain(API_KEY);
    expect(withoutEchoes(body)).toEqual({
      exception_message: 'Invalid request received.',
      exception_detail: [{ loc: ['body', 'parameters'], msg: 'bad' }],
    });
  });
});

describe('a pass with secret parameters', () => {
  const secretRow = (world: ReturnType<typeof passWorld>, password: string) =>
    world.row('1', {
      parameters: JSON.stringify({ db: { password }, api_key: API_KEY, source: 'crm' }),
    });

  it('gives Prefect the real values and its events, states and plan only masked ones', async () => {
    const world = passWorld();
    world.store.rows = [secretRow(world, PASSWORD)];
    const created = await world.pass();
    const [deployment] = world.prefect.all();
    expect(deployment?.parameters).toMatchObject({ db: { password: PASSWORD }, api_key: API_KEY });

    world.store.rows = [secretRow(world, 'rotated-password')];
    const plan = await world.pass({ dryRun: true });
    const updated = await world.pass();
    expect(world.prefect.all()[0]?.parameters).toMatchObject({
      db: { password: 'rotated-password' },
    });

    const shown = JSON.stringify([
      world.store.events,
      [...world.store.states.values()],
      planJson(created),
      planJson(plan),
      planJson(updated),
      plan.plan.changes.map((c) => renderChange(c)),
    ]);
    for (const secret of [PASSWORD, API_KEY, 'rotated-password'])
      expect(shown).not.toContain(secret);
    const update = world.store.events.find((e) => e.action === 'updated');
    expect(update?.payload.masked_changes).toEqual(['parameters.db.password']);
    expect(planJson(plan).changes[0]?.masked_changes).toEqual(['parameters.db.password']);
    expect(renderChange(plan.plan.changes[0]!)).toMatch(
      /parameters: .*\[masked\].*; masked: parameters\.db\.password changed$/,
    );
  });

  it("a refusal quoting the value (Prefect's schema check) is stored and logged without it", async () => {
    const world = passWorld();
    world.store.rows = [secretRow(world, PASSWORD)];
    world.prefect.fail({
      method: 'createDeployment',
      kind: 'refuse',
      error: () =>
        new PrefectError(
          `Prefect POST /deployments/ answered 409: Validation failed for field 'db.password'. Failure reason: '${PASSWORD}' is not of type 'integer'`,
          'conflict',
          409,
          null,
        ),
    });
    const result = await world.pass();
    expect(result.failures[0]?.message).toContain('[redacted]');
    const shown = JSON.stringify([
      result.failures,
      world.store.events,
      [...world.store.states.values()],
    ]);
    expect(shown).not.toContain(PASSWORD);
  });
});

describe('a plan without a configuration still masks the default keys', () => {
  it('planJson of an empty pass is unchanged by masking', () => {
    expect(planJson(passResultOf({ plan: emptyPlan() })).changes).toEqual([]);
  });
});
