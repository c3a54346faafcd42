import { describe, expect, it } from 'vitest';
import { challenges, isAuthorized, isOpen, type OpsAuth } from '../../../src/ops/auth.js';
import { refusalOf } from '../../../src/ops/guard.js';
import { BadRequest, onlyParams } from '../../../src/ops/queries.js';

// Who may read the ops port, and what it refuses before routing.

const TOKEN = 'a-token-of-32-characters-0123456';
const both: OpsAuth = { token: TOKEN, basic: 'ops:a-long-password', metrics: false };
const open: OpsAuth = { token: null, basic: null, metrics: false };
const basic = (userPassword: string) => `Basic ${Buffer.from(userPassword).toString('base64')}`;

describe('ops port access', () => {
  it('keeps the probes open, /metrics unless asked, and everything else behind the credential', () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) expect(isOpen(path, both)).toBe(true);
    expect(isOpen('/metrics', { ...both, metrics: true })).toBe(false);
    for (const path of ['/', '/app.js', '/api/events', '/api/nope', '/../etc/passwd'])
      expect(isOpen(path, both)).toBe(false);
    expect(isOpen('/api/events', open)).toBe(true);
  });

  it('takes the bearer token, the basic user and password, or any user with the token', () => {
    expect(isAuthorized(`Bearer ${TOKEN}`, both)).toBe(true);
    expect(isAuthorized(`bearer   ${TOKEN}`, both)).toBe(true);
    expect(isAuthorized(basic('ops:a-long-password'), both)).toBe(true);
    expect(isAuthorized(basic(`anyone:${TOKEN}`), both)).toBe(true);
    for (const wrong of [
      undefined,
      '',
      'Bearer',
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Token ${TOKEN}`,
      basic('ops:a-long-passwor'),
      basic('other:a-long-password'),
      basic(TOKEN),
      'Basic !!!not-base64!!!',
      `Bearer ${TOKEN} extra`,
    ])
      expect(isAuthorized(wrong, both), String(wrong)).toBe(false);
    // The token alone configured: basic with the configured pair means nothing.
    expect(isAuthorized(basic('ops:a-long-password'), { ...both, basic: null })).toBe(false);
    expect(isAuthorized(`Bearer ${TOKEN}`, { ...both, token: null })).toBe(false);
  });

  it('answers 401 with both challenges, the same for a path that does not exist', () => {
    const refusal = refusalOf({ headers: {} }, '/api/nope', both);
    expect(refusal).toEqual({
      status: 401,
      body: { error: 'unauthorized' },
      headers: { 'www-authenticate': challenges(both) },
    });
    expect(challenges(both)).toEqual([
      'Basic realm="connector-sync", charset="UTF-8"',
      'Bearer realm="connector-sync"',
    ]);
    expect(refusalOf({ headers: { authorization: `Bearer ${TOKEN}` } }, '/api/nope', both)).toBe(
      null,
    );
  });

  it('refuses any request body, before the credential is even looked at', () => {
    for (const headers of [{ 'content-length': '5' }, { 'transfer-encoding': 'chunked' }])
      expect(refusalOf({ headers }, '/healthz', both)?.status).toBe(413);
    expect(refusalOf({ headers: { 'content-length': '0' } }, '/healthz', both)).toBeNull();
  });
});

describe('onlyParams', () => {
  const params = (q: string) => new URLSearchParams(q);
  it('takes the listed parameters once each, and refuses the rest with a reason', () => {
    expect(() => onlyParams(params('limit=5&after=x'), ['limit', 'after'])).not.toThrow();
    for (const [q, message] of [
      ['bogus=1', /unknown parameter "bogus": this endpoint takes limit, after/],
      ['limit=1&limit=2', /given more than once/],
      [`limit=${'9'.repeat(1001)}`, /longer than 1000/],
      ['after=a%00b', /control character/],
      ['after=a%0Ab', /control character/],
    ] as const)
      expect(() => onlyParams(params(q), ['limit', 'after'])).toThrow(message);
    expect(() => onlyParams(params('x=1'), [])).toThrow(BadRequest);
  });
});
