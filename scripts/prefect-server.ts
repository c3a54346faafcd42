import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// Starts a real Prefect server (from the cached virtualenv) for tests, benches
// and the local reconcile. Backed by the local Postgres, as production is:
// SQLite answers concurrent writes with "database is locked".

export const REPO = resolve(import.meta.dirname, '..');

export interface PrefectServer {
  apiUrl: string;
  port: number;
  process: ChildProcess;
  logFile: string;
  venv: string;
  stop(): Promise<void>;
}

export function prefectVenv(): string {
  return execFileSync(join(REPO, 'scripts/prefect-venv.sh'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface StartOptions {
  /** Postgres database for Prefect's own tables (created if missing). */
  database: string;
  pgUrl?: string;
  env?: Record<string, string>;
  /** Default: a free port. */
  port?: number;
  /** PREFECT_HOME; default: a new temporary folder. */
  home?: string;
}

export async function startPrefectServer(options: StartOptions): Promise<PrefectServer> {
  const venv = prefectVenv();
  const pg = options.pgUrl ?? 'postgres://postgres@127.0.0.1:5432';
  ensureDatabase(options.database);
  const port = options.port ?? (await freePort());
  const home = options.home ?? mkdtempSync(join(tmpdir(), 'cs-prefect-home-'));
  mkdirSync(home, { recursive: true });
  const logFile = join(home, 'server.log');
  const out = openSync(logFile, 'a');
  const child = spawn(
    join(venv, 'bin/prefect'),
    ['server', 'start', '--host', '127.0.0.1', '--port', String(port)],
    {
      env: {
        ...process.env,
        PREFECT_HOME: home,
        PREFECT_SERVER_ANALYTICS_ENABLED: 'false',
        PREFECT_UI_ENABLED: 'false',
        PREFECT_API_DATABASE_CONNECTION_URL: `${pg.replace(/^postgres(ql)?:/, 'postgresql+asyncpg:')}/${options.database}`,
        PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS: '5',
        PREFECT_LOGGING_LEVEL: 'WARNING',
        ...options.env,
      },
      stdio: ['ignore', out, out],
      detached: true,
    },
  );
  const apiUrl = `http://127.0.0.1:${port}/api`;
  const server: PrefectServer = {
    apiUrl,
    port,
    process: child,
    logFile,
    venv,
    stop: () => stopProcessGroup(child),
  };
  try {
    await waitForHealth(apiUrl, child, logFile);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

export function ensureDatabase(name: string): void {
  const exists = execFileSync(
    'psql',
    [
      '-h',
      '127.0.0.1',
      '-U',
      'postgres',
      '-tAc',
      `SELECT 1 FROM pg_database WHERE datname = '${name}'`,
    ],
    {
      encoding: 'utf8',
    },
  ).trim();
  if (exists !== '1')
    execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-qc', `CREATE DATABASE "${name}"`]);
}

async function waitForHealth(apiUrl: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`Prefect server exited with ${child.exitCode}; see ${logFile}`);
    try {
      const response = await fetch(`${apiUrl}/health`);
      if (response.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`Prefect server did not become healthy in 120s; see ${logFile}`);
}

export async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

/** Creates a process work pool if it is missing. */
export async function ensureWorkPool(
  apiUrl: string,
  name: string,
  headers: Record<string, string> = {},
): Promise<void> {
  const response = await fetch(`${apiUrl}/work_pools/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ name, type: 'process' }),
  });
  if (!response.ok && response.status !== 409)
    throw new Error(`work pool create: ${response.status} ${await response.text()}`);
}
