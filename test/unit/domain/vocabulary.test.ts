import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../../../scripts/prefect-server.ts';
import {
  CHANGE_ACTIONS,
  CONNECTOR_STATUSES,
  connectorIdOfTags,
  connectorTag,
  EVENT_ACTIONS,
  PASS_RESULTS,
} from '../../../src/domain/vocabulary.js';

// Each vocabulary is written once in code; the SQL CHECK constraints list it too.

/** The values of the last CHECK (column IN (...)) on `column` of `table` across the migrations. */
function checkedValues(table: string, column: string): string[] {
  const dir = join(REPO, 'sql/migrations');
  const sql = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
  // A CHECK of the table: in its CREATE TABLE, or added to it by ALTER TABLE ... ADD CONSTRAINT.
  const statements = sql
    .split(';')
    .filter((st) => new RegExp(`(TABLE|ALTER TABLE) ${table}\\b`).test(st));
  const checks = statements.flatMap((st) => [
    ...st.matchAll(new RegExp(`CHECK \\(${column} IN \\(([^)]*)\\)\\)`, 'g')),
  ]);
  const last = checks.at(-1);
  if (!last) throw new Error(`no CHECK on ${table}.${column}`);
  return [...last[1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
}

describe('vocabulary', () => {
  it('pass results: the code and the table agree', () => {
    expect(checkedValues('passes', 'result')).toEqual([...PASS_RESULTS]);
  });

  it('connector statuses: the code and the table agree', () => {
    expect(checkedValues('connector_state', 'status')).toEqual([...CONNECTOR_STATUSES]);
  });

  it('event actions and intent actions: the code and the tables agree', () => {
    expect(checkedValues('events', 'action')).toEqual([...EVENT_ACTIONS]);
    expect(checkedValues('intents', 'action')).toEqual([...CHANGE_ACTIONS]);
  });

  it('the connector tag encodes an id and decodes it back, dashes included, config tags skipped', () => {
    for (const id of ['42', 'acme-01', '6b1f1b9e-3a57-4c0e-9d7a-1c2b3d4e5f60'])
      expect(connectorIdOfTags(['team:x', connectorTag(id)], [])).toBe(id);
    expect(connectorIdOfTags(['connector-fleet', 'connector-7'], ['connector-fleet'])).toBe('7');
    expect(connectorIdOfTags(['managed-by:connector-sync'], [])).toBeNull();
  });
});
