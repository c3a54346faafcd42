// The main job, end to end on this machine (run by `scripts/dev reconcile`):
// uses DATABASE_URL / PREFECT_API_URL when set; otherwise the local Postgres
// and a local Prefect server started from the cached virtualenv (left running
// for the next run). Creates the reference cai_connectors table with sample
// connectors when it is missing, applies the worker's migrations, then shows
// the plan, applies one pass and prints the events and the per-connector status.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ensureDatabase, ensureWorkPool, REPO, startPrefectServer } from './prefect-server.ts';

const CACHE = process.env.CONNECTOR_SYNC_CACHE ?? join(homedir(), '.cache/connector-sync');
const LOCAL_PREFECT_PORT = 4200;

async function main(): Promise<void> {
  const env: Record<string, string | undefined> = { LOG_FORMAT: 'pretty', ...process.env };
  if (!env.DATABASE_URL) {
    ensureDatabase('connector_sync_dev');
    env.DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/connector_sync_dev';
    const psql = (args: string[]): string =>
      execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', env.DATABASE_URL!, ...args], {
        encoding: 'utf8',
      });
    const present =
      psql(['-tAc', "SELECT to_regclass('cai_connectors') IS NOT NULL"]).trim() === 't';
    if (!present) {
      psql([
        '-f',
        join(REPO, 'sql/reference/cai_connectors.sql'),
        '-f',
        join(REPO, 'sql/reference/sample_connectors.sql'),
      ]);
      say(`created cai_connectors with sample connectors in ${env.DATABASE_URL}`);
    }
  }
  const localPrefect = !env.PREFECT_API_URL;
  if (!env.PREFECT_API_URL) {
    env.PREFECT_API_URL = await ensureLocalPrefect();
  }
  say(`Postgres: ${redact(env.DATABASE_URL)}\nPrefect:  ${env.PREFECT_API_URL}`);

  const cli = (title: string, args: string[]): number => {
    say(`\n== ${title}: connector-sync ${args.join(' ')}`);
    const result = spawnSync(process.execPath, [join(REPO, 'dist/cli/bin.js'), ...args], {
      env,
      stdio: 'inherit',
    });
    return result.status ?? 1;
  };
  // Only `migrate` creates the worker's schema; on a current one it changes nothing.
  const migrated = cli('schema', ['migrate']);
  if (migrated !== 0) {
    process.exitCode = migrated;
    return;
  }
  cli('plan', ['plan']);
  const code = cli('one pass', ['run', '--once']);
  cli('events of the last hour', [
    'events',
    '--since',
    new Date(Date.now() - 3600_000).toISOString(),
    '--limit',
    '50',
  ]);
  cli('status', ['status']);
  say(`\nThe pass exited ${code}. Run this again: a converged table makes no changes.`);
  if (localPrefect)
    say(
      `A Prefect server is left running in the background on ${env.PREFECT_API_URL} (its UI: http://127.0.0.1:${LOCAL_PREFECT_PORT}) for the next run; stop it with: scripts/dev stop-prefect. To watch a connector run: docs/guides/development.md, "Watch a connector run".`,
    );
  process.exitCode = code;
}

async function ensureLocalPrefect(): Promise<string> {
  const apiUrl = `http://127.0.0.1:${LOCAL_PREFECT_PORT}/api`;
  if (!(await healthy(apiUrl))) {
    say(`starting a local Prefect server on port ${LOCAL_PREFECT_PORT} ...`);
    const server = await startPrefectServer({
      database: 'connector_sync_prefect_dev',
      port: LOCAL_PREFECT_PORT,
      home: join(CACHE, 'prefect-home'),
    });
    server.process.unref(); // left running for the next reconcile
    say(`Prefect is up (log: ${server.logFile}; stop it with: scripts/dev stop-prefect)`);
  }
  await ensureWorkPool(apiUrl, 'default');
  return apiUrl;
}

async function healthy(apiUrl: string): Promise<boolean> {
  try {
    return (await fetch(`${apiUrl}/health`)).ok;
  } catch {
    return false;
  }
}

function redact(url: string | undefined): string {
  return (url ?? '').replace(/\/\/([^:/@]+):[^@]+@/, '//$1:[redacted]@');
}

function say(text: string): void {
  console.log(text);
}

if (!existsSync(join(REPO, 'dist/cli/bin.js'))) throw new Error('build first: npm run build');
await main();
