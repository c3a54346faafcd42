import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// A small HTTP proxy between the worker and the real Prefect server.
//
// Holds: stop a chosen call at a chosen moment, before it reaches Prefect or
// after Prefect has answered but before the worker hears the answer. Crash
// tests kill the worker while a call is held there. `latency` slows calls
// down, so a pass stays in flight long enough to be interrupted.
//
// Faults (switched on and off at runtime with `setFaults` / `clearFaults`):
// latency, connection resets, hung responses, bursts of 5xx, 429 with a
// Retry-After (seconds or an HTTP date), and outages (every connection reset
// or refused). Every injected fault is counted in `injected`, and every
// request that arrived is in `log` with its arrival time, so tests can report
// totals and measure the rate and the pauses the worker kept to.

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

export type FaultStatus = 500 | 502 | 503 | 504;

/** One kind of fault. `point` says whether the call reaches Prefect first (default: it does not). */
export type Fault =
  | { kind: 'latency'; ms: number; point?: HoldPoint }
  /** The connection is destroyed: the client sees ECONNRESET / "socket hang up". */
  | { kind: 'reset'; point?: HoldPoint }
  /** No answer until the faults are cleared (then it is let through) or the client gives up. */
  | { kind: 'hang'; point?: HoldPoint }
  | { kind: 'status'; status: FaultStatus }
  | { kind: 'rate-limit'; retryAfterSeconds: number; as: 'seconds' | 'date' }
  /** Prefect is gone: every connection is reset on arrival (`reset`) or refused (`refuse`). */
  | { kind: 'outage'; mode?: 'reset' | 'refuse' };

export interface FaultRule {
  fault: Fault;
  /** Which calls it hits (default: all). `path` is the path after /api. */
  match?: (method: string, path: string) => boolean;
  /** How many calls it hits at most (default: unlimited): a burst of N. */
  times?: number;
  /** Chance that a matching call is hit (default 1), drawn from the seeded generator. */
  probability?: number;
}

/** One request as the proxy saw it. */
export interface LoggedRequest {
  method: string;
  path: string;
  /** Arrival time (Date.now()). */
  at: number;
  /** The fault label it got (see `faultLabel`), or null when it was passed through untouched. */
  fault: string | null;
  /** Status the client was sent (null: connection destroyed or never answered). */
  status: number | null;
  /** Whether the call reached Prefect. */
  forwarded: boolean;
  /** When Prefect's answer reached the proxy (Date.now()); null while it works on it, or when none came. */
  answeredAt: number | null;
  /** Who called: "connector-sync" (a pass) or "connector-sync (publisher)" (the event sink). */
  userAgent: string;
}

/** A call a pass made (not the publisher's, which posts the log's events with a client of its own). */
export function byPass(r: LoggedRequest): boolean {
  return r.userAgent === 'connector-sync';
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
  /**
   * Sends the calls held before Prefect on to Prefect now — also when their
   * client is gone (killed), as a request already in Prefect's hands would
   * still be carried out — and resolves once Prefect has answered them all.
   * A late write: it lands after its sender died.
   */
  releaseHeld(): Promise<ForwardedCall[]>;
  requests: { method: string; path: string }[];
  /** Every request with its arrival time and what happened to it. */
  log: LoggedRequest[];
  /** Faults injected so far, by label (e.g. `status-503`, `reset-after-prefect`, `outage-reset`). */
  injected: Record<string, number>;
  /** Replaces the active faults; `seed` fixes the random draws of `probability`. */
  setFaults(rules: FaultRule[], seed?: number): void;
  /** Switches every fault off; hung calls whose client still waits are let through. */
  clearFaults(): Promise<void>;
  /** An outage of `ms`: every connection reset (or refused) until it ends. */
  outageFor(ms: number, mode?: 'reset' | 'refuse'): Promise<void>;
  close(): Promise<void>;
}

/** The label a fault is counted under. */
export function faultLabel(fault: Fault): string {
  switch (fault.kind) {
    case 'latency':
    case 'reset':
    case 'hang':
      return `${fault.kind}-${fault.point ?? 'before-prefect'}`;
    case 'status':
      return `status-${fault.status}`;
    case 'rate-limit':
      return `429-retry-after-${fault.as}`;
    case 'outage':
      return `outage-${fault.mode ?? 'reset'}`;
  }
}

/** A small seeded generator (mulberry32): the same seed gives the same draws. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ActiveRule {
  rule: FaultRule;
  left: number;
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
  const log: LoggedRequest[] = [];
  const injected: Record<string, number> = {};
  const count = (label: string): void => {
    injected[label] = (injected[label] ?? 0) + 1;
  };
  const forwarded: ForwardedCall[] = [];
  let notify: (value: { method: string; path: string; status: number | null }) => void = () =>
    undefined;
  let heldPromise = new Promise<{ method: string; path: string; status: number | null }>(
    (r) => (notify = r),
  );
  const parked: http.ServerResponse[] = [];
  /** Calls held before Prefect: `go` forwards one (its answer goes nowhere if the client left). */
  let heldBefore: (() => ForwardedCall)[] = [];

  let active: ActiveRule[] = [];
  let random = seededRandom(1);
  /** Calls hung by a `hang` fault: released (let through) when faults are cleared. */
  let hung: (() => void)[] = [];
  const sockets = new Set<Socket>();

  /** The fault this call gets, if any (and counts it against its rule). */
  const pickFault = (method: string, path: string): Fault | null => {
    for (const entry of active) {
      if (entry.left <= 0) continue;
      if (entry.rule.match && !entry.rule.match(method, path)) continue;
      if (entry.rule.probability !== undefined && random() >= entry.rule.probability) continue;
      entry.left--;
      return entry.rule.fault;
    }
    return null;
  };
  const outage = (): Fault | null => {
    const rule = active.find((r) => r.rule.fault.kind === 'outage' && r.left > 0 && !r.rule.match);
    return rule ? rule.rule.fault : null;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').replace(/^\/api/, '');
      const method = req.method ?? 'GET';
      requests.push({ method, path });
      const entry: LoggedRequest = {
        method,
        path,
        at: Date.now(),
        fault: null,
        status: null,
        forwarded: false,
        answeredAt: null,
        userAgent: req.headers['user-agent'] ?? '',
      };
      log.push(entry);
      let clientGone = false;
      res.on('close', () => (clientGone = true));
      const send = (status: number, headers: http.OutgoingHttpHeaders, body: Buffer): void => {
        entry.status = status;
        if (clientGone) return;
        res.writeHead(status, headers);
        res.end(body);
      };
      const destroy = (): void => {
        entry.status = null;
        res.socket?.destroy();
        res.destroy();
      };

      const match = remaining.find(
        (r) => r.left > 0 && r.rule.method === method && r.rule.path.test(path),
      );
      if (match) match.left--;
      const fault = match ? null : pickFault(method, path);
      if (fault) {
        entry.fault = faultLabel(fault);
        count(entry.fault);
      }
      const slow =
        fault?.kind === 'latency'
          ? { ms: fault.ms, point: fault.point }
          : latency && (latency.match?.(method, path) ?? true)
            ? latency
            : null;
      const point = fault && 'point' in fault ? (fault.point ?? 'before-prefect') : null;

      const forward = (): ForwardedCall => {
        entry.forwarded = true;
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
            // A fresh connection per request: a kept-alive one that Prefect's
            // server closes as idle (uvicorn's 5 s) races the next request
            // into ECONNRESET, which this proxy would pass on as a 502 no
            // test asked for (seen once on a busy machine).
            agent: false,
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
              entry.answeredAt = Date.now();
              finished();
              if (match?.rule.point === 'after-prefect') {
                parked.push(res);
                notify({ method, path, status: answer.statusCode ?? null });
                return;
              }
              const reply = (): void =>
                send(answer.statusCode ?? 502, answer.headers, Buffer.concat(body));
              if (point === 'after-prefect' && fault?.kind === 'reset') return destroy();
              if (point === 'after-prefect' && fault?.kind === 'hang')
                return void hung.push(() => (clientGone ? destroy() : reply()));
              if (slow?.point === 'after-prefect') delay(slow.ms, reply);
              else reply();
            });
          },
        );
        upstream.on('error', () => {
          finished();
          send(502, {}, Buffer.alloc(0));
        });
        upstream.end(Buffer.concat(chunks));
        return record;
      };

      if (match?.rule.point === 'before-prefect') {
        parked.push(res);
        heldBefore.push(forward);
        notify({ method, path, status: null });
        return;
      }

      switch (fault?.kind) {
        case 'status':
          return send(
            fault.status,
            { 'content-type': 'application/json' },
            Buffer.from(JSON.stringify({ detail: `injected ${fault.status}` })),
          );
        case 'rate-limit': {
          const retryAfter =
            fault.as === 'seconds'
              ? String(fault.retryAfterSeconds)
              : new Date(Date.now() + fault.retryAfterSeconds * 1000).toUTCString();
          return send(
            429,
            { 'content-type': 'application/json', 'retry-after': retryAfter },
            Buffer.from(JSON.stringify({ detail: 'Too Many Requests (injected)' })),
          );
        }
        case 'outage':
          return destroy();
        case 'reset':
          if (point === 'before-prefect') return destroy();
          return void forward();
        case 'hang':
          if (point === 'before-prefect')
            return void hung.push(() => (clientGone ? destroy() : void forward()));
          return void forward();
        default:
          break;
      }
      if (slow && (slow.point ?? 'before-prefect') === 'before-prefect')
        delay(slow.ms, () => {
          if (!clientGone) forward(); // the client hung up: the call never reaches Prefect
        });
      else forward();
    });
  });
  server.on('connection', (socket) => {
    const down = outage();
    if (down) {
      count(faultLabel(down));
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let listening = true;

  const relisten = async (): Promise<void> => {
    if (listening || closed) return;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    listening = true;
  };

  const setFaults = (next: FaultRule[], seed = 1): void => {
    active = next.map((rule) => ({ rule, left: rule.times ?? Number.POSITIVE_INFINITY }));
    random = seededRandom(seed);
    const down = outage();
    if (!down) return;
    // Connections kept alive from before the outage go too.
    for (const socket of sockets) socket.destroy();
    if (down.kind === 'outage' && down.mode === 'refuse' && listening) {
      listening = false;
      count(faultLabel(down));
      server.close();
    }
  };

  const clearFaults = async (): Promise<void> => {
    active = [];
    const release = hung;
    hung = [];
    for (const go of release) go();
    await relisten();
  };

  return {
    url: `http://127.0.0.1:${port}/api`,
    held: () => heldPromise,
    requests,
    log,
    injected,
    setFaults,
    clearFaults,
    outageFor: async (ms, mode = 'reset') => {
      setFaults([{ fault: { kind: 'outage', mode } }]);
      await new Promise((resolve) => setTimeout(resolve, ms));
      await clearFaults();
    },
    forwarded,
    releaseHeld: async () => {
      const release = heldBefore;
      heldBefore = [];
      const calls = release.map((go) => go());
      await Promise.all([...upstreamCalls]);
      return calls;
    },
    close: async () => {
      // Calls still waiting out their latency never reach Prefect; calls
      // Prefect is already working on are let finish, so the caller sees a
      // settled Prefect afterwards.
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const go of hung) go();
      hung = [];
      await Promise.all([...upstreamCalls]);
      for (const res of parked) res.destroy();
      server.closeAllConnections();
      if (listening) await new Promise<void>((resolve) => server.close(() => resolve()));
      heldPromise = new Promise((r) => (notify = r));
    },
  };
}
