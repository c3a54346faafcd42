import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../../scripts/prefect-server.ts';
import { createTestEnv, insertConnectors, runCli, type TestEnv } from '../harness/env.js';

// The command line itself, through the real CLI: an unknown command is named
// as one (with a suggestion), --version, and `run` as the default command.

const VERSION = (
  JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }
).version;

describe('usage', () => {
  it.each([
    ['pln', 'plan'],
    ['stauts', 'status'],
    ['evnets', 'events'],
    ['migarte', 'migrate'],
  ])(
    '`connector-sync %s` is an unknown command, "did you mean %s?", exit 64',
    async (typo, meant) => {
      const result = await runCli([typo], {});
      expect(result.code).toBe(64);
      expect(result.stderr.split('\n').slice(0, 2)).toEqual([
        `error: unknown command '${typo}'`,
        `(Did you mean ${meant}?)`,
      ]);
      expect(result.stderr).not.toContain('too many arguments');
      expect(result.stdout).toBe('');
    },
  );

  it('an unknown command after global options is still named as one', async () => {
    const result = await runCli(['--log-level', 'warn', 'pln', '--json'], {});
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/^error: unknown command 'pln'\n\(Did you mean plan\?\)/);
  });

  it.each([['--version'], ['-V']])('%s prints the package version, exit 0', async (flag) => {
    const result = await runCli([flag], {});
    expect(result).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('--help says that run is the default command', async () => {
    const result = await runCli(['--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Without a command, runs `run` (the default).');
    expect(result.stdout).toMatch(/^ {2}run \[options\] +reconcile \(the default command\)/m);
    expect(result.stdout).toMatch(/^ {2}-V, --version +print the version and exit$/m);
  });
});

describe('run is the default command', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv();
    await insertConnectors(env, [{ name: 'default-cmd', schedule: '0 6 * * *' }]);
  });
  afterAll(async () => env?.cleanup());

  it('`connector-sync --once --dry-run` plans; `--config F --once --json` passes', async () => {
    const plan = await env.cli(['--once', '--dry-run']);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/^Plan: 1 to create/m);

    const pass = await env.cli(['--config', env.configFile, '--once', '--json']);
    expect(pass.code).toBe(0);
    expect(JSON.parse(pass.stdout)).toMatchObject({ applied: 1, summary: { create: 1 } });
  });
});
