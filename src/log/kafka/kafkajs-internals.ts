/**
 * The only file that touches kafkajs internals. kafkajs (pinned at exactly 2.2.4 in package.json) has no public
 * "fetch these offsets of this partition" call: its consumer is a group member that joins, syncs, heartbeats and
 * reads from committed offsets, which is heavy for a point read and wrong for a materializer that must start from
 * the offset in its own store. Every kafkajs client is built on an internal `Cluster` (metadata, one connection per
 * broker, version negotiation) whose brokers expose `fetch` and `listOffsets`, exactly what the kafkajs consumer
 * uses underneath. We obtain a Cluster from the Kafka client's own factory (so it shares the client's brokers,
 * retry, logger and socket settings) and wrap the few calls we need in typed functions.
 *
 * If a kafkajs upgrade moves these internals, `createInternalCluster` fails loudly at open(), never silently.
 */
import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';

/** A decoded record as kafkajs' record-batch decoder yields it. */
export interface RawRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  isControlRecord?: boolean;
}

export interface RawFetchPartition {
  partition: number;
  errorCode: number;
  highWatermark: string;
  lastStableOffset?: string;
  /** kafkajs' spelling of log_start_offset. */
  lastStartOffset?: string;
  messages: RawRecord[];
}

export interface RawFetchResponse {
  responses: { topicName: string; partitions: RawFetchPartition[] }[];
}

export interface InternalBroker {
  nodeId: number;
  fetch(req: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<RawFetchResponse>;
}

export interface PartitionMetadata {
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
  partitionErrorCode: number;
}

export interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  isConnected(): boolean;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  findTopicPartitionMetadata(topic: string): PartitionMetadata[];
  findBroker(q: { nodeId: number | string }): Promise<InternalBroker>;
  fetchTopicsOffset(
    topics: { topic: string; fromBeginning: boolean; partitions: { partition: number }[] }[],
  ): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

export const READ_COMMITTED = 1;

type ClusterFactory = (opts: { metadataMaxAge?: number; allowAutoTopicCreation?: boolean; isolationLevel?: number }) => InternalCluster;

/** A new Cluster (own connections) configured like the given client. */
export function createInternalCluster(kafka: Kafka, opts: { metadataMaxAge?: number } = {}): InternalCluster {
  const sym = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const factory = sym === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[sym];
  if (typeof factory !== 'function') {
    throw new Error('this kafkajs version has no internal cluster factory (the kafka log needs kafkajs 2.2.4 exactly)');
  }
  const cluster = (factory as ClusterFactory)({
    metadataMaxAge: opts.metadataMaxAge ?? 60_000,
    allowAutoTopicCreation: false,
    isolationLevel: READ_COMMITTED,
  });
  for (const m of ['connect', 'disconnect', 'addTargetTopic', 'refreshMetadata', 'findTopicPartitionMetadata', 'findBroker', 'fetchTopicsOffset'] as const) {
    if (typeof cluster[m] !== 'function') throw new Error(`the kafkajs internal cluster has no ${m}() (the kafka log needs kafkajs 2.2.4 exactly)`);
  }
  return cluster;
}

/** kafkajs error fields we classify on (the error itself, or what a retrier wrapped). */
export interface KafkaJsErrorLike {
  name?: string;
  type?: string;
  retriable?: boolean;
  partition?: number;
  message?: string;
  cause?: unknown;
  originalError?: unknown;
}

/** The innermost kafkajs error type (`OFFSET_OUT_OF_RANGE`, `NOT_LEADER_FOR_PARTITION`, ...) or the error name. */
export function kafkaErrorKinds(e: unknown): string[] {
  const kinds: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur && typeof cur === 'object'; depth++) {
    const k = cur as KafkaJsErrorLike;
    if (k.type) kinds.push(k.type);
    if (k.name) kinds.push(k.name);
    cur = k.originalError ?? k.cause;
  }
  return kinds;
}

// ---------------------------------------------------------------------------------------------------------------
// CRC32C of produced record batches. kafkajs computes it one byte at a time in JavaScript on the event loop: 2.35 s
// of 21 s of a V3 node's main thread loading 15 M points (docs/log-kafka.md, "Group commit"). This table-driven
// slicing-by-8 version gives the same values several times faster. kafkajs' record batch encoder takes its CRC
// function from `protocol/recordBatch/crc32C/index.js` when it is first loaded (by the first produce request), so
// the module's export is replaced before that; if the encoder was loaded already, kafkajs' own function stays.

const CRC_TABLES = ((): Int32Array[] => {
  const t = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0]![n] = c;
  }
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k]![n] = (t[k - 1]![n]! >>> 8) ^ t[0]![t[k - 1]![n]! & 0xff]!;
  return t;
})();

/** CRC32C (Castagnoli) of `buf`, unsigned. */
export function crc32c(buf: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
  let crc = -1;
  let i = 0;
  const end8 = buf.length - (buf.length % 8);
  for (; i < end8; i += 8) {
    const a = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    crc = t7[a & 0xff]! ^ t6[(a >>> 8) & 0xff]! ^ t5[(a >>> 16) & 0xff]! ^ t4[a >>> 24]! ^ t3[buf[i + 4]!]! ^ t2[buf[i + 5]!]! ^ t1[buf[i + 6]!]! ^ t0[buf[i + 7]!]!;
  }
  for (; i < buf.length; i++) crc = t0[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

const requireCjs = createRequire(import.meta.url);

/** Makes kafkajs' record batch encoder use `crc32c` (see above); true if it will, false if the encoder was loaded already. */
export function useFastCrc32c(): boolean {
  const crcPath = requireCjs.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js');
  const encoderPath = requireCjs.resolve('kafkajs/src/protocol/recordBatch/v0/index.js');
  const original = requireCjs(crcPath) as (b: Buffer) => number;
  const mod = requireCjs.cache[crcPath]!;
  if (mod.exports === crc32c) return true;
  if (requireCjs.cache[encoderPath] !== undefined) return false;
  const probe = Buffer.from('123456789 kafkajs record batch');
  if (crc32c(Buffer.from('123456789')) !== 0xe3069283 || original(probe) !== crc32c(probe)) {
    throw new Error('kafkajs internals changed: its CRC32C does not match the standard one (kafkajs-internals.ts)');
  }
  mod.exports = crc32c;
  return true;
}
