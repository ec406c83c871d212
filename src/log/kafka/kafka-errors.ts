/** How kafkajs failures become TsdbErrors, and which of them are worth a retry. */
import { TsdbError, asTsdbError, type ErrorCode } from '../../common/errors.js';
import { kafkaErrorKinds } from './kafkajs-internals.js';

/** A TsdbError for a kafkajs failure: a too-large batch is the caller's TSDB_ERR_WRITE_TOO_LARGE, the rest `code`. */
export function mapKafkaError(e: unknown, code: ErrorCode, message: string): TsdbError {
  if (e instanceof TsdbError) return e;
  const kinds = kafkaErrorKinds(e);
  if (kinds.includes('MESSAGE_TOO_LARGE') || kinds.includes('RECORD_LIST_TOO_LARGE')) {
    return new TsdbError('TSDB_ERR_WRITE_TOO_LARGE', `${message}: ${describeKafkaError(e)}`, { cause: e });
  }
  return asTsdbError(e, code, message);
}

/** Error kinds of an admin call, including those kafkajs aggregates per topic (e.g. createTopics). */
export function adminErrorKinds(e: unknown): string[] {
  return kafkaErrorKinds(e).concat(((e as { errors?: { type?: string }[] }).errors ?? []).map((x) => x.type ?? ''));
}

export function isRetriable(e: unknown): boolean {
  const r = (e as { retriable?: boolean } | undefined)?.retriable;
  return r !== false;
}

export function describeKafkaError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // kafkajs aggregates per-topic failures (e.g. createTopics) behind a generic message.
  const inner = (e as { errors?: unknown[] } | undefined)?.errors;
  if (!Array.isArray(inner) || inner.length === 0) return msg;
  return `${msg}: ${inner.map((x) => (x instanceof Error ? x.message : String(x))).join('; ')}`;
}
