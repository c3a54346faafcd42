import { describe, expect, it } from 'vitest';
import { parameterProblem, schemaProblem } from '../../../src/domain/parameters.js';

// A row's parameters against the flow's schema, as Prefect's flow.deploy() makes it.
const SCHEMA = {
  title: 'Parameters',
  type: 'object',
  properties: {
    connector_id: { title: 'connector_id', position: 0, type: 'integer' },
    source: { title: 'source', default: 'crm', position: 1, type: 'string' },
    batch_size: { title: 'batch_size', default: 100, position: 2, type: 'integer' },
    mode: { $ref: '#/definitions/Mode', position: 3 },
  },
  required: ['connector_id'],
  definitions: { Mode: { title: 'Mode', enum: ['append', 'replace'], type: 'string' } },
};

describe('parameterProblem', () => {
  it('accepts what the flow takes', () => {
    expect(parameterProblem({ connector_id: 1 }, SCHEMA)).toBeNull();
    expect(parameterProblem({ connector_id: 1, batch_size: 5, mode: 'append' }, SCHEMA)).toBeNull();
  });

  it.each([
    [{ connector_id: 1, batch_size: 'lots' }, 'parameter batch_size must be integer, got "lots"'],
    [
      { connector_id: 1, mode: 'merge' },
      'parameter mode must be one of "append", "replace", got "merge"',
    ],
    [
      { connector_id: 1, bogus: true },
      'parameter bogus is not a parameter of the flow; it takes batch_size, connector_id, mode, source',
    ],
    [
      { source: 'x' },
      "parameter connector_id is required by the flow (it has no default); add it to the row's parameters",
    ],
  ])('%j: %s', (parameters, message) => {
    expect(parameterProblem(parameters, SCHEMA)).toBe(message);
  });

  it('a schema that allows other keys lets them through', () => {
    expect(
      parameterProblem({ connector_id: 1, extra: 1 }, { ...SCHEMA, additionalProperties: true }),
    ).toBeNull();
  });
});

describe('schemaProblem', () => {
  it("the schema must take connector_id, of the id column's kind", () => {
    expect(schemaProblem(SCHEMA, 42)).toBeNull();
    expect(schemaProblem(SCHEMA, 'acme-01')).toMatch(
      /connector_id parameter must be integer but the id column gives text/,
    );
    const others = Object.fromEntries(
      Object.entries(SCHEMA.properties).filter(([key]) => key !== 'connector_id'),
    );
    expect(schemaProblem({ ...SCHEMA, properties: others, required: [] }, 1)).toMatch(
      /has no connector_id parameter/,
    );
    expect(schemaProblem({ type: 'nonsense' }, 1)).toMatch(/not a valid JSON Schema/);
  });
});
