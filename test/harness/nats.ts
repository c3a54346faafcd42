import { connect, type NatsConnection } from 'nats';

// A view of a JetStream stream for assertions, independent of the sink under
// test: an ordered consumer reads every message the stream holds.

export const NATS_URL = 'nats://127.0.0.1:4222';

export interface StreamMessage {
  subject: string;
  msgId: string | undefined;
  body: { seq: string; id: string; action: string };
}

export async function natsView(): Promise<{
  messages(stream: string): Promise<StreamMessage[]>;
  count(stream: string): Promise<number>;
  remove(stream: string): Promise<void>;
  close(): Promise<void>;
}> {
  const nc: NatsConnection = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  const count = async (stream: string): Promise<number> => {
    try {
      return (await jsm.streams.info(stream)).state.messages;
    } catch {
      return 0; // not made yet
    }
  };
  return {
    count,
    async messages(stream) {
      const total = await count(stream);
      if (total === 0) return [];
      const consumer = await js.consumers.get(stream);
      const out: StreamMessage[] = [];
      while (out.length < total) {
        const batch = await consumer.fetch({ max_messages: total - out.length, expires: 2_000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          out.push({
            subject: m.subject,
            msgId: m.headers?.get('Nats-Msg-Id'),
            body: m.json(),
          });
        }
        if (got === 0) break;
      }
      return out;
    },
    async remove(stream) {
      await jsm.streams.delete(stream).catch(() => undefined);
    },
    close: () => nc.close(),
  };
}
