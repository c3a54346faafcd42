import type { StoredEvent } from '../db/eventlog.js';
import type { PrefectHttp } from '../prefect/http.js';
import { prefectEventOf } from './prefect-events.js';
import type { Sink } from './sink.js';

/** Events per POST /events: Prefect takes a list; a few dozen keeps each request small. */
const BATCH = 50;

/**
 * Posts connector-sync's own events to Prefect's event stream (its Event
 * Feed and automations). Through an HTTP client of its own, so a pass's
 * calls and rate are not shared with it.
 */
export class PrefectSink implements Sink {
  readonly name = 'prefect';

  constructor(private readonly http: PrefectHttp) {}

  async deliver(events: StoredEvent[]): Promise<void> {
    const posted = events.flatMap((e) => prefectEventOf(e) ?? []);
    for (let i = 0; i < posted.length; i += BATCH)
      await this.http.request('POST', '/events', posted.slice(i, i + BATCH));
  }

  async close(): Promise<void> {
    /* nothing held open */
  }
}
