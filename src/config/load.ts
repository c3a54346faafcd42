import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { isPlainObject } from '../domain/json.js';
import { coerceError } from '../domain/errors.js';
import { configSchema, type Config } from './schema.js';
import { closestKey, keysAt, keysOfFile, type Provenance } from './explain.js';

/** The package's own config/ folder, which holds default.yaml. */
export const PACKAGE_CONFIG_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../config');

export interface ConfigSources {
  env: Record<string, string | undefined>;
  /** --config FILE */
  configFile?: string | undefined;
  /** Flags that override configuration keys (dotted paths). */
  overrides?: Record<string, unknown>;
}

export type ConfigResult =
  | { ok: true; config: Config; files: string[]; provenance: Provenance }
  | { ok: false; errors: string[] };

/** The environment variables that set a configuration key: [variable, dotted key]. */
export const ENV_KEYS: [string, string][] = [
  ['CONNECTOR_SYNC_INSTALLATION', 'installation'],
  ['DATABASE_URL', 'database.url'],
  ['PREFECT_API_URL', 'prefect.apiUrl'],
  ['PREFECT_API_KEY', 'prefect.apiKey'],
  ['PREFECT_API_AUTH_STRING', 'prefect.authString'],
  ['PREFECT_UI_URL', 'prefect.uiUrl'],
  ['CONNECTOR_SYNC_SCHEDULE', 'reconcile.schedule'],
  ['LOG_LEVEL', 'log.level'],
  ['LOG_FORMAT', 'log.format'],
  ['NATS_URL', 'events.publish.nats.url'],
  ['HOST', 'http.host'],
  ['PORT', 'http.port'],
  ['CONNECTOR_SYNC_HTTP_TOKEN', 'http.auth.token'],
  ['CONNECTOR_SYNC_HTTP_BASIC', 'http.auth.basic'],
];

/**
 * Reads the configuration once: built-in defaults < config file (< its
 * CONNECTOR_SYNC_ENV layer) < environment < flags. Every problem is reported
 * at once, never only the first.
 */
export function loadConfig(sources: ConfigSources): ConfigResult {
  const errors: string[] = [];
  const files: string[] = [];
  const provenance: Provenance = { files: [], env: new Map(), flags: new Set() };
  // Sections with required keys start empty, so a missing key is reported by name.
  let merged: Record<string, unknown> = { prefect: {}, database: {} };

  const explicit = sources.configFile ?? sources.env.CONNECTOR_SYNC_CONFIG;
  const base = explicit ? resolve(explicit) : join(PACKAGE_CONFIG_DIR, 'default.yaml');
  const layers = [base];
  const envName = sources.env.CONNECTOR_SYNC_ENV;
  if (envName) {
    if (!/^[A-Za-z0-9_-]+$/.test(envName))
      errors.push(`CONNECTOR_SYNC_ENV: "${envName}" is not a plain name`);
    else layers.push(join(dirname(base), `${envName}.yaml`));
  }
  for (const [index, file] of layers.entries()) {
    // The default file may be absent; one named by a flag, CONNECTOR_SYNC_CONFIG
    // or CONNECTOR_SYNC_ENV may not: a layer silently skipped is a prod run on dev settings.
    if (!existsSync(file)) {
      if (index === 1)
        errors.push(`CONNECTOR_SYNC_ENV=${envName}: config file ${file} does not exist`);
      else if (explicit !== undefined) errors.push(`config file ${file} does not exist`);
      continue;
    }
    const parsed = readYaml(file);
    if (typeof parsed === 'string') errors.push(parsed);
    else {
      merged = deepMerge(merged, parsed);
      files.push(file);
      // The package's own default.yaml mirrors the schema's defaults: its keys read as `default`.
      const shipped = file === join(PACKAGE_CONFIG_DIR, 'default.yaml');
      if (!shipped) provenance.files.push({ file, keys: keysOfFile(parsed) });
    }
  }

  for (const [name, path] of ENV_KEYS) {
    const value = sources.env[name];
    if (value !== undefined && value !== '') {
      merged = setPath(merged, path, value);
      provenance.env.set(path, name);
    }
  }
  for (const [path, value] of Object.entries(sources.overrides ?? {})) {
    if (value === undefined) continue;
    merged = setPath(merged, path, value);
    provenance.flags.add(path);
  }

  const result = configSchema.safeParse(merged);
  if (!result.success) errors.push(...result.error.issues.flatMap(describeIssue));
  if (errors.length > 0 || !result.success) return { ok: false, errors };
  const config = withParameterSchemaFile(result.data, errors);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, config, files, provenance };
}

/** deployment.parameterSchemaFile read into deployment.parameterSchema (a JSON object). */
function withParameterSchemaFile(config: Config, errors: string[]): Config {
  const file = config.deployment.parameterSchemaFile;
  if (file === null) return config;
  let schema: unknown;
  try {
    schema = JSON.parse(readFileSync(resolve(file), 'utf8'));
  } catch (error) {
    errors.push(
      `deployment.parameterSchemaFile: ${resolve(file)}: ${coerceError(error).message.split('\n')[0]}`,
    );
    return config;
  }
  if (!isPlainObject(schema)) {
    errors.push(
      `deployment.parameterSchemaFile: ${resolve(file)} must hold a JSON object (a JSON Schema)`,
    );
    return config;
  }
  return { ...config, deployment: { ...config.deployment, parameterSchema: schema } };
}

function readYaml(file: string): Record<string, unknown> | string {
  try {
    const value: unknown = parseYaml(readFileSync(file, 'utf8'));
    if (value === null || value === undefined) return {};
    if (!isPlainObject(value)) return `${file}: the top level must be a mapping of keys`;
    return value;
  } catch (error) {
    // Only the first line: yaml's pretty message quotes the offending source
    // line, which may hold the database password or the API key.
    if (error instanceof YAMLParseError) {
      const at = error.linePos?.[0];
      const where = at ? ` at line ${at.line}, column ${at.col}` : '';
      return `${file}: YAML error${where}: ${error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')}`;
    }
    return `${file}: ${coerceError(error).message.split('\n')[0]}`;
  }
}

/** One line per problem; an unknown key with the known key it was probably meant to be. */
function describeIssue(issue: {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
}): string[] {
  if (issue.code !== 'unrecognized_keys' || !issue.keys)
    return [`${describePath(issue.path)}: ${issue.message}`];
  const known = keysAt(issue.path);
  const prefix = issue.path.map(String).join('.');
  const dotted = (key: string): string => (prefix ? `${prefix}.${key}` : key);
  return issue.keys.map((key) => {
    const guess = closestKey(key, known);
    return `unknown key ${dotted(key)}${guess ? ` — did you mean ${dotted(guess)}?` : ''}`;
  });
}

const ENV_NAME_BY_PATH = new Map(ENV_KEYS.map(([name, path]) => [path, name]));

function describePath(path: PropertyKey[]): string {
  const dotted = path.map(String).join('.');
  const envName = ENV_NAME_BY_PATH.get(dotted);
  return envName ? `${dotted} (${envName})` : dotted || '(top level)';
}

export function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const existing = out[key];
    out[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing, value) : value;
  }
  return out;
}

function setPath(
  target: Record<string, unknown>,
  path: string,
  value: unknown,
): Record<string, unknown> {
  const [head, ...rest] = path.split('.');
  if (head === undefined) return target;
  if (rest.length === 0) return { ...target, [head]: value };
  const child = target[head];
  return { ...target, [head]: setPath(isPlainObject(child) ? child : {}, rest.join('.'), value) };
}
