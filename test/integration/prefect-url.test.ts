import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import {
  createTestEnv,
  insertConnectors,
  SHORT_CALLS,
  type CliResult,
  type TestEnv,
} from '../harness/env.js';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.js';

// A PREFECT_API_URL that answers, but not as Prefect's API: the real server's
// root (no /api: 404 {"detail":"Not Found"} to every call), https:// to that
// plain-HTTP server, and a page of HTML (a UI or a proxy's login form). Each
// is one line naming the URL asked and what it answered, with the fix; exit 64.

let env: TestEnv;
/** Short Prefect calls (one quick retry): a URL that never answers fails in seconds. */
let quick: TestEnv;
/** In front of the real server; cut, it refuses every connection (a closed port). */
let proxy: TcpProxy;
/** Accepts connections and never answers. */
let silent: net.Server;
let silentUrl: string;
let html: http.Server;
let htmlUrl: string;
const htmlRequests: string[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  await insertConnectors(env, [{ name: 'url', schedule: '0 5 * * *' }]);
  html = http.createServer((req, res) => {
    htmlRequests.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html><body>Sign in</body></html>');
  });
  await new Promise<void>((resolve) => html.listen(0, '127.0.0.1', resolve));
  htmlUrl = `http://127.0.0.1:${(html.address() as AddressInfo).port}`;
  quick = await createTestEnv({ config: { prefect: SHORT_CALLS } });
  await insertConnectors(quick, [{ name: 'url', schedule: '0 5 * * *' }]);
  proxy = await startTcpProxy(Number(new URL(env.apiUrl).port));
  silent = net.createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/api`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => html?.close(() => resolve()));
  silent?.close();
  await proxy?.close();
  await env?.cleanup();
  await quick?.cleanup();
});

/** The line a failed command ends with (after at most one log line of the retry), never a stack. */
function lastLine(result: CliResult): string {
  const lines = result.stderr.trim().split('\n');
  expect(lines.length).toBeLessThanOrEqual(2);
  expect(result.stderr).not.toMatch(/"stack"|\n\s+at /);
  return lines.at(-1)!;
}

function oneLine(result: CliResult): string {
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

/** No connector state, no change: a run that failed leaves only its own `pass-failed` events. */
async function nothingRecorded(): Promise<void> {
  expect(await env.sql(`SELECT * FROM connector_sync.connector_state`)).toEqual([]);
  expect(
    await env.sql(`SELECT * FROM connector_sync.events WHERE action <> 'pass-failed'`),
  ).toEqual([]);
}

describe.each([
  ['run --once', ['run', '--once']],
  ['plan', ['plan']],
])('%s', (_, args) => {
  it('the real server without /api: "not a Prefect API", suggests …/api, exit 64', async () => {
    const root = env.apiUrl.replace(/\/api$/, '');
    const result = await env.cli(args, { PREFECT_API_URL: root });
    expect(result.code).toBe(64);
    expect(oneLine(result)).toBe(
      `connector-sync: PREFECT_API_URL ${root} is not a Prefect API: GET ${root}/health answered 404 (Not Found); Prefect's API is under /api, e.g. ${root}/api`,
    );
    await nothingRecorded();
  });

  it('https:// to the plain-HTTP server: says so and suggests http://, exit 64', async () => {
    const https = env.apiUrl.replace(/^http:/, 'https:');
    const result = await env.cli(args, { PREFECT_API_URL: https });
    expect(result.code).toBe(64);
    expect(oneLine(result)).toBe(
      `connector-sync: PREFECT_API_URL ${https}: GET ${https}/flows/name/${env.flowName} failed: the server does not speak TLS (EPROTO); if it serves plain HTTP, use ${env.apiUrl}`,
    );
    await nothingRecorded();
  });

  it('a server answering HTML: names the URL, status and content type, exit 64', async () => {
    const before = htmlRequests.length;
    const result = await env.cli(args, { PREFECT_API_URL: `${htmlUrl}/api` });
    expect(result.code).toBe(64);
    expect(oneLine(result)).toBe(
      `connector-sync: PREFECT_API_URL ${htmlUrl}/api is not a Prefect API: GET ${htmlUrl}/api/flows/name/${env.flowName} answered 200 text/html; charset=utf-8, not JSON; check that it is the Prefect server's API, not its UI or a proxy in front of it`,
    );
    // Stopped at the first answer (the flow lookup): no listing, no write.
    expect(htmlRequests.slice(before)).toEqual([`GET /api/flows/name/${env.flowName}`]);

    const bare = await env.cli(args, { PREFECT_API_URL: htmlUrl });
    expect(bare.code).toBe(64);
    expect(oneLine(bare)).toMatch(
      /answered 200 text\/html; charset=utf-8, not JSON; Prefect's API is under \/api, e\.g\. http:\/\/127\.0\.0\.1:\d+\/api$/,
    );
    await nothingRecorded();
  });
});

// A PREFECT_API_URL that does not answer at all: a closed port, a host name
// that does not resolve, a server that never answers. The line names the URL
// (never a credential) and what happened, with what to check; exit 69.
describe.each([
  ['run --once', ['run', '--once']],
  ['plan', ['plan']],
])('%s, Prefect not answering', (_, args) => {
  const route = String.raw`GET /[a-z_/]+(\{name\})?`;

  it('a closed port: "connection refused", naming the URL without its credentials', async () => {
    await proxy.cut();
    const url = `http://127.0.0.1:${proxy.port}/api`;
    const withUser = `http://someone:pa55word-x@127.0.0.1:${proxy.port}/api`;
    const result = await quick.cli(args, { PREFECT_API_URL: withUser });
    expect(result.code).toBe(69);
    const line = lastLine(result);
    expect(result.stderr).not.toContain('pa55word');
    expect(line).toMatch(
      new RegExp(
        `^connector-sync: Prefect is unavailable: PREFECT_API_URL ${esc(url)}: ${route} failed: connection refused \\(ECONNREFUSED\\); check the host and port, and that Prefect is running there$`,
      ),
    );
    expect(line).not.toContain('pa55word');
    expect(line).not.toContain('/ui');
  });

  it('a host name that does not resolve: says so and names the host', async () => {
    const url = 'http://no-such-prefect.invalid:4200/api';
    const result = await quick.cli(args, { PREFECT_API_URL: url });
    expect(result.code).toBe(69);
    expect(lastLine(result)).toMatch(
      new RegExp(
        `^connector-sync: Prefect is unavailable: PREFECT_API_URL ${esc(url)}: ${route} failed: the host name "no-such-prefect.invalid" does not resolve \\((ENOTFOUND|EAI_AGAIN)\\); check the host$`,
      ),
    );
  });

  it('a server that never answers: "no answer within 2 s"', async () => {
    const result = await quick.cli(args, { PREFECT_API_URL: silentUrl });
    expect(result.code).toBe(69);
    expect(lastLine(result)).toMatch(
      new RegExp(
        `^connector-sync: Prefect is unavailable: PREFECT_API_URL ${esc(silentUrl)}: ${route} failed: no answer within 2 s \\(timed out; prefect.timeoutMs\\)`,
      ),
    );
  });
});

describe('the long-running worker, Prefect not answering', () => {
  let worker: WorkerProcess | undefined;
  afterAll(async () => {
    worker?.kill('SIGTERM');
    await worker?.exited;
  });

  it('says what failed once, without a stack; /readyz is 503 until a pass gets through', async () => {
    await proxy.cut();
    const url = `http://127.0.0.1:${proxy.port}/api`;
    worker = await startWorker(quick, { PREFECT_API_URL: url });
    const w = worker;
    await w.waitForLog((l) => l.msg === 'pass failed' && l.failures === 2, 30_000);

    const failed = w.logs.filter((l) => l.msg === 'pass failed');
    expect(failed[0]).toMatchObject({ level: 50, class: 'unreachable', failures: 1 });
    expect(failed[0]!.error).toMatch(
      new RegExp(
        `^PREFECT_API_URL ${esc(url)}: GET \\S+ failed: connection refused \\(ECONNREFUSED\\)`,
      ),
    );
    // The same failure again: a short line, not the text (nor a stack) once more.
    expect(failed[1]).toMatchObject({ level: 30, again: true, failures: 2 });
    expect(failed[1]).not.toHaveProperty('error');
    expect(w.output()).not.toMatch(/"stack"|\n\s+at /);
    expect(w.logs.filter((l) => l.msg === 'pass failed' && 'error' in l)).toHaveLength(1);
    expect(
      w.logs.filter((l) => l.msg === 'Prefect call failed; retrying').length,
    ).toBeLessThanOrEqual(1);

    const ready = await fetch(`${w.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      status: 'cannot reach Prefect',
      error: failed[0]!.error,
    });
    // Liveness stays: an outage is no reason to restart.
    expect((await fetch(`${w.baseUrl}/healthz`)).status).toBe(200);

    await proxy.restore();
    const again = await w.waitForLog((l) => l.msg === 'passes get through again', 30_000);
    expect(again).toMatchObject({ level: 30, failure: failed[0]!.error });
    await w.waitForLog((l) => l.msg === 'pass finished', 10_000);
    expect((await fetch(`${w.baseUrl}/readyz`)).status).toBe(200);
  });
});

function esc(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
