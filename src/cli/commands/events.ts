import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { backoffSeconds } from '../../domain/backoff.js';
import {
  eventsAfterSeq,
  newestEvents,
  EVENTS_CHANNEL,
  type EventFilters,
} from '../../postgres/eventlog.js';
import { coerceError } from '../../domain/errors.js';
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
  while (!stop.aborted) {
    const client = listenerClient(rt.config.database.url);
    try {
      if (!(await unlessStopped(client.connect(), stop))) break;
      if (!(await unlessStopped(client.query(`LISTEN ${EVENTS_CHANNEL}`), stop))) break;
      rt.logger.debug({ afterSeq: cursor.seq }, 'events --follow: listening');
      await listenUntilLost(client, follower.reader(), stop);
    } catch (raw) {
      if (stop.aborted) break;
      await follower.lost(raw);
    } finally {
      await close(client);
    }
  }
}

/** One follow's reading and reconnecting: the cursor, the failures in a row, when it was lost. */
class Follower {
  private failures = 0;
  private lostAt: number | null = null;

  constructor(
    private readonly rt: Runtime,
    private readonly filters: EventFilters,
    private readonly cursor: { seq: string },
    private readonly show: (event: StoredEvent) => void,
    private readonly stop: AbortSignal,
  ) {}

  /**
   * The read of one connection: on from the cursor. It counts as back only
   * once a read worked: a connection that takes LISTEN but fails every read
   * must not reset the pause to its shortest.
   */
  reader(): (client: pg.Client) => Promise<void> {
    const printedBefore = this.cursor.seq;
    let caughtUp = false;
    return async (client) => {
      await this.readNew(client);
      if (caughtUp) return;
      caughtUp = true;
      this.failures = 0;
      if (this.lostAt === null) return;
      this.rt.logger.warn(
        {
          downMs: Date.now() - this.lostAt,
          afterSeq: printedBefore,
          caughtUpToSeq: this.cursor.seq,
        },
        'events --follow: Postgres connection back; caught up from the last event printed',
      );
      this.lostAt = null;
    };
  }

  /** The connection failed: say so once, then wait a growing pause before the next try. */
  async lost(raw: unknown): Promise<void> {
    this.failures += 1;
    const retryInMs = Math.round(backoffSeconds(this.failures, RECONNECT, Math.random()) * 1_000);
    const err = coerceError(raw);
    if (this.lostAt === null) {
      this.lostAt = Date.now();
      this.rt.logger.warn(
        { err, retryInMs },
        'events --follow: lost the Postgres connection; reconnecting',
      );
    } else
      this.rt.logger.debug(
        { err, retryInMs, failures: this.failures },
        'events --follow: still reconnecting',
      );
    await sleep(retryInMs, undefined, { signal: this.stop }).catch(() => undefined);
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

/** The follower's own connection: LISTEN and every read after the first. */
function listenerClient(url: string): pg.Client {
  const client = new pg.Client({
    connectionString: url,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    connectionTimeoutMillis: QUERY_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    application_name: 'connector-sync events --follow',
  });
  // Without a listener a killed connection would end the process; the loss is
  // seen (and logged once) by listenUntilLost or the failed connect/query.
  client.on('error', () => undefined);
  return client;
}

/** Awaits `work` unless `stop` comes first (then false; a late failure of `work` is ignored). */
async function unlessStopped<T>(work: Promise<T>, stop: AbortSignal): Promise<boolean> {
  work.catch(() => undefined);
  if (stop.aborted) return false;
  let onAbort: () => void = () => undefined;
  const stopped = new Promise<false>((resolve) => {
    onAbort = () => resolve(false);
    stop.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work.then(() => true as const), stopped]);
  } finally {
    stop.removeEventListener('abort', onAbort);
  }
}

/**
 * Reads on at once (catching up), then after every notification and every
 * POLL_MS, one read at a time. Returns when `stop` aborts (after the read in
 * progress has printed); throws when the connection is lost.
 */
async function listenUntilLost(
  client: pg.Client,
  readNew: (client: pg.Client) => Promise<void>,
  stop: AbortSignal,
): Promise<void> {
  // Set by the listeners below; an object so the loop reads their writes.
  const seen: { pending: boolean; lost: Error | null } = { pending: true, lost: null };
  let wake: () => void = () => undefined;
  const onNotification = (): void => {
    seen.pending = true;
    wake();
  };
  const onError = (error: Error): void => {
    seen.lost ??= error;
    wake();
  };
  const onEnd = (): void => onError(new Error('the connection was closed'));
  const onAbort = (): void => wake();
  client.on('notification', onNotification);
  client.on('error', onError);
  client.on('end', onEnd);
  stop.addEventListener('abort', onAbort);
  const poll = setInterval(onNotification, POLL_MS);
  try {
    for (;;) {
      if (seen.lost) throw seen.lost;
      if (stop.aborted) return;
      if (seen.pending) {
        seen.pending = false;
        await readNew(client);
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    clearInterval(poll);
    stop.removeEventListener('abort', onAbort);
    client.off('notification', onNotification);
    client.off('error', onError);
    client.off('end', onEnd);
  }
}

async function close(client: pg.Client): Promise<void> {
  // end() on a connection that died mid-query may never settle; do not wait for it long.
  await Promise.race([
    client.end().catch(() => undefined),
    sleep(1_000, undefined, { ref: false }),
  ]);
}
