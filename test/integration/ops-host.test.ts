import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, type TestEnv } from '../harness/env.js';

// http.host (env HOST): the long-running worker's ops server binds where it is
// told; by default on every interface, as before.

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

  it('by default: every interface, as before', async () => {
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
