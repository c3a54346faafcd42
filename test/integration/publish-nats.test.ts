import { afterEach, describe, expect, it } from 'vitest';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { natsView } from '../harness/nats.js';
import { eventually } from '../harness/prefect-api.js';
import { parsePrometheus } from '../harness/prometheus.js';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.js';

// The NATS JetStream sink against the real server: every event of the log
// once in the stream, in seq order, across kill -9 of the worker and a NATS
// outage (a TCP relay in front of NATS, cut and restored).

let env: TestEnv | undefined;
let relay: TcpProxy | undefined;
let stream: string | undefined;
afterEach(async () => {
  await relay?.close();
  if (stream) {
    const view = await natsView();
    await view.remove(stream);
    await view.close();
  }
  await env?.cleanup();
  env = relay = stream = undefined;
});

async function natsEnv(): Promise<{ e: TestEnv; subject: string; stream: string }> {
  relay = await startTcpProxy(4222);
  const id = Math.random().toString(36).slice(2, 10);
  stream = `CS_TEST_${id}`;
  const subject = `cs-test-${id}.events`;
  env = await createTestEnv({
    config: {
      events: {
        publish: {
          prefect: false,
          nats: { url: `nats://127.0.0.1:${relay.port}`, subject, stream },
        },
      },
    },
  });
  return { e: env, subject, stream };
}

async function logged(e: TestEnv): Promise<{ id: string; seq: string; action: string }[]> {
  return e.sql(
    // ORDER BY the bigint: the text alias would sort '10' before '2'.
    `SELECT id, seq::text AS seq, action FROM connector_sync.events e ORDER BY e.seq`,
  );
}

async function caughtUp(e: TestEnv): Promise<boolean> {
  const [row] = await e.sql<{ done: boolean }>(
    `SELECT (SELECT seq FROM connector_sync.sink_cursors WHERE sink = 'nats')
              = (SELECT max(seq) FROM connector_sync.events) AS done`,
  );
  return row?.done === true;
}

const RARE = { CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' };

describe('NATS JetStream sink', () => {
  it('a consumer sees every event once, in seq order, across a kill -9 of the worker mid-publish', async () => {
    const { e, subject, stream: name } = await natsEnv();
    const view = await natsView();
    let worker: WorkerProcess | undefined;
    try {
      // NATS away while the first pass writes: its events wait, then go in one go.
      await relay!.cut();
      await insertConnectors(
        e,
        Array.from({ length: 40 }, (_, i) => ({ name: `c${i}`, schedule: '0 1 * * *' })),
      );
      worker = await startWorker(e, RARE);
      await worker.waitForLog((l) => l.msg === 'pass finished', 60_000);
      await relay!.restore();
      // Killed as soon as the stream holds some of them (the cursor may not have moved yet).
      expect(
        await eventually(
          () => view.count(name),
          (n) => n > 0,
          30_000,
        ),
      ).toBeGreaterThan(0);
      worker.kill('SIGKILL');
      await worker.exited;

      await e.sql(`UPDATE cai_connectors SET is_active = false WHERE id <= 5`);
      worker = await startWorker(e, RARE);
      await worker.waitForLog((l) => l.msg === 'pass finished', 60_000);
      expect(await eventually(() => caughtUp(e), Boolean, 60_000)).toBe(true);
      const log = await logged(e);
      expect(log.filter((l) => l.action === 'paused')).toHaveLength(5);
      const messages = await eventually(
        () => view.messages(name),
        (m) => m.length >= log.length,
      );
      expect(messages.map((m) => m.msgId)).toEqual(log.map((l) => l.id));
      expect(messages.map((m) => m.body.seq)).toEqual(log.map((l) => l.seq));
      expect(messages.map((m) => m.subject)).toEqual(log.map((l) => `${subject}.${l.action}`));
    } finally {
      worker?.kill('SIGTERM');
      await worker?.exited;
      await view.close();
    }
  });

  it('a NATS outage delays the events, never loses them; the backlog shows in /metrics and drains', async () => {
    const { e, stream: name } = await natsEnv();
    const view = await natsView();
    const worker = await startWorker(e, RARE);
    try {
      await insertConnectors(e, [{ name: 'first', schedule: '0 1 * * *' }]);
      await e.sql('NOTIFY connector_sync_wakeup');
      expect(await eventually(() => caughtUp(e), Boolean, 30_000)).toBe(true);

      await relay!.cut();
      await insertConnectors(
        e,
        Array.from({ length: 10 }, (_, i) => ({ name: `late${i}`, schedule: '0 2 * * *' })),
      );
      await e.sql('NOTIFY connector_sync_wakeup');
      await worker.waitForLog(
        (l) =>
          l.msg ===
          'cannot publish events to the sink; retrying with backoff (nothing is lost: they wait in the log)',
        30_000,
      );
      // The pass commits its events one change at a time: the backlog grows to 10.
      const during = await eventually(
        async () => parsePrometheus(await (await fetch(`${worker.baseUrl}/metrics`)).text()),
        (m) => m.value('connector_sync_publish_backlog_events', { sink: 'nats' }) === 10,
        30_000,
      );
      expect(during.value('connector_sync_publish_backlog_events', { sink: 'nats' })).toBe(10);
      expect(
        during.value('connector_sync_publish_backlog_seconds', { sink: 'nats' }),
      ).toBeGreaterThan(0);
      expect(await view.count(name)).toBe(1);

      await relay!.restore();
      expect(await eventually(() => caughtUp(e), Boolean, 30_000)).toBe(true);
      const log = await logged(e);
      const messages = await eventually(
        () => view.messages(name),
        (m) => m.length >= log.length,
      );
      expect(messages.map((m) => m.msgId)).toEqual(log.map((l) => l.id));
      const after = await eventually(
        async () => parsePrometheus(await (await fetch(`${worker.baseUrl}/metrics`)).text()),
        (m) => m.value('connector_sync_publish_backlog_events', { sink: 'nats' }) === 0,
      );
      expect(after.value('connector_sync_published_events_total', { sink: 'nats' })).toBe(11);
      expect(
        after.value('connector_sync_publish_failures_total', { sink: 'nats' }),
      ).toBeGreaterThan(0);
    } finally {
      worker.kill('SIGTERM');
      await worker.exited;
      await view.close();
    }
  });
});
