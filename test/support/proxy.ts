import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A small HTTP proxy between the worker and the real Prefect server that can
// stop a chosen call at a chosen moment: before it reaches Prefect, or after
// Prefect has answered but before the worker hears the answer. Crash tests
// kill the worker while a call is held there. It can also slow calls down
// (`latency`), so a pass stays in flight long enough to be interrupted.

export type HoldPoint = 'before-prefect' | 'after-prefect';

export interface HoldRule {
  method: string;
  /** Matched against the path (after /api). */
  path: RegExp;
  point: HoldPoint;
  /** How many matching calls to hold (default 1); later ones pass. */
  times?: number;
}

export interface Latency {
  /** Delay added to every matching call. */
  ms: number;
  /**
   * Where the delay goes: before the call reaches Prefect (default; a call
   * whose client hangs up meanwhile is never forwarded), or after Prefect has
   * answered, before the answer is passed on (the change has taken effect).
   */
  point?: HoldPoint;
  /** Which calls are slowed (default: all). `path` is the path after /api. */
  match?: (method: string, path: string) => boolean;
}

export interface ProxyOptions {
  latency?: Latency;
}

/** A call the proxy passed on to Prefect: its body, and Prefect's status once it answered. */
export interface ForwardedCall {
  method: string;
  /** The path after /api. */
  path: string;
  body: string;
  /** Prefect's answer; null while it is still working on the call. */
  status: number | null;
}

export interface FaultProxy {
  url: string;
  /** Every call that reached Prefect, in the order it was sent (held-before and hung-up calls never do). */
  forwarded: ForwardedCall[];
  /** Resolves when a held call is being held. */
  held(): Promise<{ method: string; path: string; status: number | null }>;
  requests: { method: string; path: string }[];
  close(): Promise<void>;
}

export async function startProxy(
  targetApiUrl: string,
  rules: HoldRule[],
  options: ProxyOptions = {},
): Promise<FaultProxy> {
  const target = new URL(targetApiUrl);
  const latency = options.latency;
  let closed = false;
  const timers = new Set<NodeJS.Timeout>();
  /** Calls forwarded to Prefect and not yet answered by it. */
  const upstreamCalls = new Set<Promise<void>>();
  const delay = (ms: number, then: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) then();
    }, ms);
    timers.add(timer);
  };
  const remaining = rules.map((rule) => ({ rule, left: rule.times ?? 1 }));
  const requests: FaultProxy['requests'] = [];
  const forwarded: ForwardedCall[] = [];
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
      const slow = latency && (latency.match?.(method, path) ?? true) ? latency : null;
      let clientGone = false;
      res.on('close', () => (clientGone = true));
      const forward = (): void => {
        const record: ForwardedCall = {
          method,
          path,
          body: Buffer.concat(chunks).toString(),
          status: null,
        };
        forwarded.push(record);
        let finished: () => void = () => undefined;
        const call = new Promise<void>((resolve) => (finished = resolve));
        upstreamCalls.add(call);
        void call.then(() => upstreamCalls.delete(call));
        const upstream = http.request(
          {
            host: target.hostname,
            port: target.port,
            method,
            path: `${target.pathname.replace(/\/$/, '')}${path}`,
            headers: { ...req.headers, host: target.host },
          },
          (answer) => {
            record.status = answer.statusCode ?? null;
            const body: Buffer[] = [];
            answer.on('data', (c: Buffer) => body.push(c));
            answer.on('end', () => {
              finished();
              if (match?.rule.point === 'after-prefect') {
                parked.push(res);
                notify({ method, path, status: answer.statusCode ?? null });
                return;
              }
              const reply = (): void => {
                res.writeHead(answer.statusCode ?? 502, answer.headers);
                res.end(Buffer.concat(body));
              };
              if (slow?.point === 'after-prefect') delay(slow.ms, reply);
              else reply();
            });
          },
        );
        upstream.on('error', () => {
          finished();
          res.writeHead(502);
          res.end();
        });
        upstream.end(Buffer.concat(chunks));
      };
      if (slow && (slow.point ?? 'before-prefect') === 'before-prefect')
        delay(slow.ms, () => {
          if (!clientGone) forward(); // the client hung up: the call never reaches Prefect
        });
      else forward();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api`,
    held: () => heldPromise,
    requests,
    forwarded,
    close: async () => {
      // Calls still waiting out their latency never reach Prefect; calls
      // Prefect is already working on are let finish, so the caller sees a
      // settled Prefect afterwards.
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all([...upstreamCalls]);
      for (const res of parked) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      heldPromise = new Promise((r) => (notify = r));
    },
  };
}
