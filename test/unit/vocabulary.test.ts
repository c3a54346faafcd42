import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../../scripts/prefect-server.ts';
import {
  CHANGE_ACTIONS,
  CONNECTOR_STATUSES,
  connectorIdOfTags,
  connectorTag,
  EVENT_ACTIONS,
} from '../../src/core/vocabulary.js';

// Each vocabulary is written once in code; the SQL CHECK constraints list it too.

/** The values of the last CHECK (column IN (...)) on `column` across the migrations. */
function checkedValues(column: string): string[] {
  const dir = join(REPO, 'sql/migrations');
  const sql = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
  const checks = [...sql.matchAll(new RegExp(`CHECK \\(${column} IN \\(([^)]*)\\)\\)`, 'g'))];
  const last = checks.at(-1);
  if (!last) throw new Error(`no CHECK on ${column}`);
  return [...last[1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
}

describe('vocabulary', () => {
  it('connector statuses: the code and the table agree', () => {
    expect(checkedValues('status')).toEqual([...CONNECTOR_STATUSES]);
  });

  it('event actions and intent actions: the code and the tables agree', () => {
    const actions = checkedValues('action');
    // events.action comes before intents.action in 001_init.sql; neither has been changed since.
    expect(new Set(actions)).toEqual(new Set(CHANGE_ACTIONS));
    const all = readFileSync(join(REPO, 'sql/migrations/001_init.sql'), 'utf8');
    expect(all).toContain(`CHECK (action IN (${EVENT_ACTIONS.map((a) => `'${a}'`).join(', ')}))`);
  });

  it('the connector tag encodes an id and decodes it back, dashes included, config tags skipped', () => {
    for (const id of ['42', 'acme-01', '6b1f1b9e-3a57-4c0e-9d7a-1c2b3d4e5f60'])
      expect(connectorIdOfTags(['team:x', connectorTag(id)], [])).toBe(id);
    expect(connectorIdOfTags(['connector-fleet', 'connector-7'], ['connector-fleet'])).toBe('7');
    expect(connectorIdOfTags(['managed-by:connector-sync'], [])).toBeNull();
  });
});
