import type { FastifyReply } from 'fastify';
import { TsdbError } from '../common/errors.js';
import type { Metrics } from '../common/metrics.js';

/**
 * The guard rails of one query request: an AbortSignal that fires when the query runs longer than --query-timeout
 * (reason: a TSDB_ERR_QUERY_TIMEOUT error, 503 with Retry-After) or when the client closes the connection before
 * the answer was sent (reason: TSDB_ERR_QUERY_CANCELLED). The query service checks the signal between series reads,
 * so a cancelled query stops reading within one series. Both are counted in tsdb_query_cancellations_total.
 */
export interface QueryGuard {
  signal: AbortSignal;
  /** The request is over (answer handed to the socket, or failed): stop the timer, stop watching the socket. */
  done(): void;
}

export function guardQuery(reply: FastifyReply, opts: { endpoint: string; timeoutMs: number; metrics: Metrics; what: string; ids?: string }): QueryGuard {
  const controller = new AbortController();
  let finished = false;
  const res = reply.raw;
  const onClose = (): void => {
    if (finished || res.writableEnded || controller.signal.aborted) return;
    opts.metrics.queryCancellations.inc({ endpoint: opts.endpoint, reason: 'disconnect' });
    controller.abort(new TsdbError('TSDB_ERR_QUERY_CANCELLED', `cannot run ${opts.what}${opts.ids ? ` (${opts.ids})` : ''}: the client closed the connection; the query was stopped`));
  };
  const timer = setTimeout(() => {
    if (finished || controller.signal.aborted) return;
    opts.metrics.queryCancellations.inc({ endpoint: opts.endpoint, reason: 'timeout' });
    controller.abort(
      new TsdbError('TSDB_ERR_QUERY_TIMEOUT', `cannot run ${opts.what} (${opts.ids ? `${opts.ids}, ` : ''}timeout ${opts.timeoutMs} ms): it ran longer than --query-timeout; narrow the range or selector, or aggregate with fn/step`, {
        retryAfterS: 1,
        details: [{ field: 'query', reason: `ran longer than ${opts.timeoutMs} ms` }],
      }),
    );
  }, opts.timeoutMs);
  timer.unref();
  res.once('close', onClose);
  return {
    signal: controller.signal,
    done() {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      res.removeListener('close', onClose);
    },
  };
}

/** Settles like `p`, or rejects with the signal's reason as soon as it aborts. */
export function raceSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}
