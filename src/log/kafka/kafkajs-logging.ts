/** kafkajs' own log lines, routed into the V3 logger. */
import kafkajs from 'kafkajs';
import type { logCreator, logLevel } from 'kafkajs';
import type { Logger } from '../../common/logger.js';

const { logLevel: LogLevel } = kafkajs;

/** The logLevel and logCreator of a kafkajs client that logs through `logger`. */
export function kafkajsLogging(logger: Logger): { logLevel: logLevel; logCreator: logCreator } {
  return { logLevel: logger.isLevelEnabled('debug') ? LogLevel.INFO : LogLevel.WARN, logCreator: bridgeLogger(logger) };
}

/** Routes kafkajs' own log lines into the V3 logger (kafkajs INFO is chatty: it goes to debug). */
function bridgeLogger(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _ts, logger: _l, ...extra } = log as { message: string; timestamp?: string; logger?: string } & Record<string, unknown>;
      const obj = { kafkajs: namespace, ...extra };
      // We bound the idempotent producer's retries on purpose and replace the producer after a failure (see append).
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      if (level === LogLevel.ERROR || level === LogLevel.WARN) logger.warn(obj, `kafkajs: ${message}`);
      else if (level === LogLevel.INFO) logger.debug(obj, `kafkajs: ${message}`);
      else logger.trace(obj, `kafkajs: ${message}`);
    };
}
