/**
 * PartitionedLog on Apache Kafka (kafkajs 2.2.4): one topic with P partitions, log partition p = topic partition p.
 *
 * - open(): creates the topic if absent (kafka-topic-admin.ts; P partitions, the replication factor,
 *   min.insync.replicas = ceil(RF/2), LogAppendTime timestamps, max.message.bytes large enough for one append) and
 *   its dead-letter topic (kafka-dead-letters.ts); a topic with another partition count is refused
 *   (TSDB_ERR_CONFIG_INVALID).
 * - append(): idempotent producer (kafka-producer.ts), acks=-1; every batch goes to its explicit partition and all
 *   batches of one partition in a call travel in one record batch, so they get consecutive offsets. Offsets come from
 *   the produce response's baseOffset. Sends that share a partition go one at a time (otherwise a lost produce
 *   response let another call reuse its sequence numbers and be dropped as a duplicate); the calls queued behind a
 *   send share the next produce request (group commit, send-groups.ts), each resolved with its own offsets.
 *   A failed append may still have been written (Kafka cannot say); the producer is then replaced (new producer id)
 *   so a retry can never be mistaken by the broker for a duplicate of a different, earlier attempt.
 * - read()/offsets(): Fetch and ListOffsets straight to the partition leader through a kafkajs internal Cluster
 *   (kafkajs-internals.ts); no consumer group is involved.
 * - consume(): KafkaLogConsumer, a manual-assignment fetcher (why not a consumer group: see kafka-consumer.ts).
 * - setRetentionFloor(): a no-op. Kafka deletes by the topic's retention.ms/retention.bytes whatever a node has
 *   materialized; size them so a node can always catch up, or replay from a snapshot.
 *
 * Offsets are dense as long as producers are not transactional (transaction markers take offsets) and the topic is
 * not compacted; V3's own producers never are, and the topic is created with cleanup.policy=delete.
 */
import kafkajs from 'kafkajs';
import type { Admin, Kafka, RecordMetadata } from 'kafkajs';
import { TsdbError } from '../../common/errors.js';
import { createLogger, type Logger } from '../../common/logger.js';
import type { AppendBatch, AppendResult, ConsumeOptions, DeadLetter, LogConsumer, LogRecord, PartitionedLog, PartitionOffsets, ReadOptions } from '../types.js';
import { KafkaLogConsumer, toLogRecord } from './kafka-consumer.js';
import { deadLetterMessages, deadLetterTopicOf, ensureDeadLetterTopic } from './kafka-dead-letters.js';
import { isRetriable, mapKafkaError } from './kafka-errors.js';
import { checkKafkaLogOptions, type KafkaLogOptions } from './kafka-log-options.js';
import { KafkaProducer } from './kafka-producer.js';
import { kafkajsLogging } from './kafkajs-logging.js';
import { ensureTopic, waitForLeaders, type TopicSpec } from './kafka-topic-admin.js';
import { READ_COMMITTED, createInternalCluster, kafkaErrorKinds, type InternalCluster, type RawRecord } from './kafkajs-internals.js';

export type { KafkaLogOptions } from './kafka-log-options.js';

const { Kafka: KafkaClient } = kafkajs;


/** The kafka log plus what operators and tests need beyond PartitionedLog. */
export interface KafkaLog extends PartitionedLog {
  readonly kind: 'kafka';
  readonly topic: string;
  readonly brokers: readonly string[];
}

const DEFAULT_MAX_MESSAGE_BYTES = 16 << 20;
const DEFAULT_READ_MAX_RECORDS = 1000;
const DEFAULT_READ_MAX_BYTES = 4 << 20;

export function createKafkaLog(opts: KafkaLogOptions): KafkaLog {
  const { replicationFactor, minInsyncReplicas } = checkKafkaLogOptions(opts);
  return new KafkaLogImpl(opts, replicationFactor, minInsyncReplicas);
}

type State = 'new' | 'opening' | 'open' | 'closing' | 'closed';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class KafkaLogImpl implements KafkaLog {
  readonly kind = 'kafka' as const;
  readonly partitions: number;
  readonly topic: string;
  readonly brokers: readonly string[];
  private readonly logger: Logger;
  private readonly retries: number;
  private readonly maxMessageBytes: number;
  private state: State = 'new';
  private kafka: Kafka | undefined;
  private cluster: InternalCluster | undefined;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly producer: KafkaProducer;
  private readonly consumers = new Set<KafkaLogConsumer>();

  constructor(
    private readonly opts: KafkaLogOptions,
    private readonly replicationFactor: number,
    private readonly minInsyncReplicas: number,
  ) {
    this.partitions = opts.partitions;
    this.topic = opts.topic;
    this.brokers = [...opts.brokers];
    this.logger = opts.logger ?? createLogger({ name: 'v3-log' });
    this.retries = opts.retries ?? 5;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.producer = new KafkaProducer({
      retries: this.retries,
      requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
      inflight: this.inflight,
      isOpen: () => this.state === 'open',
      maxPartitionBytes: this.maxPartitionBytes(),
    });
  }

  private topicSpec(): TopicSpec {
    return {
      topic: this.topic,
      partitions: this.partitions,
      replicationFactor: this.replicationFactor,
      minInsyncReplicas: this.minInsyncReplicas,
      maxMessageBytes: this.maxMessageBytes,
      topicConfig: this.opts.topicConfig,
      createTopic: this.opts.createTopic !== false,
      requestTimeoutMs: this.opts.requestTimeoutMs ?? 30_000,
      logger: this.logger,
      where: (extra) => this.where(extra),
    };
  }

  /** Record bytes one partition may take in one produce request: the record batch adds ~70 bytes plus ~20 per record. */
  private maxPartitionBytes(): number {
    return this.maxMessageBytes - 64 * 1024;
  }

  private where(extra = ''): string {
    return `topic ${this.topic}${extra}, brokers ${this.brokers.join(',')}`;
  }

  // -----------------------------------------------------------------------------------------------------------
  // lifecycle

  async open(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state !== 'new' && this.state !== 'closed') throw new TsdbError('TSDB_ERR_LOG_UNAVAILABLE', `cannot open kafka log (${this.where()}): it is ${this.state}`);
    this.state = 'opening';
    const kafka = new KafkaClient({
      clientId: this.opts.clientId ?? 'v3-tsdb',
      brokers: [...this.brokers],
      connectionTimeout: this.opts.connectionTimeoutMs ?? 3000,
      requestTimeout: this.opts.requestTimeoutMs ?? 30_000,
      retry: { retries: this.retries, initialRetryTime: 100, maxRetryTime: 2000 },
      ...kafkajsLogging(this.logger),
    });
    let admin: Admin | undefined;
    let cluster: InternalCluster | undefined;
    const spec = this.topicSpec();
    try {
      admin = kafka.admin();
      await admin.connect();
      // Right after a topic is created, brokers other than the controller may not know it yet for a moment
      // (UNKNOWN_TOPIC_OR_PARTITION / LEADER_NOT_AVAILABLE): retry those for a bounded time.
      for (let attempt = 0; ; attempt++) {
        try {
          await ensureDeadLetterTopic(admin, spec);
          await ensureTopic(admin, spec);
          cluster = createInternalCluster(kafka);
          await cluster.connect();
          await cluster.addTargetTopic(this.topic);
          await waitForLeaders(cluster, spec);
          break;
        } catch (e) {
          await cluster?.disconnect().catch(() => undefined);
          cluster = undefined;
          const kinds = kafkaErrorKinds(e);
          if (attempt >= 20 || !kinds.some((k) => k === 'UNKNOWN_TOPIC_OR_PARTITION' || k === 'LEADER_NOT_AVAILABLE')) throw e;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      this.kafka = kafka;
      this.cluster = cluster;
      await this.producer.start(kafka);
      this.state = 'open';
      this.logger.info({ topic: this.topic, partitions: this.partitions, brokers: this.brokers }, 'kafka log open');
    } catch (e) {
      this.state = 'new';
      this.kafka = undefined;
      this.cluster = undefined;
      await this.producer.stop();
      await cluster?.disconnect().catch(() => undefined);
      throw mapKafkaError(e, 'TSDB_ERR_LOG_UNAVAILABLE', `cannot open kafka log (${this.where()})`);
    } finally {
      await admin?.disconnect().catch(() => undefined);
    }
  }

  get deadLetterTopic(): string {
    return deadLetterTopicOf(this.topic);
  }

  async deadLetter(entries: DeadLetter[]): Promise<void> {
    if (entries.length === 0) return;
    if (this.state !== 'open') throw new TsdbError('TSDB_ERR_LOG_CLOSED', `cannot set records aside (${this.where()}): the log is ${this.state}`);
    const messages = deadLetterMessages(this.topic, entries);
    await this.producer.send(this.deadLetterTopic, [0], messages, () => `cannot set records aside (${this.where(`, ${entries.length} records to ${this.deadLetterTopic}`)})`);
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    await Promise.all([...this.consumers].map((c) => c.stop()));
    await Promise.allSettled([...this.inflight]);
    const cluster = this.cluster;
    this.cluster = undefined;
    this.kafka = undefined;
    await this.producer.stop();
    await cluster?.disconnect().catch(() => undefined);
    this.state = 'closed';
    this.logger.debug({ topic: this.topic }, 'kafka log closed');
  }

  // -----------------------------------------------------------------------------------------------------------
  // append

  append(batches: AppendBatch[]): Promise<AppendResult[]> {
    const p = this.doAppend(batches);
    this.inflight.add(p);
    void p.then(
      () => this.inflight.delete(p),
      () => this.inflight.delete(p),
    );
    return p;
  }

  private async doAppend(batches: AppendBatch[]): Promise<AppendResult[]> {
    this.checkOpen('append records');
    const perPartitionBytes = new Map<number, number>();
    for (const b of batches) {
      this.checkPartition(b.partition, 'append records');
      if (!Array.isArray(b.values)) throw new TsdbError('TSDB_ERR_INTERNAL', `cannot append records (partition ${b.partition}): values must be an array of Buffers`);
      let bytes = perPartitionBytes.get(b.partition) ?? 0;
      for (const v of b.values) {
        if (!Buffer.isBuffer(v)) throw new TsdbError('TSDB_ERR_INTERNAL', `cannot append records (partition ${b.partition}): every value must be a Buffer`);
        bytes += v.length;
      }
      perPartitionBytes.set(b.partition, bytes);
    }
    for (const [partition, bytes] of perPartitionBytes) {
      if (bytes > this.maxPartitionBytes()) {
        throw new TsdbError('TSDB_ERR_WRITE_TOO_LARGE', `cannot append records (${this.where(`, partition ${partition}, ${bytes} bytes`)}): over the topic's ${this.maxMessageBytes}-byte batch limit`);
      }
    }
    const messages = batches.flatMap((b) => b.values.map((value, i) => ({ partition: b.partition, value, key: b.keys?.[i] ?? null })));
    let metadata: RecordMetadata[] = [];
    if (messages.length > 0) {
      const parts = [...new Set(messages.map((m) => m.partition))].sort((a, b) => a - b);
      metadata = await this.producer.send(
        this.topic,
        parts,
        messages,
        () => `cannot append records (${this.where(`, partitions [${parts.join(', ')}], ${messages.length} records`)})`,
      );
    }
    const next = new Map<number, number>();
    for (const m of metadata) {
      if (m.topicName === this.topic) next.set(m.partition, Number(m.baseOffset));
    }
    const results: AppendResult[] = [];
    for (const b of batches) {
      let base = next.get(b.partition);
      if (base === undefined) {
        base = (await this.offsets(b.partition)).end;
        next.set(b.partition, base);
      }
      results.push({ partition: b.partition, baseOffset: base, lastOffset: base + b.values.length - 1 });
      next.set(b.partition, base + b.values.length);
    }
    return results;
  }

  // -----------------------------------------------------------------------------------------------------------
  // read / offsets

  async read(partition: number, from: number, opts: ReadOptions = {}): Promise<LogRecord[]> {
    this.checkOpen('read records');
    this.checkPartition(partition, 'read records');
    if (!Number.isSafeInteger(from) || from < 0) {
      throw new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot read records (${this.where(`, partition ${partition}, offset ${from}`)}): offset must be a non-negative integer`);
    }
    const maxRecords = Math.max(1, opts.maxRecords ?? DEFAULT_READ_MAX_RECORDS);
    const maxBytes = Math.max(0, opts.maxBytes ?? DEFAULT_READ_MAX_BYTES);
    // Ask for a little more than maxBytes (record overhead); a first record batch larger than that still comes whole.
    const fetchBytes = Math.min(Math.max(maxBytes + 64 * 1024, 64 * 1024), 64 << 20);
    const out: LogRecord[] = [];
    let cursor = from;
    let bytes = 0;
    for (let round = 0; round < 20; round++) {
      const { messages, highWatermark } = await this.fetchOnce(partition, cursor, fetchBytes);
      let last = -1;
      for (const m of messages) {
        const off = Number(m.offset);
        last = Math.max(last, off);
        if (off < cursor || m.isControlRecord) continue;
        if (out.length > 0 && off <= out[out.length - 1]!.offset) continue;
        const r = toLogRecord(m);
        out.push(r);
        bytes += r.value.length;
        if (out.length >= maxRecords || bytes >= maxBytes) return out;
      }
      if (out.length > 0) return out;
      if (last >= cursor) {
        cursor = last + 1; // only transaction markers came back: look behind them
        continue;
      }
      if (cursor >= highWatermark) return out; // at the end
      await sleep(10); // the broker has data it did not send yet (e.g. an open transaction); ask again
    }
    return out;
  }

  private async fetchOnce(partition: number, from: number, maxBytes: number): Promise<{ messages: RawRecord[]; highWatermark: number }> {
    const cluster = this.cluster!;
    for (let attempt = 0; ; attempt++) {
      try {
        const meta = cluster.findTopicPartitionMetadata(this.topic).find((m) => m.partitionId === partition);
        if (meta === undefined || meta.leader === null || meta.leader < 0) throw Object.assign(new Error(`no leader for partition ${partition}`), { type: 'LEADER_NOT_AVAILABLE', retriable: true });
        const broker = await cluster.findBroker({ nodeId: meta.leader });
        const res = await broker.fetch({
          replicaId: -1,
          isolationLevel: READ_COMMITTED,
          maxWaitTime: 0,
          minBytes: 1,
          maxBytes,
          topics: [{ topic: this.topic, partitions: [{ partition, fetchOffset: String(from), maxBytes }] }],
        });
        const p = res.responses.find((t) => t.topicName === this.topic)?.partitions.find((x) => x.partition === partition);
        return { messages: p?.messages ?? [], highWatermark: p ? Number(p.highWatermark) : from };
      } catch (e) {
        const kinds = kafkaErrorKinds(e);
        if (kinds.includes('OFFSET_OUT_OF_RANGE')) {
          let range = '';
          try {
            const o = await this.offsets(partition);
            range = `, start ${o.start}, end ${o.end}`;
          } catch {
            /* less detail */
          }
          throw new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot read records (${this.where(`, partition ${partition}, offset ${from}${range}`)}): the offset is outside the log`, { cause: e });
        }
        if (attempt >= this.retries || !isRetriable(e) || this.state !== 'open') {
          throw mapKafkaError(e, 'TSDB_ERR_LOG_UNAVAILABLE', `cannot read records (${this.where(`, partition ${partition}, offset ${from}`)})`);
        }
        await sleep(Math.min(2000, 100 * 2 ** attempt));
        await cluster.refreshMetadata().catch(() => undefined);
      }
    }
  }

  async offsets(partition: number): Promise<PartitionOffsets> {
    this.checkOpen('read offsets');
    this.checkPartition(partition, 'read offsets');
    const cluster = this.cluster!;
    for (let attempt = 0; ; attempt++) {
      try {
        const one = async (fromBeginning: boolean): Promise<number> => {
          const res = await cluster.fetchTopicsOffset([{ topic: this.topic, fromBeginning, partitions: [{ partition }] }]);
          const o = res.find((t) => t.topic === this.topic)?.partitions.find((x) => x.partition === partition)?.offset;
          if (o === undefined) throw Object.assign(new Error(`no offset for partition ${partition} in the ListOffsets response`), { retriable: true });
          return Number(o);
        };
        const [start, end] = await Promise.all([one(true), one(false)]);
        return { start, end };
      } catch (e) {
        if (attempt >= this.retries || !isRetriable(e) || this.state !== 'open') {
          throw mapKafkaError(e, 'TSDB_ERR_LOG_UNAVAILABLE', `cannot read offsets (${this.where(`, partition ${partition}`)})`);
        }
        await sleep(Math.min(2000, 100 * 2 ** attempt));
        await cluster.refreshMetadata().catch(() => undefined);
      }
    }
  }

  // -----------------------------------------------------------------------------------------------------------
  // consume / retention

  consume(opts: ConsumeOptions): LogConsumer {
    this.checkOpen('consume');
    const kafka = this.kafka!;
    const consumer = new KafkaLogConsumer(
      {
        topic: this.topic,
        partitions: this.partitions,
        logger: this.logger,
        newCluster: () => createInternalCluster(kafka),
        offsets: (p) => this.offsets(p),
        fetchMaxWaitMs: this.opts.fetchMaxWaitMs ?? 250,
        partitionMaxBytes: this.opts.partitionFetchBytes ?? 1 << 20,
      },
      opts,
      (c) => this.consumers.delete(c),
    );
    this.consumers.add(consumer);
    return consumer;
  }

  /** A no-op: Kafka retention is topic configuration (retention.ms / retention.bytes), not driven by readers. */
  setRetentionFloor(partition: number, offset: number): void {
    this.checkOpen('set retention floor');
    this.checkPartition(partition, 'set retention floor');
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot set retention floor (${this.where(`, partition ${partition}, offset ${offset}`)}): not a non-negative integer`);
    }
  }

  // -----------------------------------------------------------------------------------------------------------

  private checkOpen(what: string): void {
    if (this.state !== 'open') throw new TsdbError('TSDB_ERR_LOG_CLOSED', `cannot ${what} (${this.where()}): the log is ${this.state === 'new' ? 'not open' : this.state}`);
  }

  private checkPartition(partition: number, what: string): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot ${what} (${this.where(`, partition ${partition}, partitions ${this.partitions}`)}): no such partition`);
    }
  }

}


