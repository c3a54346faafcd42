import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ENV_KEYS } from '../../../src/config/load.js';
import { configSchema } from '../../../src/config/schema.js';
import {
  CONNECTOR_STATUS_DESCRIPTIONS,
  CONNECTOR_STATUSES,
  EVENT_ACTIONS,
  EVENT_DESCRIPTIONS,
  PASS_RESULT_DESCRIPTIONS,
  PASS_RESULTS,
} from '../../../src/domain/vocabulary.js';

// docs/reference/ is generated from these (scripts/docs.ts): a key, an action,
// a status or a result without a description would be a blank in the reference.

interface Node {
  description?: string;
  properties?: Record<string, Node>;
}

/** Every key of the configuration (objects are walked into), with its JSON Schema. */
function leaves(node: Node, prefix = ''): [string, Node][] {
  return Object.entries(node.properties ?? {}).flatMap(([name, child]) =>
    child.properties ? leaves(child, `${prefix}${name}.`) : [[`${prefix}${name}`, child]],
  );
}

const schema = z.toJSONSchema(configSchema, { io: 'input' }) as Node;

describe('the reference has a description for', () => {
  it('every configuration key', () => {
    const keys = leaves(schema);
    expect(keys.map(([key]) => key)).toContain('reconcile.backoff.baseSeconds');
    const undescribed = keys.filter(([, node]) => !node.description?.trim()).map(([key]) => key);
    expect(undescribed).toEqual([]);
  });

  it('every section of the configuration', () => {
    const sections = Object.entries(schema.properties ?? {});
    expect(sections.filter(([, node]) => !node.description?.trim()).map(([name]) => name)).toEqual(
      [],
    );
  });

  it('every environment variable, through the key it sets', () => {
    const keys = new Set(leaves(schema).map(([key]) => key));
    expect(ENV_KEYS.map(([, key]) => key).filter((key) => !keys.has(key))).toEqual([]);
  });

  it('every event action, connector status and pass result', () => {
    const blank = (table: Record<string, string>, words: readonly string[]) => {
      expect(Object.keys(table).sort()).toEqual([...words].sort());
      return words.filter((word) => !table[word]?.trim());
    };
    expect(blank(EVENT_DESCRIPTIONS, EVENT_ACTIONS)).toEqual([]);
    expect(blank(CONNECTOR_STATUS_DESCRIPTIONS, CONNECTOR_STATUSES)).toEqual([]);
    expect(blank(PASS_RESULT_DESCRIPTIONS, PASS_RESULTS)).toEqual([]);
  });
});
