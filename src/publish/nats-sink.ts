import {
  connect,
  nanos,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
} from 'nats';
import type { Logger } from 'pino';
import type { Sink } from './sink.js';
import type { SequencedEvent } from '../domain/events.js';

export interface NatsSinkOptions {
  url: string;
  /** Events go to `<subject>.<action>`. */
  subject: string;
  /** The JetStream stream over `<subject>.>`; made when it does not exist. */
  stream: string;
}

/**
 * How long JetStream remembers a Nats-Msg-Id to drop a second copy, in a
 * stream this sink makes. A batch is sent again only when a crash or outage
 * cut it short, and then within seconds to minutes: a day covers a worker
 * that stays down a long time, at the cost of one id per event kept that long.
 */
const DUPLICATE_WINDOW_MS = 24 * 60 * 60 * 1000;
const TIMEOUT_MS = 5_000;

/**
 * Publishes every event of the log to NATS JetStream (the subject names the
 * action, so a consumer subscribes to what it wants), with our event id as
 * Nats-Msg-Id: a batch sent again after a crash is stored once.
 */
export class NatsSink implements Sink {
  readonly name = 'nats';
  private connection: { nc: NatsConnection; js: JetStreamClient } | null = null;

  constructor(
    private readonly options: NatsSinkOptions,
    private readonly logger: Logger,
  ) {}

  async deliver(events: SequencedEvent[]): Promise<void> {
    const { js } = await this.connected();
    // Sent together on one connection, so they reach the stream in this order;
    // each resolves once JetStream has stored it (or dropped it as a copy).
    await Promise.all(
      events.map(({ seq, event }) =>
        js.publish(
          `${this.options.subject}.${event.action}`,
          new TextEncoder().encode(JSON.stringify({ seq, ...event })),
          { msgID: event.id, timeout: TIMEOUT_MS },
        ),
      ),
    );
  }

  async close(): Promise<void> {
    const current = this.connection;
    this.connection = null;
    await current?.nc.drain().catch(() => undefined);
  }

  private async connected(): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
    if (this.connection && !this.connection.nc.isClosed()) return this.connection;
    // No reconnect of its own: a lost connection fails the batch, and the
    // publisher's backoff decides when to try again (with a fresh connection).
    const nc = await connect({
      servers: this.options.url,
      name: 'connector-sync',
      timeout: TIMEOUT_MS,
      reconnect: false,
    });
    try {
      await this.ensureStream(await nc.jetstreamManager({ timeout: TIMEOUT_MS }));
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw error;
    }
    this.connection = { nc, js: nc.jetstream({ timeout: TIMEOUT_MS }) };
    return this.connection;
  }

  private async ensureStream(jsm: JetStreamManager): Promise<void> {
    const { stream, subject } = this.options;
    const known = await jsm.streams.info(stream).catch((error: unknown) => {
      if (error instanceof Error && /stream not found/i.test(error.message)) return null;
      throw error;
    });
    if (known) return;
    await jsm.streams.add({
      name: stream,
      subjects: [`${subject}.>`],
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    });
    this.logger.info({ stream, subjects: `${subject}.>` }, 'made the NATS JetStream stream');
  }
}
