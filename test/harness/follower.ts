import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, cliEnv, type TestEnv } from './env.js';

// `connector-sync events --follow --json` as a real process, and what it printed.

export interface Follower {
  child: ChildProcess;
  events: () => Record<string, any>[];
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits until at least `n` events were printed. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
}

/** Runs `connector-sync events --follow --json [args]` as a real process, like env.cli does. */
export function follow(
  env: TestEnv,
  args: string[] = [],
  extraEnv: Record<string, string> = {},
): Follower {
  const child = spawn(process.execPath, [CLI, 'events', '--follow', '--json', ...args], {
    env: cliEnv(env, { LOG_LEVEL: 'warn', ...extraEnv }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const events: Record<string, any>[] = [];
  let partial = '';
  const listeners = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') events.push(JSON.parse(line));
    for (const listener of listeners) listener();
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    events: () => events,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (n, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (events.length < n) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(
              `only ${events.length} of ${n} events in ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`,
            ),
          );
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
  };
}

export async function stop(
  follower: Follower,
): Promise<{ code: number | null; signal: string | null }> {
  follower.child.kill('SIGINT');
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error('events --follow did not end on SIGINT')), 10_000),
  );
  return Promise.race([follower.exited, timeout]);
}

export function ids(events: Record<string, any>[]): string[] {
  return events.map((e) => e.id as string);
}
