import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../scripts/prefect-server.ts';

// A private PostgreSQL cluster (initdb into a temporary folder, its own port)
// that a test may restart or stop without touching the shared cluster on 5432
// (the Prefect server and other tests use that one). Postgres refuses to run
// as root, so its binaries run as the `postgres` user.

const run = promisify(execFile);

export interface PrivatePostgres {
  port: number;
  /** A connection URL for one of its databases. */
  url(database: string): string;
  /** `pg_ctl restart -m <mode>`: every session ends, the server is back when it resolves. */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** The server log (for failure messages). */
  log(): string;
  destroy(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions
    .map((v) => join(root, v, 'bin'))
    .find((dir) => existsSync(join(dir, 'pg_ctl')));
  if (!found) throw new Error(`no PostgreSQL binaries under ${root}/*/bin`);
  return found;
}

async function asPostgres(binary: string, args: string[]): Promise<void> {
  const command = process.getuid?.() === 0 ? 'runuser' : binary;
  const argv = process.getuid?.() === 0 ? ['-u', 'postgres', '--', binary, ...args] : args;
  await run(command, argv, { timeout: 60_000 });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'cs-private-pg-'));
  if (process.getuid?.() === 0) {
    const { stdout: uid } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(uid.trim()), Number(gid.trim()));
  }
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  await asPostgres(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    '-c fsync=off',
    '-c shared_buffers=16MB',
    '-c max_connections=40',
  ].join(' ');
  const pgCtl = (args: string[]): Promise<void> =>
    asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-l', logFile, '-w', '-t', '60', ...args]);
  const start = (): Promise<void> => pgCtl(['-o', options, 'start']);
  await start();
  return {
    port,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    restart: (mode = 'fast') => pgCtl(['-m', mode, '-o', options, 'restart']),
    stop: (mode = 'fast') => pgCtl(['-m', mode, 'stop']),
    start,
    log: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    destroy: async () => {
      await pgCtl(['-m', 'immediate', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
