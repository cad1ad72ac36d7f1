/**
 * Structured JSON logs (pino). One root logger is made in `main.ts` and passed down; each
 * reconcile gets a child with fixed keys (`controller`, `namespace`, `name`, `reconcileId`).
 * Credentials never reach a log line: the fields that could hold them are redacted.
 *
 * @module
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export const REDACTED_PATHS = [
  'password',
  'token',
  'secret',
  'authorization',
  '*.password',
  '*.token',
  '*.secret',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  'auth.password',
  'auth.token',
];

export interface LogOptions {
  level?: string;
  /** Where lines go; stdout when absent. */
  destination?: DestinationStream;
}

export function createLogger(opts: LogOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination,
  );
}

/** A logger that drops everything, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
