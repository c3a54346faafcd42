import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildProgram, runCli } from '../../../src/cli/program.js';
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
