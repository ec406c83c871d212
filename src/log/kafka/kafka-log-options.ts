/** Options of the kafka log (createKafkaLog in kafka-log.ts) and their checks. */
import { TsdbError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';

export interface KafkaLogOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  topic: string;
  partitions: number;
  /** Used when the topic is created (default 1). */
  replicationFactor?: number;
  /** Used when the topic is created (default ceil(replicationFactor / 2)). */
  minInsyncReplicas?: number;
  logger?: Logger;
  clientId?: string;
  /** Largest record batch the topic accepts (max.message.bytes at creation; default 16 MiB). One append sends one
   * record batch per partition, so this bounds the bytes one append may put into one partition. */
  maxMessageBytes?: number;
  /** Extra topic configs for creation, e.g. { 'retention.ms': '604800000' }. */
  topicConfig?: Record<string, string>;
  /** Create the topic when it is absent (default true). */
  createTopic?: boolean;
  /** TCP connect timeout (default 3000 ms). */
  connectionTimeoutMs?: number;
  /** Request timeout (default 30000 ms). */
  requestTimeoutMs?: number;
  /** Retries of one append/read before it fails with TSDB_ERR_LOG_UNAVAILABLE (default 5, backoff 100 ms..2 s). */
  retries?: number;
  /** Long-poll wait of an idle consumer fetch (default 250 ms). */
  fetchMaxWaitMs?: number;
  /** Bytes a consumer asks per partition and fetch (default 1 MiB). */
  partitionFetchBytes?: number;
}

const TOPIC_RE = /^[a-zA-Z0-9._-]{1,249}$/;

/** Checks the options of createKafkaLog (TSDB_ERR_CONFIG_INVALID) and settles the replication defaults. */
export function checkKafkaLogOptions(opts: KafkaLogOptions): { replicationFactor: number; minInsyncReplicas: number } {
  const bad = (why: string): never => {
    throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot create kafka log (topic ${opts.topic}, partitions ${opts.partitions}): ${why}`);
  };
  if (!Array.isArray(opts.brokers) || opts.brokers.length === 0 || opts.brokers.some((b) => typeof b !== 'string' || !/^[^\s:]+:\d+$/.test(b))) {
    bad(`brokers must be a non-empty list of host:port (got ${JSON.stringify(opts.brokers)})`);
  }
  if (typeof opts.topic !== 'string' || !TOPIC_RE.test(opts.topic) || opts.topic === '.' || opts.topic === '..') bad('the topic name must be 1-249 of [a-zA-Z0-9._-]');
  if (!Number.isInteger(opts.partitions) || opts.partitions < 1 || opts.partitions > 65536) bad('partitions must be an integer in 1..65536');
  const rf = opts.replicationFactor ?? 1;
  if (!Number.isInteger(rf) || rf < 1 || rf > 32) bad(`replicationFactor must be an integer in 1..32 (got ${rf})`);
  const minIsr = opts.minInsyncReplicas ?? Math.ceil(rf / 2);
  if (!Number.isInteger(minIsr) || minIsr < 1 || minIsr > rf) bad(`minInsyncReplicas must be an integer in 1..replicationFactor (got ${minIsr})`);
  const positive = (v: number | undefined, name: string): void => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) bad(`${name} must be > 0 (got ${v})`);
  };
  positive(opts.maxMessageBytes, 'maxMessageBytes');
  positive(opts.connectionTimeoutMs, 'connectionTimeoutMs');
  positive(opts.requestTimeoutMs, 'requestTimeoutMs');
  positive(opts.fetchMaxWaitMs, 'fetchMaxWaitMs');
  positive(opts.partitionFetchBytes, 'partitionFetchBytes');
  if (opts.retries !== undefined && !(Number.isInteger(opts.retries) && opts.retries >= 0)) bad(`retries must be an integer >= 0 (got ${opts.retries})`);
  return { replicationFactor: rf, minInsyncReplicas: minIsr };
}
