import type { PrefectClient } from '../prefect/client.js';
import { PoolLookup } from './pool-lookup.js';
import { prefectEventOf } from './prefect-events.js';
import type { Sink } from './sink.js';
import type { SequencedEvent } from '../domain/events.js';

/** Events per POST /events: Prefect takes a list; a few dozen keeps each request small. */
const BATCH = 50;

/**
 * Posts connector-sync's own events to Prefect's event stream (its Event
 * Feed and automations). Through a client of its own (sinks.ts), so its
 * calls are not counted as a pass's.
 */
export class PrefectSink implements Sink {
  readonly name = 'prefect';

  private readonly pools: PoolLookup;

  constructor(private readonly prefect: PrefectClient) {
    this.pools = new PoolLookup(prefect);
  }

  async deliver(events: SequencedEvent[]): Promise<void> {
    const posted = await this.pools.withPools(
      events.flatMap(({ event }) => prefectEventOf(event) ?? []),
    );
    for (let i = 0; i < posted.length; i += BATCH)
      await this.prefect.emitEvents(posted.slice(i, i + BATCH));
  }

  async close(): Promise<void> {
    /* nothing held open */
  }
}
