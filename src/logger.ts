import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line. */
const REDACT = [
  'secretKey',
  'apiKey',
  'password',
  'signature',
  '*.secretKey',
  '*.apiKey',
  '*.password',
  '*.signature',
  'req.headers.authorization',
  'config.cloud.secretKey',
  'config.cloud.apiKey',
  'config.database.url',
];

/** The service's logger: JSON lines on stdout, secrets redacted. */
export function createLogger({ level = 'info', name = 'failover-api' }: { level?: string; name?: string } = {}): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } });
}
