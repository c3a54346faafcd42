import http from 'node:http';
import type { AddressInfo } from 'node:net';

// Faults the model-based test needs that test/harness/proxy.ts does not make:
// a proxy that lets a write reach Prefect and then answers 503 (or never
// answers), so the change takes effect while the worker hears a failure or a
// timeout (an unknown outcome).

export type FlakyMode =
  /** The first attempt of each write fails after Prefect applied it; the retry gets the real answer. */
  | 'first-attempt'
  /** Every write fails after Prefect applied it: the worker never learns the outcome in this pass. */
  | 'every-write'
  /** The first attempt of each write is applied, then its answer never comes: the client times out. */
  | 'first-attempt-timeout';

export interface FlakyProxy {
  url: string;
  /** Writes Prefect applied whose answer was replaced by a 503 or withheld. */
  failed: number;
  close(): Promise<void>;
}

/** Reads that use POST: they change nothing in Prefect. */
const READ_POSTS = /\/(filter|paginate|count)$/;

export function isWrite(method: string, path: string): boolean {
  if (method === 'GET') return false;
  return !(method === 'POST' && READ_POSTS.test(path));
}

export async function startFlakyProxy(
  targetApiUrl: string,
  mode: FlakyMode,
  /** For first-attempt-timeout: how long the answer is held (longer than the client's timeout). */
  holdMs = 5_000,
): Promise<FlakyProxy> {
  const target = new URL(targetApiUrl);
  const seen = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  const state = { failed: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').replace(/^\/api/, '');
      const method = req.method ?? 'GET';
      const body = Buffer.concat(chunks);
      const key = `${method} ${path} ${body.toString()}`;
      const fail = isWrite(method, path) && (mode === 'every-write' || !seen.has(key));
      seen.add(key);
      let done: () => void = () => undefined;
      const call = new Promise<void>((resolve) => (done = resolve));
      inFlight.add(call);
      void call.then(() => inFlight.delete(call));
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method,
          path: `${target.pathname.replace(/\/$/, '')}${path}`,
          headers: { ...req.headers, host: target.host },
        },
        (answer) => {
          const reply: Buffer[] = [];
          answer.on('data', (c: Buffer) => reply.push(c));
          answer.on('end', () => {
            done();
            if (fail && mode === 'first-attempt-timeout') {
              state.failed++;
              const timer = setTimeout(() => {
                timers.delete(timer);
                res.destroy();
              }, holdMs);
              timers.add(timer);
              return;
            }
            if (fail && (answer.statusCode ?? 500) < 300) {
              state.failed++;
              res.writeHead(503, { 'content-type': 'application/json' });
              res.end('{"detail":"injected: applied, then 503"}');
              return;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(reply));
          });
        },
      );
      upstream.on('error', () => {
        done();
        res.writeHead(502);
        res.end();
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api`,
    get failed() {
      return state.failed;
    },
    close: async () => {
      await Promise.all([...inFlight]);
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A URL nothing listens on: Prefect unavailable for a whole pass. */
export async function closedApiUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/api`;
}
