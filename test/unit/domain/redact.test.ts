import { describe, expect, it } from 'vitest';
import { redactText } from '../../../src/domain/redact.js';
import { secretsOf } from '../../../src/runtime.js';
import { loadConfig } from '../../../src/config/load.js';

describe('the database password is redacted by its position in a URL, never as bare text', () => {
  // A short password that is also part of the user name and of ordinary words.
  const url = 'postgres://postgres:post@127.0.0.1:5432/app';
  const loaded = loadConfig({
    env: { DATABASE_URL: url, PREFECT_API_URL: 'http://127.0.0.1:4200/api' },
  });
  if (!loaded.ok) throw new Error(loaded.errors.join('; '));

  it('is not one of the bare-text secrets', () => {
    expect(secretsOf(loaded.config)).not.toContain('post');
  });

  it('a message naming the user and a host keeps every word; the URL loses its password only', () => {
    const message = `password authentication failed for user "postgres" (posted from ${url})`;
    expect(redactText(message, secretsOf(loaded.config))).toBe(
      'password authentication failed for user "postgres" (posted from postgres://postgres:[redacted]@127.0.0.1:5432/app)',
    );
  });

  it('an encoded password, and a URL with no user name, lose it just the same', () => {
    expect(redactText('postgres://u:p%23w%40rd@db/app', [])).toBe('postgres://u:[redacted]@db/app');
    expect(redactText('postgres://:secret@db/app', [])).toBe('postgres://:[redacted]@db/app');
    expect(redactText('postgres://u@db/app, port 5432', [])).toBe('postgres://u@db/app, port 5432');
  });

  it('the Prefect credentials stay bare-text secrets (long enough to replace safely)', () => {
    const withKey = loadConfig({
      env: {
        DATABASE_URL: url,
        PREFECT_API_URL: 'http://127.0.0.1:4200/api',
        PREFECT_API_KEY: 'pnu_0123456789abcdef',
      },
    });
    if (!withKey.ok) throw new Error(withKey.errors.join('; '));
    expect(redactText('key pnu_0123456789abcdef refused', secretsOf(withKey.config))).toBe(
      'key [redacted] refused',
    );
  });
});
