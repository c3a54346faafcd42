import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A small HTTP proxy between the worker and the real Prefect server that can
// stop a chosen call at a chosen moment: before it reaches Prefect, or after
// Prefect has answered but before the worker hears the answer. Crash tests
// kill the worker while a call is held there.

export type HoldPoint = 'before-prefect' | 'after-prefect';

export interface HoldRule {
  method: string;
  /** Matched against the path (after /api). */
  path: RegExp;
  point: HoldPoint;
  /** How many matching calls to hold (default 1); later ones pass. */
  times?: number;
}

export interface FaultProxy {
  url: string;
  /** Resolves when a held call is being held. */
  held(): Promise<{ method: string; path: string; status: number | null }>;
  requests: { method: string; path: string }[];
  close(): Promise<void>;
}

export async function startProxy(targetApiUrl: string, rules: HoldRule[]): Promise<FaultProxy> {
  const target = new URL(targetApiUrl);
  const remaining = rules.map((rule) => ({ rule, left: rule.times ?? 1 }));
  const requests: FaultProxy['requests'] = [];
  let notify: (value: { method: string; path: string; status: number | null }) => void = () =>
    undefined;
  let heldPromise = new Promise<{ method: string; path: string; status: number | null }>(
    (r) => (notify = r),
  );
  const parked: http.ServerResponse[] = [];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').replace(/^\/api/, '');
      const method = req.method ?? 'GET';
      requests.push({ method, path });
      const match = remaining.find(
        (r) => r.left > 0 && r.rule.method === method && r.rule.path.test(path),
      );
      if (match) match.left--;
      if (match?.rule.point === 'before-prefect') {
        parked.push(res);
        notify({ method, path, status: null });
        return;
      }
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method,
          path: `${target.pathname.replace(/\/$/, '')}${path}`,
          headers: { ...req.headers, host: target.host },
        },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (c: Buffer) => body.push(c));
          answer.on('end', () => {
            if (match?.rule.point === 'after-prefect') {
              parked.push(res);
              notify({ method, path, status: answer.statusCode ?? null });
              return;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(body));
          });
        },
      );
      upstream.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api`,
    held: () => heldPromise,
    requests,
    close: async () => {
      for (const res of parked) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      heldPromise = new Promise((r) => (notify = r));
    },
  };
}
