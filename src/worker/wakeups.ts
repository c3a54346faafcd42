import type pg from 'pg';
import type { Logger } from 'pino';
import { connectClient } from '../postgres/pool.js';
import { coerceError } from '../domain/errors.js';

export const WAKEUP_CHANNEL = 'connector_sync_wakeup';

/** A wake-up: the connector ids it names, or null for "a full pass, please". */
export type Wakeup = string[] | null;

/** Parses a NOTIFY payload: empty → full pass; otherwise one id, or ids separated by commas/whitespace. */
export function parseWakeup(payload: string | undefined): Wakeup {
  const ids = (payload ?? '')
    .split(/[\s,]+/)
    .map((id) => id.trim())
    .filter((id) => id !== '');
  return ids.length === 0 ? null : ids;
}

/** What to do with a notification on a channel; an undefined payload means "some may be lost". */
export type ChannelHandlers = Record<string, (payload: string | undefined) => void>;

/**
 * LISTENs on some channels on one dedicated connection and reconnects (with
 * a growing pause) when that connection fails. After a reconnect it calls
 * every handler with no payload: notifications sent while it was away are
 * lost (for wake-ups that means a full pass).
 */
export class WakeupListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retryMs = 500;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
    private readonly handlers: ChannelHandlers,
  ) {}

  async start(): Promise<void> {
    while (!this.stopped) {
      try {
        const client = await connectClient(this.url, this.logger);
        client.on('notification', (message) => this.handlers[message.channel]?.(message.payload));
        client.on('error', () => this.reconnect(client));
        client.on('end', () => this.reconnect(client));
        for (const channel of Object.keys(this.handlers)) await client.query(`LISTEN ${channel}`);
        this.client = client;
        this.retryMs = 500;
        return;
      } catch (error) {
        this.logger.warn({ err: coerceError(error) }, 'cannot LISTEN for wake-ups; retrying');
        await new Promise((resolve) => setTimeout(resolve, this.retryMs));
        this.retryMs = Math.min(this.retryMs * 2, 30_000);
      }
    }
  }

  private reconnect(client: pg.Client): void {
    if (this.client !== client || this.stopped) return;
    this.client = null;
    this.logger.warn('wake-up connection lost; reconnecting');
    for (const handle of Object.values(this.handlers)) handle(undefined);
    void this.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}
