import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { coerceError } from '../domain/errors.js';

// LISTEN/NOTIFY, written once. A Listener is one dedicated connection that
// LISTENs on some channels; a ReconnectingListener keeps one up across lost
// connections. Its users: the worker's wake-ups and the publisher's nudge
// (worker/), `events --follow` and `sync`'s wait for the leader (cli/), the
// console's live stream (ops/). A notification only ever means "look again":
// every user reads what it announces, so one lost with its connection costs
// a read, never an event.

/** A notification's handler; the payload as sent (NOTIFY without one: undefined). */
export type OnNotify = (channel: string, payload: string | undefined) => void;

export interface ListenOptions {
  /** Shown in pg_stat_activity. */
  applicationName: string;
  /** Extra settings of the connection (timeouts). */
  client?: Partial<pg.ClientConfig>;
}

/** One dedicated connection LISTENing on some channels. */
export class Listener {
  /** Resolves with the reason once the connection is lost, failed by its user, or closed. */
  readonly lost: Promise<Error>;
  private markLost: (reason: Error) => void = () => undefined;
  private closed = false;

  private constructor(readonly client: pg.Client) {
    this.lost = new Promise((resolve) => (this.markLost = resolve));
    // Without a listener a killed connection would end the process.
    client.on('error', (error) => this.markLost(error));
    client.on('end', () => this.markLost(new Error('the connection was closed')));
  }

  /** Connects and LISTENs; throws (with the connection closed) if either fails. */
  static async open(
    url: string,
    channels: readonly string[],
    onNotify: OnNotify,
    options: ListenOptions,
  ): Promise<Listener> {
    const client = new pg.Client({
      connectionString: url,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: options.applicationName,
      ...options.client,
    });
    const listener = new Listener(client);
    client.on('notification', (n) => onNotify(n.channel, n.payload));
    try {
      await client.connect();
      // Channel names are ours (constants), never input: LISTEN takes no parameters.
      for (const channel of channels) await client.query(`LISTEN ${channel}`);
    } catch (error) {
      await listener.close();
      throw error;
    }
    return listener;
  }

  /** Its user found the connection broken (a read failed): treat it as lost. */
  fail(reason: unknown): void {
    this.markLost(coerceError(reason));
    void this.close();
  }

  /** Ends the connection; bounded, since end() on a connection that died mid-query may never settle. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.markLost(new Error('closed'));
    await Promise.race([
      this.client.end().catch(() => undefined),
      sleep(1_000, undefined, { ref: false }),
    ]);
  }
}

/** What a ReconnectingListener tells its user. */
export interface ReconnectHooks {
  onNotify: OnNotify;
  /**
   * Called on each connection once it LISTENs (`again`: not the first). It
   * catches up on what may have been missed; a throw counts as a lost
   * connection. The failures in a row reset only once it resolves.
   */
  onConnected?: (listener: Listener, again: boolean) => Promise<void>;
  /** The connection failed (`wasUp`: it had been listening) or could not be made; the next try is in `retryInMs`. */
  onLost?: (error: Error, context: { wasUp: boolean; failures: number; retryInMs: number }) => void;
  /** The pause before try `failures` (1, 2, …). */
  retryDelayMs: (failures: number) => number;
}

/**
 * Keeps a Listener up until stopped: after a lost connection it waits a
 * growing pause and connects again. Notifications sent meanwhile are lost,
 * so `onConnected` catches up.
 */
export class ReconnectingListener {
  private readonly halt = new AbortController();
  /** Resolves once stopped: one listener on the signal for the whole life of this. */
  private readonly halted = new Promise<Error>((resolve) =>
    this.halt.signal.addEventListener('abort', () => resolve(new Error('stopped')), {
      once: true,
    }),
  );
  private current: Listener | null = null;
  private running: Promise<void> | null = null;
  private firstUp: (() => void) | null = null;

  constructor(
    private readonly url: string,
    private readonly channels: readonly string[],
    private readonly hooks: ReconnectHooks,
    private readonly options: ListenOptions,
  ) {}

  /** Starts it; resolves once it first listens (or it is stopped first). */
  async start(): Promise<void> {
    const up = new Promise<void>((resolve) => (this.firstUp = resolve));
    this.running ??= this.run();
    await Promise.race([up, this.running]);
  }

  /** Runs until stopped (`events --follow` waits on this). */
  async untilStopped(): Promise<void> {
    this.running ??= this.run();
    await this.running;
  }

  async stop(): Promise<void> {
    this.halt.abort();
    await this.current?.close();
    await this.running;
  }

  private async run(): Promise<void> {
    let failures = 0;
    let connectedBefore = false;
    while (!this.halt.signal.aborted) {
      let wasUp = false;
      let reason: Error;
      try {
        const listener = await unlessHalted(
          Listener.open(this.url, this.channels, this.hooks.onNotify, this.options),
          this.halted,
        );
        if (listener === null) break;
        this.current = listener;
        wasUp = true;
        this.firstUp?.();
        await this.hooks.onConnected?.(listener, connectedBefore);
        connectedBefore = true;
        failures = 0;
        reason = await Promise.race([listener.lost, this.halted]);
      } catch (error) {
        reason = coerceError(error);
      } finally {
        await this.current?.close();
        this.current = null;
      }
      if (this.halt.signal.aborted) break;
      failures += 1;
      const retryInMs = this.hooks.retryDelayMs(failures);
      this.hooks.onLost?.(reason, { wasUp, failures, retryInMs });
      await sleep(retryInMs, undefined, { signal: this.halt.signal }).catch(() => undefined);
    }
    this.firstUp?.();
  }
}

/** `opening`, unless `halted` comes first: then null, and the connection is closed once made. */
async function unlessHalted(
  opening: Promise<Listener>,
  halted: Promise<Error>,
): Promise<Listener | null> {
  const result = await Promise.race([opening, halted]);
  if (result instanceof Listener) return result;
  opening.then((late) => late.close()).catch(() => undefined);
  return null;
}

/**
 * `work` run one at a time: asked for while it runs, it runs once more after
 * (however often it was asked). A failure goes to `onError`, and it stops.
 */
export function oneAtATime(
  work: () => Promise<void>,
  onError: (error: Error) => void,
): { request: () => void; idle: () => Promise<void> } {
  let again = false;
  let chain: Promise<void> = Promise.resolve();
  let failed = false;
  const request = (): void => {
    if (failed) return;
    again = true;
    chain = chain.then(async () => {
      while (again && !failed) {
        again = false;
        await work();
      }
    });
    chain = chain.catch((error: unknown) => {
      if (failed) return;
      failed = true;
      onError(coerceError(error));
    });
  };
  return { request, idle: () => chain };
}
