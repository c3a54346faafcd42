import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, cliEnv, type TestEnv } from './env.js';

// Runs the long-running worker (`connector-sync run`) as a real process.

export interface WorkerProcess {
  child: ChildProcess;
  /** The ops HTTP port it bound (PORT=0 picks a free one). */
  port: number;
  baseUrl: string;
  /** Every log line so far (pino JSON on stderr), parsed; raw text in `output`. */
  logs: Record<string, unknown>[];
  output: () => string;
  /** Resolves with the exit code / signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
  /** Waits until a log line matches. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

export async function startWorker(
  env: TestEnv,
  extraEnv: Record<string, string> = {},
  /** More arguments of `run` (say `--observe`). */
  args: string[] = [],
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [CLI, 'run', ...args], {
    env: cliEnv(env, { PORT: '0', LOG_LEVEL: 'info', ...extraEnv }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const logs: Record<string, unknown>[] = [];
  const waiters: {
    match: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
  }[] = [];
  let partial = '';
  const onData = (chunk: Buffer): void => {
    text += chunk.toString();
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const raw of lines) {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        continue;
      }
      logs.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.match(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );

  const waitForLog = (
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs = 30_000,
  ): Promise<Record<string, unknown>> => {
    const seen = logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching log line in ${timeoutMs} ms; output:\n${text}`)),
        timeoutMs,
      );
      waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`worker exited before the log line; output:\n${text}`));
      });
    });
  };

  const started = await waitForLog((l) => l.msg === 'worker started');
  const port = Number(started.port);
  return {
    child,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    logs,
    output: () => text,
    exited,
    kill: (signal = 'SIGTERM') => child.kill(signal),
    waitForLog,
  };
}

/** Resolves once the worker has finished `count` passes in total (by its log lines). */
export function passesFinished(worker: WorkerProcess): number {
  return worker.logs.filter((l) => l.msg === 'pass finished').length;
}
