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
