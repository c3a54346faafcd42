import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { prepareSinks, publisherDepsOf, sinksOf } from '../../../src/publish/sinks.js';
import { FakeOutboxDb } from '../../harness/fake-outbox.js';
import {
  API_URL,
  makeHttp,
  prefect,
  recordAndReply,
  useNock,
  type Seen,
} from '../../harness/prefect-nock.js';

// The sinks a configuration enables, the Prefect sink's own client, the
// cursors every enabled sink gets before the first pass, and the publisher's
// settings taken from the configuration.

useNock();

const logger = pino({ level: 'silent' });

function config(overrides: Record<string, unknown> = {}): Config {
  const result = loadConfig({
    env: { DATABASE_URL: 'postgres://unused@localhost/none', PREFECT_API_URL: API_URL },
    overrides,
  });
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.config;
}

const ourEvent = {
  seq: '1',
  event: {
    id: '0190aaaa-0000-7000-8000-000000000001',
    occurred: new Date('2026-12-01T08:00:00Z'),
    event: 'connector-sync.connector.failed',
    action: 'failed',
    connector_id: '1',
    deployment_id: null,
    resource: { 'prefect.resource.id': 'connector-sync.connector.1' },
    related: [],
    payload: { status: 'invalid' },
    pass_id: 'p1',
  },
};

describe('sinksOf', () => {
  it.each([
    [{}, ['prefect']],
    [{ 'events.publish.prefect': false }, []],
    [{ 'events.publish.nats.url': 'nats://127.0.0.1:4222' }, ['prefect', 'nats']],
    [
      { 'events.publish.prefect': false, 'events.publish.nats.url': 'nats://127.0.0.1:4222' },
      ['nats'],
    ],
  ])('%j → %j', async (overrides, names) => {
    const sinks = sinksOf(config(overrides), logger, makeHttp());
    expect(sinks.map((s) => s.name)).toEqual(names);
    await Promise.all(sinks.map((s) => s.close())); // nothing was connected
  });

  it('the Prefect sink posts with a client of its own: the publisher user agent, one retry only', async () => {
    const seen: Seen[] = [];
    prefect()
      .post('/api/events')
      .reply(recordAndReply(seen, 503, { detail: 'busy' }));
    prefect()
      .post('/api/events')
      .reply(recordAndReply(seen, 503, { detail: 'busy' }));
    const c = config({ 'prefect.retryMinDelayMs': 1, 'prefect.retryMaxDelayMs': 5 });
    const passes = makeHttp();
    const [sink] = sinksOf(c, logger, passes);
    await expect(sink!.deliver([ourEvent])).rejects.toThrow(/503/);
    expect(seen).toHaveLength(2); // the first try and one retry: the publisher's backoff does the rest
    expect(seen[0]!.headers['user-agent']).toBe('connector-sync (publisher)');
    expect(passes.counts.writes + passes.counts.reads).toBe(0); // not counted as the passes' calls
  });
});

describe('prepareSinks', () => {
  it("puts a new sink's cursor at the log's end and leaves an existing one where it is", async () => {
    const db = new FakeOutboxDb();
    db.append(5);
    db.cursors.set('nats', 2);
    const sinks = sinksOf(
      config({ 'events.publish.nats.url': 'nats://127.0.0.1:4222' }),
      logger,
      makeHttp(),
    );
    await prepareSinks(db.queryable, 'connector_sync', sinks);
    expect(Object.fromEntries(db.cursors)).toEqual({ prefect: 5, nats: 2 });
  });
});

describe('publisherDepsOf', () => {
  it('takes the schema and the retention from the configuration', () => {
    const db = new FakeOutboxDb().queryable;
    const deps = publisherDepsOf(
      config({
        'database.schema': 'cs_other',
        'events.retentionDays': 14,
        'events.passRetentionDays': null,
      }),
      db,
      [],
      logger,
      null,
    );
    expect(deps.schema).toBe('cs_other');
    expect(deps.retention).toEqual({ eventDays: 14, passDays: null });
    expect(deps.db).toBe(db);
    expect(typeof deps.tryLock).toBe('function');
  });
});
