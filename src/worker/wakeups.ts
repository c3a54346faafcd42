import type { Logger } from 'pino';
import { ReconnectingListener } from '../postgres/listen.js';
import { WAKEUP_CHANNEL } from '../postgres/wakeup.js';

export { WAKEUP_CHANNEL };

/** A wake-up: the connector ids it names, or null for "a full pass, please". */
export type Wakeup = string[] | null;

/** Parses a NOTIFY payload: empty → full pass; otherwise one id, or ids separated by commas/whitespace. */
export function parseWakeup(payload: string | undefined): Wakeup {
  const ids = (payload ?? '')
    .split(/[\s,]+/)
    .map((id) => id.trim())
    .filter((id) => id !== '');
  return ids.length === 0 ? null : ids;
}

/** What to do with a notification on a channel; an undefined payload means "some may be lost". */
export type ChannelHandlers = Record<string, (payload: string | undefined) => void>;

/**
 * LISTENs on some channels (postgres/listen.ts) and reconnects with a growing
 * pause when that connection fails. When it is lost, every handler is called
 * with no payload: notifications sent while it is away are lost (for
 * wake-ups that means a full pass).
 */
export function wakeupListener(
  url: string,
  logger: Logger,
  handlers: ChannelHandlers,
): ReconnectingListener {
  return new ReconnectingListener(
    url,
    Object.keys(handlers),
    {
      onNotify: (channel, payload) => handlers[channel]?.(payload),
      onLost: (error, { wasUp }) => {
        if (!wasUp) return logger.warn({ err: error }, 'cannot LISTEN for wake-ups; retrying');
        logger.warn('wake-up connection lost; reconnecting');
        for (const handle of Object.values(handlers)) handle(undefined);
      },
      retryDelayMs: (failures) => Math.min(500 * 2 ** (failures - 1), 30_000),
    },
    { applicationName: 'connector-sync' },
  );
}
