import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram, quietInTerminal, runCli } from '../../../src/cli/program.js';
import type { CliProcess } from '../../../src/cli/output.js';
import { EXIT } from '../../../src/domain/exit-codes.js';

// The CLI as a value: the commander program is built and run against a
// process of the test's making — no child process, no exit — up to the
// point where a command needs Postgres.

function fakeProcess(env: NodeJS.ProcessEnv = {}): CliProcess & { out: string; err: string } {
  const proc = {
    out: '',
    err: '',
    env,
    write: (text: string) => void (proc.out += text),
    writeError: (text: string) => void (proc.err += text),
    onSignal: () => undefined,
    isTerminal: false,
    routeWarnings: () => undefined,
  };
  return proc;
}

const argv = (...args: string[]): string[] => ['node', 'connector-sync', ...args];

describe('buildProgram', () => {
  it('has every command, each with a description', () => {
    const { program } = buildProgram(fakeProcess());
    const commands = program.commands.map((c) => c.name());
    expect(commands).toEqual([
      'run',
      'plan',
      'status',
      'events',
      'passes',
      'sync',
      'retry',
      'approve-deletes',
      'suspend',
      'resume',
      'releases',
      'release',
      'config',
      'migrate',
    ]);
    for (const command of program.commands) expect(command.description()).not.toBe('');
  });
});

describe('runCli, without a process', () => {
  it('--version prints the package version and ends 0', async () => {
    const proc = fakeProcess();
    const { version } = JSON.parse(
      readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    expect(await runCli(argv('--version'), proc)).toEqual({ code: EXIT.ok, exitNow: false });
    expect(proc.out.trim()).toBe(version);
  });

  it('--help lists the commands and the exit codes, and ends 0', async () => {
    const proc = fakeProcess();
    expect((await runCli(argv('--help'), proc)).code).toBe(EXIT.ok);
    expect(proc.out).toMatch(/^ {2}plan \[options\]/m);
    expect(proc.out).toMatch(/^ {2}69 {2}Postgres or Prefect unreachable/m);
  });

  it('an unknown command is a usage error with a suggestion (64), nothing run', async () => {
    const proc = fakeProcess();
    expect((await runCli(argv('pln'), proc)).code).toBe(EXIT.usage);
    expect(proc.err).toContain("unknown command 'pln'");
    expect(proc.err).toContain('Did you mean plan?');
  });

  it('a bad option value is a usage error (64)', async () => {
    const proc = fakeProcess();
    expect((await runCli(argv('events', '--since', 'yesterday'), proc)).code).toBe(EXIT.usage);
    expect(proc.err).toContain('expected an ISO date');
  });

  it('a configuration that does not load is one line on stderr and 64, before any connection', async () => {
    const proc = fakeProcess({});
    expect(await runCli(argv('run', '--once'), proc)).toEqual({
      code: EXIT.usage,
      exitNow: false,
    });
    expect(proc.err).toMatch(/^connector-sync: invalid configuration/);
    expect(proc.err).toContain('DATABASE_URL');
    expect(proc.out).toBe('');
  });
});

describe('connector-sync config', () => {
  const env = {
    DATABASE_URL: 'postgres://sync:hunter2-secret@db:5432/app',
    PREFECT_API_URL: 'http://127.0.0.1:4200/api',
    PREFECT_API_KEY: 'pnu_0123456789abcdef',
    CONNECTOR_SYNC_HTTP_TOKEN: 'tok-0123456789abcdef',
  };

  it('--json: every key with its value, secrets masked, and where it came from', async () => {
    const proc = fakeProcess(env);
    expect((await runCli(argv('--log-level', 'debug', 'config', '--json'), proc)).code).toBe(0);
    const { keys } = JSON.parse(proc.out) as {
      keys: { key: string; value: unknown; source: string; from: string | null }[];
    };
    const byKey = Object.fromEntries(keys.map((k) => [k.key, k]));
    expect(byKey['database.url']).toEqual({
      key: 'database.url',
      value: 'postgres://sync:[masked]@db:5432/app',
      source: 'env',
      from: 'DATABASE_URL',
    });
    expect(byKey['prefect.apiKey']).toMatchObject({ value: '[masked]', source: 'env' });
    expect(byKey['http.auth.token']).toMatchObject({ value: '[masked]', source: 'env' });
    expect(byKey['log.level']).toMatchObject({ value: 'debug', source: 'flag' });
    // The package's own default.yaml mirrors the schema's defaults: not "file".
    expect(byKey['reconcile.schedule']).toMatchObject({
      value: '* * * * *',
      source: 'default',
      from: null,
    });
    expect(proc.out).not.toMatch(/hunter2|pnu_0123|tok-0123/);
  });

  it('a key set by a config file of yours reads "file", with that file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-config-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, "reconcile:\n  schedule: '*/5 * * * *'\n");
    const proc = fakeProcess({ ...env, CONNECTOR_SYNC_CONFIG: file });
    expect((await runCli(argv('config', '--json'), proc)).code).toBe(0);
    const { keys } = JSON.parse(proc.out) as {
      keys: { key: string; source: string; from: string | null }[];
    };
    expect(keys.find((k) => k.key === 'reconcile.schedule')).toMatchObject({
      source: 'file',
      from: file,
    });
    expect(keys.find((k) => k.key === 'reconcile.mode')).toMatchObject({ source: 'default' });
  });

  it('text: a table of KEY, VALUE, SOURCE; a key no file sets is a default', async () => {
    const proc = fakeProcess({ ...env, CONNECTOR_SYNC_CONFIG: '/dev/null' });
    expect((await runCli(argv('config'), proc)).code).toBe(0);
    const lines = proc.out.trim().split('\n');
    expect(lines[0]).toMatch(/^KEY +VALUE +SOURCE$/);
    expect(proc.out).toMatch(/^reconcile\.schedule +\* \* \* \* \* +default$/m);
    expect(proc.out).toMatch(
      /^prefect\.apiUrl +http:\/\/127\.0\.0\.1:4200\/api +env PREFECT_API_URL$/m,
    );
    expect(proc.out).not.toMatch(/hunter2|pnu_0123|tok-0123/);
  });
});

describe('quietInTerminal', () => {
  const config = (level = 'info') =>
    ({ log: { level, format: 'json' } }) as unknown as Parameters<typeof quietInTerminal>[0];
  const context = (outputIsTerminal: boolean, env: NodeJS.ProcessEnv = {}, logLevel?: string) => ({
    proc: { ...fakeProcess(env), outputIsTerminal },
    globals: () => ({ logLevel }),
  });

  it('keeps info lines out of a terminal’s output: warnings and worse only', () => {
    expect(quietInTerminal(config(), context(true)).log.level).toBe('warn');
  });

  it('changes nothing when the output goes elsewhere, or a level was asked for', () => {
    expect(quietInTerminal(config(), context(false)).log.level).toBe('info');
    expect(quietInTerminal(config(), context(true, { LOG_LEVEL: 'info' })).log.level).toBe('info');
    expect(quietInTerminal(config(), context(true, {}, 'debug')).log.level).toBe('info');
    expect(quietInTerminal(config('debug'), context(true)).log.level).toBe('debug');
  });
});
