import type pg from 'pg';
import { backoffSeconds } from '../../domain/backoff.js';
import {
  eventsAfterSeq,
  newestEvents,
  EVENTS_CHANNEL,
  type EventFilters,
} from '../../postgres/eventlog.js';
import { ReconnectingListener, oneAtATime, type Listener } from '../../postgres/listen.js';
import { requireCurrentSchema } from '../../postgres/schema-check.js';
import { EXIT } from '../../domain/exit-codes.js';
import { renderEvent } from '../../render/status.js';
import type { Runtime } from '../../runtime.js';
import type { CliProcess, Output } from '../output.js';
import { maskerOf } from '../../domain/mask.js';
import type { StoredEvent } from '../../domain/events.js';

// `connector-sync events`: the newest events, then (with --follow) every new
// one, across lost Postgres connections.

export interface EventsOptions {
  since?: Date;
  connector?: string;
  action?: string;
  limit: number;
  follow?: boolean;
  json?: boolean;
}

/** Events read per query while catching up, so a long outage is not read in one go. */
const PAGE = 1_000;
/** A read on a timer too: a lost notification, or a connection that died silently, shows within this. */
const POLL_MS = 30_000;
const QUERY_TIMEOUT_MS = 10_000;
const RECONNECT = { baseSeconds: 0.25, maxSeconds: 10 };

/** `connector-sync events`: reads only; notes go to stderr under --json, so stdout stays JSON lines. */
export async function eventsCommand(
  rt: Runtime,
  options: EventsOptions,
  output: Output,
  proc: Pick<CliProcess, 'onSignal'>,
): Promise<number> {
  await requireCurrentSchema(rt.pool, rt.config.database.schema);
  const filters: EventFilters = {
    since: options.since,
    connectorId: options.connector,
    action: options.action,
  };
  // Before anything is printed: a reader that saw output may send SIGINT at once.
  const stop = options.follow ? untilSignal(proc) : null;
  const show = (event: StoredEvent): void =>
    output.print(options.json ? JSON.stringify(event) : renderEvent(event));
  const { events, total } = await newestEvents(
    rt.pool,
    rt.config.database.schema,
    filters,
    options.limit,
    maskerOf(rt.config.masking.keys),
  );
  events.forEach((e) => show(e.event));
  const note = options.json ? output.printError : output.print;
  if (total > events.length) note(moreNote(events.length, total));
  else if (!options.follow && !options.json && total === 0) output.print('No events.');
  if (!stop) return EXIT.ok;
  // Nothing newer than what was shown was printed; with nothing shown, nothing matched.
  const cursor = { seq: events.at(-1)?.seq ?? '0' };
  await followEvents(rt, filters, cursor, show, stop);
  return EXIT.ok;
}

export function moreNote(shown: number, total: number): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  return `Showing the newest ${n(shown)} of ${n(total)} events; use --limit to see more or --since to narrow.`;
}

/** Resolves (aborts) on the first SIGINT or SIGTERM: --follow then stops cleanly. */
function untilSignal(proc: Pick<CliProcess, 'onSignal'>): AbortSignal {
  const controller = new AbortController();
  proc.onSignal(() => controller.abort(), { once: true });
  return controller.signal;
}

/**
 * Prints every event committed after `cursor.seq`, until `stop`. A
 * notification only means "read on from the last seq printed", so a burst of
 * them, one lost with its connection, or one that arrives before the first
 * read changes nothing: every read starts where the last one ended. When the
 * connection is lost it reconnects with a growing pause (0.25 s doubling up
 * to 10 s, jittered), then reads on from the same seq: no gap, no duplicate.
 */
async function followEvents(
  rt: Runtime,
  filters: EventFilters,
  cursor: { seq: string },
  show: (event: StoredEvent) => void,
  stop: AbortSignal,
): Promise<void> {
  const follower = new Follower(rt, filters, cursor, show, stop);
  const listening = new ReconnectingListener(
    rt.config.database.url,
    [EVENTS_CHANNEL],
    {
      onNotify: () => follower.readSoon(),
      onConnected: (listener) => follower.connected(listener),
      onLost: (error, context) => follower.lost(error, context),
      retryDelayMs: (failures) =>
        Math.round(backoffSeconds(failures, RECONNECT, Math.random()) * 1_000),
    },
    {
      applicationName: 'connector-sync events --follow',
      client: { connectionTimeoutMillis: QUERY_TIMEOUT_MS, query_timeout: QUERY_TIMEOUT_MS },
    },
  );
  // Stopped after the read in progress has printed.
  stop.addEventListener('abort', () => void follower.idle().then(() => listening.stop()), {
    once: true,
  });
  await listening.untilStopped();
}

/** One follow's reading: the cursor, one read at a time, and whether it was lost and since when. */
class Follower {
  private lostAt: number | null = null;
  private reads: ReturnType<typeof oneAtATime> | null = null;

  constructor(
    private readonly rt: Runtime,
    private readonly filters: EventFilters,
    private readonly cursor: { seq: string },
    private readonly show: (event: StoredEvent) => void,
    private readonly stop: AbortSignal,
  ) {}

  /** A notification: read on (after the read in progress, if any). */
  readSoon(): void {
    this.reads?.request();
  }

  idle(): Promise<void> {
    return this.reads?.idle() ?? Promise.resolve();
  }

  /**
   * A connection listens: read on from the cursor at once (catching up), then
   * after every notification and every POLL_MS, on this connection. It counts
   * as back only once that first read worked: a connection that takes LISTEN
   * but fails every read must not reset the pause to its shortest.
   */
  async connected(listener: Listener): Promise<void> {
    const printedBefore = this.cursor.seq;
    this.rt.logger.debug({ afterSeq: printedBefore }, 'events --follow: listening');
    const read: { failed: Error | null } = { failed: null };
    this.reads = oneAtATime(
      () => this.readNew(listener.client),
      (error) => {
        read.failed = error;
        listener.fail(error);
      },
    );
    // A read on a timer too: a lost notification, or a connection that died silently, shows within this.
    const poll = setInterval(() => this.readSoon(), POLL_MS);
    void listener.lost.then(() => clearInterval(poll));
    this.readSoon();
    await this.reads.idle();
    if (read.failed) throw read.failed;
    if (this.lostAt === null) return;
    this.rt.logger.warn(
      { downMs: Date.now() - this.lostAt, afterSeq: printedBefore, caughtUpToSeq: this.cursor.seq },
      'events --follow: Postgres connection back; caught up from the last event printed',
    );
    this.lostAt = null;
  }

  /** The connection failed: say so once (then at debug level while it stays down). */
  lost(err: Error, { failures, retryInMs }: { failures: number; retryInMs: number }): void {
    if (this.lostAt === null) {
      this.lostAt = Date.now();
      this.rt.logger.warn(
        { err, retryInMs },
        'events --follow: lost the Postgres connection; reconnecting',
      );
    } else
      this.rt.logger.debug({ err, retryInMs, failures }, 'events --follow: still reconnecting');
  }

  private async readNew(client: pg.Client): Promise<void> {
    while (!this.stop.aborted) {
      const page = await eventsAfterSeq(
        client,
        this.rt.config.database.schema,
        this.filters,
        this.cursor.seq,
        PAGE,
        maskerOf(this.rt.config.masking.keys),
      );
      for (const { seq, event } of page) {
        if (BigInt(seq) <= BigInt(this.cursor.seq)) continue; // cannot happen: reads never overlap
        this.cursor.seq = seq;
        this.show(event);
      }
      if (page.length < PAGE) return;
    }
  }
}
