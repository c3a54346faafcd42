import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';

// The ops port with a credential configured (http.auth): 401 without it for
// every protected route (existing or not), 200 with the bearer token or basic
// auth, the probes open; the console in a real browser through its login;
// and a table of hostile requests, each answered 4xx, the worker healthy after.

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'ops-token-0123456789abcdef0123456789';
const BASIC = 'ops:a-long-ops-password';
const bearer = { authorization: `Bearer ${TOKEN}` };
const basicHeader = (pair: string) => ({
  authorization: `Basic ${Buffer.from(pair).toString('base64')}`,
});

let env: TestEnv;
let worker: WorkerProcess;
let id: string;

beforeAll(async () => {
  env = await createTestEnv();
  [id] = (await insertConnectors(env, [{ name: 'secure', schedule: '0 1 * * *' }])) as [string];
  worker = await startWorker(env, {
    CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *',
    CONNECTOR_SYNC_HTTP_TOKEN: TOKEN,
    CONNECTOR_SYNC_HTTP_BASIC: BASIC,
  });
  await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 120_000);
}, 180_000);
afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  await env?.cleanup();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request: the path is sent exactly as given (no URL normalisation). */
function request(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: worker.port, path, method, headers, timeout: 15_000 },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
        );
        // A stream never ends: its headers are the answer.
        if (res.headers['content-type']?.startsWith('text/event-stream')) {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
          req.destroy();
        }
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer in 15 s`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const PROTECTED = [
  '/',
  '/app.js',
  '/app.css',
  '/format.js',
  '/api/overview',
  '/api/connectors',
  '/api/events',
  '/api/passes',
  '/api/events/stream',
];

describe('access to the ops port', () => {
  it('says at start that the API is protected (no WARN that it is open)', () => {
    expect(
      worker.logs.some((l) => String(l.msg).includes('the ops API and console are open')),
    ).toBe(false);
    expect(worker.output()).not.toContain(TOKEN);
  });

  it('401 with both challenges for every protected route, 200 with the token or basic auth', async () => {
    for (const path of [...PROTECTED, `/api/connectors/${id}`]) {
      const denied = await request(path);
      expect(denied.status, path).toBe(401);
      expect(denied.headers['www-authenticate'], path).toBe(
        'Basic realm="connector-sync", charset="UTF-8", Bearer realm="connector-sync"',
      );
      expect(JSON.parse(denied.body)).toEqual({ error: 'unauthorized' });
      expect((await request(path, { authorization: 'Bearer wrong-token-000000000' })).status).toBe(
        401,
      );
      for (const headers of [bearer, basicHeader(BASIC), basicHeader(`browser:${TOKEN}`)])
        expect((await request(path, headers)).status, path).toBe(200);
    }
  });

  it('never hints at what exists: an unknown path is 401 too, and 404 only with the credential', async () => {
    expect((await request('/api/secret-admin')).status).toBe(401);
    expect((await request('/api/secret-admin', bearer)).status).toBe(404);
  });

  it('keeps the probes and (by default) /metrics open', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics'])
      expect((await request(path)).status, path).toBe(200);
  });

  it.skipIf(!existsSync(CHROMIUM))('the console logs in through the browser’s prompt', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      // With a wrong credential Chromium gets only the 401: no page.
      const wrong = await browser.newContext({
        httpCredentials: { username: 'alice', password: 'not-the-token-00000' },
      });
      const refused = await (await wrong.newPage()).goto(`${worker.baseUrl}/`);
      expect(refused?.status()).toBe(401);
      expect(await refused?.text()).toBe('{"error":"unauthorized"}');
      const context = await browser.newContext({
        httpCredentials: { username: 'alice', password: TOKEN },
      });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${worker.baseUrl}/`);
      await page.locator(`#connectors tbody tr[data-connector="${id}"]`).waitFor();
      await page.waitForFunction(() =>
        (globalThis as any).document.getElementById('live').textContent.includes('on'),
      );
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

/** Hostile requests, each with the credential (so what is judged is the request itself). */
const HOSTILE: [string, string][] = [
  ['SQL in a filter', `/api/events?connector=${encodeURIComponent("1' OR '1'='1")}`],
  ['SQL in an action', `/api/events?action=${encodeURIComponent("updated'; DROP TABLE x;--")}`],
  ['SQL in a status', `/api/connectors?status=${encodeURIComponent("synced' --")}`],
  ['a forged event cursor', '/api/events?after=not-a-uuid'],
  ['an event cursor that does not exist', '/api/events?after=00000000-0000-4000-8000-000000000000'],
  ['a forged pass cursor', '/api/passes?before=1%20OR%201=1'],
  ['a negative limit', '/api/events?limit=-1'],
  ['a zero limit', '/api/connectors?limit=0'],
  ['a huge limit', '/api/events?limit=100000000'],
  ['a fractional limit', '/api/passes?limit=1.5'],
  ['a limit in hex', '/api/events?limit=0x10'],
  ['an unknown parameter', '/api/events?drop=1'],
  ['a parameter twice', '/api/events?limit=1&limit=2'],
  ['a NUL byte', '/api/connectors?after=a%00b'],
  ['a newline', '/api/events?connector=a%0Ab'],
  ['a date that is not one', '/api/events?since=yesterday'],
  ['a date out of range', '/api/events?since=275760-09-13T00:00:00Z'],
  ['a long search', `/api/connectors?q=${'x'.repeat(201)}`],
  ['a long connector id', `/api/events?connector=${'9'.repeat(201)}`],
  ['a long value', `/api/events?connector=${'%E2%82%AC'.repeat(400)}`],
  ['unicode in a status', `/api/connectors?status=${encodeURIComponent('sÿnced💥')}`],
  ['bad percent-encoding in an id', '/api/connectors/%E0%A4%A'],
  ['a parameter on one connector', `/api/connectors/1?x=1`],
  ['a parameter on the overview', '/api/overview?debug=1'],
  ['an unknown stream parameter', '/api/events/stream?since=0'],
  ['path traversal', '/../../etc/passwd'],
  ['encoded path traversal', '/%2e%2e/%2e%2e/etc/passwd'],
  ['traversal to the source', '/app.js/../../package.json'],
  ['a file beside the console', '/index.html'],
  ['the compiled code', '/dist/cli/bin.js'],
  ['a double-slash path', '//api/events'],
];

describe('hostile requests', () => {
  it.each(HOSTILE)('%s: 4xx with a message, never a 5xx', async (_name, path) => {
    const answer = await request(path, bearer);
    expect(answer.status, `${path} → ${answer.status} ${answer.body}`).toBeGreaterThanOrEqual(400);
    expect(answer.status, `${path} → ${answer.status} ${answer.body}`).toBeLessThan(500);
    expect(JSON.parse(answer.body).error).toEqual(expect.any(String));
  });

  it('a body, another method, a 10 MB query string: refused', async () => {
    expect(
      (
        await request(
          '/api/events',
          { ...bearer, 'content-type': 'application/json' },
          'POST',
          '{}',
        )
      ).status,
    ).toBe(413);
    expect((await request('/api/events', bearer, 'DELETE')).status).toBe(405);
    expect(await hugeQueryStatus(10 * 1024 * 1024)).toBe(431);
  });

  it('a client that sends half a request is cut off; the worker stays healthy throughout', async () => {
    const socket = net.connect(worker.port, '127.0.0.1');
    socket.resume(); // read what comes (a 408), so the close is seen
    socket.write('GET /api/events HTTP/1.1\r\nHost: x\r\n');
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 20_000);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
      socket.on('error', () => undefined);
    });
    expect(closed).toBe(true);
    expect((await request('/healthz')).status).toBe(200);
    expect((await request('/api/overview', bearer)).status).toBe(200);
    expect(worker.logs.filter((l) => l.msg === 'ops endpoint failed')).toEqual([]);
  }, 30_000);
});

/**
 * Sends a request line with a query string of `bytes`, 64 KiB at a time, and
 * reads the status of the answer: the server answers (and hangs up) as soon
 * as the headers pass its limit, long before the 10 MB are sent.
 */
async function hugeQueryStatus(bytes: number): Promise<number> {
  const socket = net.connect(worker.port, '127.0.0.1');
  let text = '';
  let gone = false;
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  socket.on('error', () => (gone = true));
  socket.on('close', () => (gone = true));
  await new Promise((resolve) => socket.once('connect', resolve));
  const status = () => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  socket.write('GET /api/events?q=');
  for (let sent = 0; sent < bytes && !gone && status() === 0; sent += 65_536) {
    socket.write('a'.repeat(65_536));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (!gone) socket.write(' HTTP/1.1\r\nHost: x\r\n\r\n');
  for (let i = 0; i < 200 && status() === 0 && !gone; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  socket.destroy();
  return status();
}
