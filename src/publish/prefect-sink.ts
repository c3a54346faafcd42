import type { PrefectHttp } from '../prefect/http.js';
import { PoolLookup } from './pool-lookup.js';
import { prefectEventOf } from './prefect-events.js';
import type { Sink } from './sink.js';
import type { SequencedEvent } from '../domain/events.js';

/** Events per POST /events: Prefect takes a list; a few dozen keeps each request small. */
const BATCH = 50;

/**
 * Posts connector-sync's own events to Prefect's event stream (its Event
 * Feed and automations). Through an HTTP client of its own, so a pass's
 * calls and rate are not shared with it.
 */
export class PrefectSink implements Sink {
  readonly name = 'prefect';

  private readonly pools: PoolLookup;

  constructor(private readonly http: PrefectHttp) {
    this.pools = new PoolLookup(http);
  }

  async deliver(events: SequencedEvent[]): Promise<void> {
    const posted = await this.pools.withPools(
      events.flatMap(({ event }) => prefectEventOf(event) ?? []),
    );
    for (let i = 0; i < posted.length; i += BATCH)
      await this.http.request('POST', '/events', posted.slice(i, i + BATCH));
  }

  async close(): Promise<void> {
    /* nothing held open */
  }
}
