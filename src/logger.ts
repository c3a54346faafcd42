import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import { redactText } from './domain/redact.js';
import { classifyError, coerceError } from './domain/errors.js';

export interface LoggerOptions {
  level: string;
  format: 'json' | 'pretty';
  /** Values that must never appear in a log line (passwords, keys). */
  secrets: string[];
  destination?: pino.DestinationStream;
}

/** The one pino root. Secrets are redacted by field name and by value. */
export function createLogger(options: LoggerOptions): Logger {
  const secrets = options.secrets.filter((s) => s.length >= 4);
  const scrub = (text: string): string => redactText(text, secrets);
  const pinoOptions: pino.LoggerOptions = {
    level: options.level,
    base: { name: 'connector-sync' },
    redact: {
      paths: [
        '*.authorization',
        '*.Authorization',
        '*.password',
        '*.apiKey',
        '*.authString',
        '*.databaseUrl',
        'headers.*',
      ],
      censor: '[redacted]',
    },
    serializers: { err: errorWithoutExpectedStack },
    hooks: {
      // Last line of defence: a secret embedded in any message or error text.
      streamWrite: (line) => scrub(line),
    },
  };
  if (options.destination) return pino(pinoOptions, options.destination);
  if (options.format === 'pretty') {
    // In-process (not a transport worker), so the redaction hook sees every line.
    // Loaded only when asked for: JSON (the default) never pays for it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(pinoOptions, pretty({ destination: 2, sync: true }));
  }
  return pino(pinoOptions, pino.destination(2));
}

/**
 * An error as a log line carries it: a stack only for what nobody expected
 * (a bug). An outage, a refusal or a configuration mistake is its message:
 * a stack per failed call would bury the one line that says what failed.
 */
function errorWithoutExpectedStack(value: unknown): unknown {
  const error = coerceError(value);
  const serialized = pino.stdSerializers.err(error);
  if (classifyError(error) === 'permanent') return serialized;
  return Object.fromEntries(Object.entries(serialized).filter(([key]) => key !== 'stack'));
}

export { redactText };
