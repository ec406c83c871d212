import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino';

export type Logger = PinoLogger;

export interface LoggerFactoryOptions {
  level?: string;
  name?: string;
  /** Where lines go; defaults to stderr so stdout stays free for CLI output. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LoggerFactoryOptions = {}): Logger {
  const options: LoggerOptions = { level: opts.level ?? process.env.TSDB_LOG_LEVEL ?? 'info', base: { name: opts.name ?? 'v3' } };
  return pino(options, (opts.destination ?? process.stderr) as pino.DestinationStream);
}

/** A logger that drops everything; for tests that do not care about log output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
