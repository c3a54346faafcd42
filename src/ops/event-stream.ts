import type http from 'node:http';
import type pg from 'pg';
import type { Logger } from 'pino';
import { EVENTS_CHANNEL, eventsAfterSeq, lastSeq } from '../postgres/eventlog.js';
import { Listener, oneAtATime } from '../postgres/listen.js';
import { coerceError } from '../domain/errors.js';
import type { Masker } from '../domain/mask.js';

// GET /api/events/stream: Server-Sent Events, one per event committed after the
// stream opened (or after Last-Event-ID, so a browser that reconnects skips
// nothing). A NOTIFY on connector_sync_events only means "read on from the last
// seq sent" — as `events --follow` does — so a burst, a late commit or a lost
// notification neither skips nor repeats an event.

export interface StreamDeps {
  pool: pg.Pool;
  schema: string;
  /** Events leave masked (docs/guides/security.md). */
  masker: Masker;
  databaseUrl: string;
  logger: Logger;
}

const HEARTBEAT_MS = 15_000;
const PAGE = 500;
/** Each stream holds a Postgres connection of its own: a bound, so a page left open in many tabs cannot exhaust Postgres. */
export const MAX_STREAMS = 20;
let open = 0;

export async function streamEvents(
  deps: StreamDeps,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  connector: string | undefined,
): Promise<void> {
  if (open >= MAX_STREAMS) {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '30' });
    res.end(JSON.stringify({ error: `at most ${MAX_STREAMS} live streams at once` }));
    return;
  }
  open++;
  const stream = new Stream(deps, res, connector);
  req.on('close', () => stream.close());
  try {
    await stream.start(lastEventId(req));
  } catch (error) {
    // A page that went away while the stream was opening is no failure.
    if (!stream.closed)
      deps.logger.warn({ err: coerceError(error) }, 'console event stream failed');
    stream.close();
  }
}

/** The Last-Event-ID a reconnecting EventSource sends: the seq of the last event it got. */
function lastEventId(req: http.IncomingMessage): string | null {
  const raw = req.headers['last-event-id'];
  return typeof raw === 'string' && /^\d{1,18}$/.test(raw) ? raw : null;
}

class Stream {
  private seq = '0';
  closed = false;
  private listener: Listener | null = null;
  /** Reads start once the seq to read on from is known and the headers are out. */
  private ready = false;
  private heartbeat: NodeJS.Timeout | null = null;
  /** Reads on from the last seq sent; one read at a time, and one more if asked meanwhile. */
  private readonly reads = oneAtATime(
    () => this.readPages(),
    (error) => {
      this.deps.logger.warn({ err: error }, 'console event stream: read failed');
      this.close();
    },
  );

  constructor(
    private readonly deps: StreamDeps,
    private readonly res: http.ServerResponse,
    private readonly connector: string | undefined,
  ) {}

  async start(resumeAt: string | null): Promise<void> {
    const listener = await Listener.open(
      this.deps.databaseUrl,
      [EVENTS_CHANNEL],
      () => this.readOn(),
      { applicationName: 'connector-sync console stream' },
    );
    this.listener = listener;
    // A lost connection ends the response; the browser reconnects with Last-Event-ID.
    void listener.lost.then(() => this.close());
    if (this.closed) return void listener.close();
    // After LISTEN: whatever commits from here on is either read now or notified.
    this.seq = resumeAt ?? (await lastSeq(this.deps.pool, this.deps.schema));
    if (this.closed) return;
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    this.res.write(`retry: 2000\n: from seq ${this.seq}\n\n`);
    this.ready = true;
    // The heartbeat keeps proxies from closing an idle stream, and reads on in case a NOTIFY was lost.
    this.heartbeat = setInterval(() => {
      this.res.write(': heartbeat\n\n');
      this.readOn();
    }, HEARTBEAT_MS);
    this.readOn();
  }

  private readOn(): void {
    if (this.ready && !this.closed) this.reads.request();
  }

  private async readPages(): Promise<void> {
    const client: pg.Client | undefined = this.listener?.client;
    if (!client) return;
    const filters = { connectorId: this.connector };
    while (!this.closed) {
      const page = await eventsAfterSeq(
        client,
        this.deps.schema,
        filters,
        this.seq,
        PAGE,
        this.deps.masker,
      );
      for (const { seq, event } of page) {
        if (this.closed) return;
        this.res.write(`id: ${seq}\nevent: event\ndata: ${JSON.stringify(event)}\n\n`);
        this.seq = seq;
      }
      if (page.length < PAGE) return;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    open--;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (!this.res.headersSent) this.res.writeHead(503, { 'content-type': 'text/plain' });
    this.res.end();
    void this.listener?.close();
  }
}
