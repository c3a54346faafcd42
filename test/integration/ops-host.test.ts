import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { CLI, cliEnv, createTestEnv, type TestEnv } from '../harness/env.js';

// http.host (env HOST): the long-running worker's ops server binds where it is
// told; unset, on 127.0.0.1 when run from a terminal and on every interface
// otherwise (a container: no TTY).

let env: TestEnv;
let worker: WorkerProcess | undefined;
beforeAll(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  worker = undefined;
});
afterAll(async () => env?.cleanup());

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function started(w: WorkerProcess): Promise<{ host: unknown; port: number }> {
  const line = await w.waitForLog((l) => l.msg === 'worker started');
  return { host: line.host, port: w.port };
}

describe('http.host', () => {
  it('HOST=127.0.0.2: bound there only (127.0.0.1 is refused)', async () => {
    worker = await startWorker(env, { HOST: '127.0.0.2' });
    const { host, port } = await started(worker);
    expect(host).toBe('127.0.0.2');
    const health = await fetch(`http://127.0.0.2:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await accepts('127.0.0.1', port)).toBe(false);
  });

  it('by default, without a terminal (a container): every interface', async () => {
    worker = await startWorker(env);
    const { host, port } = await started(worker);
    expect(['::', '0.0.0.0']).toContain(host);
    expect(await accepts('127.0.0.1', port)).toBe(true);
    expect(await accepts('127.0.0.2', port)).toBe(true);
  });

  it('the config key http.host does the same as HOST', async () => {
    const config = parse(readFileSync(env.configFile, 'utf8')) as Record<string, unknown>;
    const file = join(mkdtempSync(join(tmpdir(), 'cs-host-')), 'config.yaml');
    writeFileSync(file, stringify({ ...config, http: { host: '127.0.0.1' } }));
    worker = await startWorker(env, { CONNECTOR_SYNC_CONFIG: file });
    const { host, port } = await started(worker);
    expect(host).toBe('127.0.0.1');
    expect(await accepts('127.0.0.1', port)).toBe(true);
    expect(await accepts('127.0.0.2', port)).toBe(false);
  });
});

/**
 * The worker run from a terminal: `script` gives it a pseudo-terminal as
 * stdin and stdout. Resolves with the host and port it bound, and a stop.
 */
async function startInTerminal(
  extraEnv: Record<string, string> = {},
): Promise<{ host: unknown; port: number; stop: () => Promise<void> }> {
  const command = [process.execPath, CLI, 'run'].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: cliEnv(env, { PORT: '0', LOG_LEVEL: 'info', ...extraEnv }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let text = '';
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "worker started":\n${text}`)), 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      for (const raw of text.split(/\r?\n/)) {
        const at = raw.indexOf('{');
        if (at < 0 || !raw.includes('"worker started"')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(raw.slice(at)) as Record<string, unknown>);
      }
    });
    void exited.then(() => reject(new Error(`exited before it started:\n${text}`)));
  });
  return {
    host: started.host,
    port: Number(started.port),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('http.host unset, run from a terminal', () => {
  it('binds 127.0.0.1 only (127.0.0.2 is refused)', async () => {
    const w = await startInTerminal();
    try {
      expect(w.host).toBe('127.0.0.1');
      expect((await fetch(`http://127.0.0.1:${w.port}/healthz`)).status).toBe(200);
      expect(await accepts('127.0.0.2', w.port)).toBe(false);
    } finally {
      await w.stop();
    }
  });

  it('HOST=:: still binds every interface', async () => {
    const w = await startInTerminal({ HOST: '::' });
    try {
      expect(w.host).toBe('::');
      expect(await accepts('127.0.0.2', w.port)).toBe(true);
    } finally {
      await w.stop();
    }
  });
});
