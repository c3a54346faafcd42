import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { canonicalJson, isPlainObject } from './json.js';
import { MASKED, type Masker } from './mask.js';

// A row's parameters checked against the flow's parameter schema (Prefect's
// parameter_openapi_schema, a JSON Schema) before any call: a row the flow
// would refuse at run time is `invalid` with a message naming the parameter.

/**
 * Draft 2020-12, as Prefect's own validator; its schemas carry keywords of
 * their own (position) that are no errors.
 */
const ajv = new Ajv2020({ strict: false, allErrors: true });
const compiled = new Map<string, ValidateFunction>();

/** Why the schema itself is unusable (a configuration problem), or null. */
export function schemaProblem(
  schema: Record<string, unknown>,
  connectorId: number | string,
): string | null {
  let validate: ValidateFunction;
  try {
    validate = validatorOf(schema);
  } catch (error) {
    return `the flow's parameter schema is not a valid JSON Schema: ${(error as Error).message}`;
  }
  const properties = isPlainObject(schema.properties) ? schema.properties : {};
  if (!('connector_id' in properties) && !allowsOtherKeys(schema))
    return "the flow's parameter schema has no connector_id parameter, which connector-sync passes to every run; add `connector_id` to the flow's signature";
  validate({ connector_id: connectorId });
  const wrong = (validate.errors ?? []).find((e) => e.instancePath === '/connector_id');
  return wrong
    ? `the flow's connector_id parameter ${wrong.message ?? 'refuses'} but the id column gives ${typeof connectorId === 'number' ? 'numbers' : 'text'}`
    : null;
}

/**
 * The first problem of these parameters under the schema (a message naming
 * the parameter), or null. The value it got is shown unless it sits under a
 * secret key (`masker`).
 */
export function parameterProblem(
  parameters: Record<string, unknown>,
  schema: Record<string, unknown>,
  masker?: Masker,
): string | null {
  const properties = isPlainObject(schema.properties) ? schema.properties : null;
  if (properties && !allowsOtherKeys(schema)) {
    // Prefect's schemas do not forbid other keys, yet a run with one fails (signature mismatch).
    const unknown = Object.keys(parameters).find((key) => !(key in properties));
    if (unknown !== undefined)
      return `parameter ${unknown} is not a parameter of the flow; it takes ${Object.keys(properties).sort().join(', ')}`;
  }
  const validate = validatorOf(schema);
  if (validate(parameters)) return null;
  return describe(validate.errors?.[0], parameters, masker);
}

function validatorOf(schema: Record<string, unknown>): ValidateFunction {
  const key = canonicalJson(schema);
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(key, validate);
  }
  return validate;
}

function allowsOtherKeys(schema: Record<string, unknown>): boolean {
  return schema.additionalProperties === true || isPlainObject(schema.additionalProperties);
}

function describe(
  error: ErrorObject | undefined,
  parameters: Record<string, unknown>,
  masker: Masker | undefined,
): string {
  if (!error) return 'parameters do not match the flow';
  const keys = error.instancePath.split('/').slice(1);
  const path = keys.join('.');
  if (error.keyword === 'required') {
    const missing = String((error.params as { missingProperty?: unknown }).missingProperty);
    return `parameter ${path ? `${path}.` : ''}${missing} is required by the flow (it has no default); add it to the row's parameters`;
  }
  const secret = masker !== undefined && keys.some((key) => masker.isSecretKey(key));
  const got = secret ? MASKED : valueAt(parameters, error.instancePath);
  const expected =
    error.keyword === 'enum'
      ? `must be one of ${((error.params as { allowedValues?: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`
      : (error.message ?? 'is not what the flow takes');
  return `parameter ${path || '(all)'} ${expected}, got ${JSON.stringify(got) ?? 'nothing'}`;
}

function valueAt(value: unknown, pointer: string): unknown {
  let at = value;
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replaceAll('~1', '/').replaceAll('~0', '~');
    at = isPlainObject(at) || Array.isArray(at) ? (at as Record<string, unknown>)[key] : undefined;
  }
  return at;
}
