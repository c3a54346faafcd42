import { PrefectClient } from '../../../src/prefect/client.js';
import { describe, expect, it } from 'vitest';
import { PrefectSink } from '../../../src/publish/prefect-sink.js';
import {
  makeHttp,
  prefect,
  recordAndReply,
  useNock,
  type Seen,
} from '../../harness/prefect-nock.js';
import type { StoredEvent, SequencedEvent } from '../../../src/domain/events.js';

// The Prefect sink: only our own events go to POST /events (Prefect has its
// deployment events already), at most 50 to a request, in log order.

useNock();

function sequenced(n: number, overrides: Partial<StoredEvent> = {}): SequencedEvent {
  return {
    seq: String(n),
    event: {
      id: `0190aaaa-0000-7000-8000-${String(n).padStart(12, '0')}`,
      occurred: new Date('2026-12-01T08:00:00Z'),
      event: 'connector-sync.connector.failed',
      action: 'failed',
      connector_id: String(n),
      deployment_id: null,
      resource: { 'prefect.resource.id': `connector-sync.connector.${n}` },
      related: [],
      payload: { status: 'invalid', message: 'bad cron', retryable: false },
      pass_id: 'p1',
      ...overrides,
    },
  };
}

describe('PrefectSink.deliver', () => {
  it('posts only our events, in order, 50 to a request', async () => {
    const seen: Seen[] = [];
    const events = Array.from({ length: 120 }, (_, i) =>
      i % 2 === 0
        ? sequenced(i + 1)
        : sequenced(i + 1, { action: 'created', event: 'prefect.deployment.created' }),
    );
    prefect().post('/api/events').times(2).reply(recordAndReply(seen, 204));
    await new PrefectSink(new PrefectClient(makeHttp())).deliver(events);
    const posted = seen.map((s) => s.body as { id: string; event: string }[]);
    expect(posted.map((batch) => batch.length)).toEqual([50, 10]);
    expect(posted.flat().map((e) => e.id)).toEqual(
      events.filter((_, i) => i % 2 === 0).map((e) => e.event.id),
    );
    expect(new Set(posted.flat().map((e) => e.event))).toEqual(
      new Set(['connector-sync.connector.invalid']),
    );
  });

  it('makes no call when none of the events is ours', async () => {
    const sink = new PrefectSink(new PrefectClient(makeHttp()));
    // Any call would fail: nock answers none here and the network is closed.
    await sink.deliver([sequenced(1, { action: 'deleted', event: 'prefect.deployment.deleted' })]);
    await sink.deliver([]);
    await sink.close();
  });

  it('a refused POST fails the delivery (its cursor does not move)', async () => {
    prefect().post('/api/events').reply(422, { detail: 'invalid event' });
    await expect(
      new PrefectSink(new PrefectClient(makeHttp())).deliver([sequenced(1)]),
    ).rejects.toThrow(/422/);
  });
});
