import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, insertConnectors, type CliResult, type TestEnv } from '../harness/env.js';

// A PREFECT_API_URL that answers, but not as Prefect's API: the real server's
// root (no /api: 404 {"detail":"Not Found"} to every call), https:// to that
// plain-HTTP server, and a page of HTML (a UI or a proxy's login form). Each
// is one line naming the URL asked and what it answered, with the fix; exit 64.

let env: TestEnv;
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
});
afterAll(async () => {
  await new Promise<void>((resolve) => html?.close(() => resolve()));
  await env?.cleanup();
});

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
