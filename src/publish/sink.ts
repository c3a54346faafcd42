import type { SequencedEvent } from '../domain/events.js';

/**
 * Somewhere events of the log are delivered to (docs/concepts/event-log.md, "Sinks"). `deliver`
 * is given events in commit order and resolves once the sink has them all;
 * it may be given some again after a crash, so a sink must keep one copy of
 * an event by its id (Prefect does; NATS JetStream does with Nats-Msg-Id).
 */
export interface Sink {
  readonly name: 'prefect' | 'nats';
  deliver(events: SequencedEvent[]): Promise<void>;
  close(): Promise<void>;
}
