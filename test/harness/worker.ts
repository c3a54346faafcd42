import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopProcessGroup } from '../../scripts/prefect-server.ts';

/** A real `prefect worker` (process type) in its own process group, logging to a file. */
export interface PrefectWorker {
  process: ChildProcess;
  logFile: string;
  /** The log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

export interface WorkerOptions {
  venv: string;
  apiUrl: string;
  pool: string;
  /** The worker's working directory (where it finds the flow code). */
  cwd: string;
  env?: Record<string, string>;
}

export function startPrefectWorker(options: WorkerOptions): PrefectWorker {
  const home = mkdtempSync(join(tmpdir(), 'cs-prefect-worker-'));
  const logFile = join(home, 'worker.log');
  const out = openSync(logFile, 'a');
  const child = spawn(
    join(options.venv, 'bin/prefect'),
    ['worker', 'start', '--pool', options.pool, '--type', 'process'],
    {
      cwd: options.cwd,
      env: {
        ...process.env,
        PREFECT_HOME: home,
        PREFECT_API_URL: options.apiUrl,
        PREFECT_SERVER_ANALYTICS_ENABLED: 'false',
        PREFECT_WORKER_QUERY_SECONDS: '2',
        PREFECT_WORKER_PREFETCH_SECONDS: '60',
        ...options.env,
      },
      stdio: ['ignore', out, out],
      detached: true,
    },
  );
  child.on('error', () => undefined);
  return {
    process: child,
    logFile,
    log: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    stop: () => stopProcessGroup(child),
  };
}
