// configuration.md: every key of the zod schema, with its description.

import { z } from 'zod';
import { code, listOf, table } from './markdown.ts';
import type { Page } from './markdown.ts';
import { configSchema, ENV_KEYS } from './modules.ts';

interface JsonSchema {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

interface KeyRow {
  key: string;
  node: JsonSchema;
  required: boolean;
}

/** The leaves under `node` (objects with properties are walked into), in schema order. */
function keysOf(node: JsonSchema, prefix: string): KeyRow[] {
  return Object.entries(node.properties ?? {}).flatMap(([name, child]) => {
    const key = `${prefix}${name}`;
    if (child.properties) return keysOf(child, `${key}.`);
    return [{ key, node: child, required: node.required?.includes(name) === true }];
  });
}

function numberType(node: JsonSchema): string {
  const noun = node.type === 'integer' ? 'integer' : 'number';
  const max = node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER;
  if (node.minimum !== undefined && max) return `${noun} ${node.minimum}–${node.maximum}`;
  if (node.minimum !== undefined) return `${noun} ≥ ${node.minimum}`;
  if (node.exclusiveMinimum !== undefined) return `${noun} > ${node.exclusiveMinimum}`;
  return noun;
}

function typeOf(node: JsonSchema): string {
  if (node.anyOf) return listOf(node.anyOf.map(typeOf), 'or');
  if (node.enum)
    return listOf(
      node.enum.map((v) => code(String(v))),
      'or',
    );
  switch (node.type) {
    case 'string':
      return node.format === 'uri' ? 'URL' : 'string';
    case 'integer':
    case 'number':
      return numberType(node);
    case 'array':
      return `list of ${node.items ? typeOf(node.items) : 'values'}s`;
    case 'object':
      return 'object';
    default:
      return node.type ?? 'any';
  }
}

function defaultOf(row: KeyRow): string {
  if ('default' in row.node) {
    const value = row.node.default;
    return code(typeof value === 'string' ? value : JSON.stringify(value));
  }
  return row.required ? '**required**' : 'none';
}

function configSchemaJson(): JsonSchema {
  return z.toJSONSchema(configSchema, { io: 'input' }) as JsonSchema;
}

function configSections(schema: JsonSchema): string[] {
  const envOf = new Map(ENV_KEYS.map(([name, path]) => [path, name]));
  return Object.entries(schema.properties ?? {}).map(([section, node]) => {
    const rows = keysOf(node, `${section}.`).map((row) => [
      code(row.key),
      typeOf(row.node),
      defaultOf(row),
      envOf.has(row.key) ? code(envOf.get(row.key)!) : '',
      row.node.description ?? '',
    ]);
    return [
      `## ${section}`,
      node.description ?? '',
      table(['key', 'type', 'default', 'environment', 'description'], rows),
    ].join('\n\n');
  });
}

const PRECEDENCE = `Each key takes the first of: a command-line flag (\`--log-level\`, \`run --observe\`), its environment variable, the configuration file, the built-in default. The file is \`--config FILE\`, else \`$CONNECTOR_SYNC_CONFIG\`, else the shipped \`config/default.yaml\` (every key with its default, commented); \`CONNECTOR_SYNC_ENV=staging\` layers \`staging.yaml\` from the same folder over that file. An empty environment variable counts as unset. The configuration is validated once at start: unknown keys are errors (they are usually typos), every problem is listed at once, and the exit code is 64. Secrets belong in the environment, not in the file.`;

export function configurationPage(): Page {
  const schema = configSchemaJson();
  const envRows = [
    [code('CONNECTOR_SYNC_CONFIG'), 'the configuration file (as `--config FILE`)'],
    [
      code('CONNECTOR_SYNC_ENV'),
      'a layer: `<name>.yaml` beside the configuration file, read over it',
    ],
    ...ENV_KEYS.map(([name, key]) => [code(name), `[${code(key)}](#${key.split('.')[0]})`]),
  ];
  const body = [
    PRECEDENCE,
    '## Environment variables',
    table(['variable', 'sets'], envRows),
    ...configSections(schema),
  ].join('\n\n');
  return {
    file: 'configuration.md',
    title: 'Configuration',
    summary:
      'every key: its type, default, environment variable and meaning; what takes precedence',
    sources: ['src/config/schema.ts', 'src/config/load.ts'],
    body,
  };
}
