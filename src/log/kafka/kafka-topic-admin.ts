/** Creating and checking the log's topic at open() (kafka-log.ts says what the topic is configured with and why). */
import type { Admin } from 'kafkajs';
import { TsdbError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { adminErrorKinds, describeKafkaError } from './kafka-errors.js';
import type { InternalCluster } from './kafkajs-internals.js';

/** The topic a kafka log wants, as open() checks and creates it. */
export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  minInsyncReplicas: number;
  maxMessageBytes: number;
  /** Extra topic configs for creation. */
  topicConfig: Record<string, string> | undefined;
  /** false: never create the topic. */
  createTopic: boolean;
  requestTimeoutMs: number;
  logger: Logger;
  /** The log's `topic ..., brokers ...` phrase for messages, with `extra` ids after the topic. */
  where: (extra?: string) => string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Creates the topic when absent; refuses one with another partition count; warns about another replication factor. */
export async function ensureTopic(admin: Admin, spec: TopicSpec): Promise<void> {
  const exists = async (): Promise<boolean> => (await admin.listTopics()).includes(spec.topic);
  if (!(await exists())) {
    if (!spec.createTopic) {
      throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot open kafka log (${spec.where()}): the topic does not exist and topic creation is off`);
    }
    const configEntries = Object.entries({
      'min.insync.replicas': String(spec.minInsyncReplicas),
      'message.timestamp.type': 'LogAppendTime',
      'max.message.bytes': String(spec.maxMessageBytes),
      'cleanup.policy': 'delete',
      ...spec.topicConfig,
    }).map(([name, value]) => ({ name, value }));
    try {
      const created = await admin.createTopics({
        waitForLeaders: true,
        timeout: spec.requestTimeoutMs,
        topics: [{ topic: spec.topic, numPartitions: spec.partitions, replicationFactor: spec.replicationFactor, configEntries }],
      });
      if (created) {
        spec.logger.info({ topic: spec.topic, partitions: spec.partitions, replicationFactor: spec.replicationFactor, minInsyncReplicas: spec.minInsyncReplicas }, 'kafka topic created');
        return;
      }
      // false: somebody else created it meanwhile; check it like an existing one.
    } catch (e) {
      const kinds = adminErrorKinds(e);
      if (kinds.includes('TOPIC_ALREADY_EXISTS')) {
        // as above
      } else if (kinds.some((k) => ['INVALID_REPLICATION_FACTOR', 'INVALID_PARTITIONS', 'INVALID_CONFIG', 'INVALID_TOPIC_EXCEPTION', 'POLICY_VIOLATION'].includes(k))) {
        throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot create kafka topic (${spec.where(`, partitions ${spec.partitions}, replication factor ${spec.replicationFactor}`)}): ${describeKafkaError(e)}`, { cause: e });
      } else {
        throw e;
      }
    }
  }
  const meta = await admin.fetchTopicMetadata({ topics: [spec.topic] });
  const t = meta.topics.find((x) => x.name === spec.topic);
  const have = t?.partitions.length ?? 0;
  if (have !== spec.partitions) {
    throw new TsdbError(
      'TSDB_ERR_CONFIG_INVALID',
      `cannot open kafka log (${spec.where(`, partitions ${spec.partitions}`)}): the topic has ${have} partitions; the partition count is fixed once data exists`,
    );
  }
  const rf = Math.min(...t!.partitions.map((p) => p.replicas.length));
  if (rf !== spec.replicationFactor) {
    spec.logger.warn({ topic: spec.topic, configured: spec.replicationFactor, actual: rf }, 'the existing topic has another replication factor; keeping it');
  }
}

/** Waits (up to the request timeout) until every partition of the topic has a leader. */
export async function waitForLeaders(cluster: InternalCluster, spec: TopicSpec): Promise<void> {
  const deadline = Date.now() + spec.requestTimeoutMs;
  for (;;) {
    const meta = cluster.findTopicPartitionMetadata(spec.topic);
    const led = meta.filter((m) => m.leader !== null && m.leader !== undefined && m.leader >= 0).length;
    if (meta.length === spec.partitions && led === spec.partitions) return;
    if (Date.now() > deadline) throw new TsdbError('TSDB_ERR_LOG_UNAVAILABLE', `cannot open kafka log (${spec.where()}): only ${led} of ${spec.partitions} partitions have a leader`);
    await sleep(100);
    await cluster.refreshMetadata();
  }
}
