/**
 * PartitionedLog on Apache Kafka (kafkajs 2.2.4): one topic with P partitions, log partition p = topic partition p.
 *
 * - open(): creates the topic if absent (P partitions, the replication factor, min.insync.replicas = ceil(RF/2),
 *   LogAppendTime timestamps, max.message.bytes large enough for one append); a topic with another partition count
 *   is refused (TSDB_ERR_CONFIG_INVALID).
 * - append(): idempotent producer, acks=-1, one sendBatch per call; every batch goes to its explicit partition and
 *   all batches of one partition in a call travel as one record batch, so they get consecutive offsets. Offsets come
 *   from the produce response's baseOffset. Sends that share a partition go one at a time (partition-queue.ts:
 *   otherwise a lost produce response let another call reuse its sequence numbers and be dropped as a duplicate).
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
import type { Admin, Kafka, Message, Producer, RecordMetadata, logCreator } from 'kafkajs';
import { TsdbError, asTsdbError, type ErrorCode } from '../../common/errors.js';
import { createLogger, type Logger } from '../../common/logger.js';
import type { AppendBatch, AppendResult, ConsumeOptions, DeadLetter, LogConsumer, LogRecord, PartitionedLog, PartitionOffsets, ReadOptions } from '../types.js';
import { KafkaLogConsumer, toLogRecord } from './kafka-consumer.js';
import { PartitionQueue } from './partition-queue.js';
import { READ_COMMITTED, createInternalCluster, kafkaErrorKinds, type InternalCluster, type RawRecord } from './kafkajs-internals.js';

const { Kafka: KafkaClient, logLevel: LogLevel } = kafkajs;

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

/** The kafka log plus what operators and tests need beyond PartitionedLog. */
export interface KafkaLog extends PartitionedLog {
  readonly kind: 'kafka';
  readonly topic: string;
  readonly brokers: readonly string[];
}

const TOPIC_RE = /^[a-zA-Z0-9._-]{1,249}$/;
const DEFAULT_MAX_MESSAGE_BYTES = 16 << 20;
const DEFAULT_READ_MAX_RECORDS = 1000;
const DEFAULT_READ_MAX_BYTES = 4 << 20;

export function createKafkaLog(opts: KafkaLogOptions): KafkaLog {
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
  return new KafkaLogImpl(opts, rf, minIsr);
}

type State = 'new' | 'opening' | 'open' | 'closing' | 'closed';

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
  private producer: Promise<Producer> | undefined;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly sendQueue = new PartitionQueue();
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
      logLevel: this.logger.isLevelEnabled('debug') ? LogLevel.INFO : LogLevel.WARN,
      logCreator: bridgeLogger(this.logger),
    });
    let admin: Admin | undefined;
    let cluster: InternalCluster | undefined;
    try {
      admin = kafka.admin();
      await admin.connect();
      // Right after a topic is created, brokers other than the controller may not know it yet for a moment
      // (UNKNOWN_TOPIC_OR_PARTITION / LEADER_NOT_AVAILABLE): retry those for a bounded time.
      for (let attempt = 0; ; attempt++) {
        try {
          await this.ensureTopic(admin);
          cluster = createInternalCluster(kafka);
          await cluster.connect();
          await cluster.addTargetTopic(this.topic);
          await this.waitForLeaders(cluster);
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
      this.producer = this.newProducer();
      await this.producer;
      this.state = 'open';
      this.logger.info({ topic: this.topic, partitions: this.partitions, brokers: this.brokers }, 'kafka log open');
    } catch (e) {
      this.state = 'new';
      const producer = this.producer;
      this.producer = undefined;
      this.kafka = undefined;
      this.cluster = undefined;
      await producer?.then((p) => p.disconnect()).catch(() => undefined);
      await cluster?.disconnect().catch(() => undefined);
      throw this.mapError(e, 'TSDB_ERR_LOG_UNAVAILABLE', `cannot open kafka log (${this.where()})`);
    } finally {
      await admin?.disconnect().catch(() => undefined);
    }
  }

  /** `<topic>.dlq`: one partition (dead letters are rare and read by people), same replication as the topic. */
  private async ensureDeadLetterTopic(admin: Admin): Promise<void> {
    if ((await admin.listTopics()).includes(this.deadLetterTopic) || this.opts.createTopic === false) return;
    try {
      await admin.createTopics({
        waitForLeaders: true,
        timeout: this.opts.requestTimeoutMs ?? 30_000,
        topics: [{ topic: this.deadLetterTopic, numPartitions: 1, replicationFactor: this.replicationFactor, configEntries: [{ name: 'max.message.bytes', value: String(this.maxMessageBytes) }] }],
      });
    } catch (e) {
      if (!kafkaErrorKinds(e).concat(((e as { errors?: { type?: string }[] }).errors ?? []).map((x) => x.type ?? '')).includes('TOPIC_ALREADY_EXISTS')) throw e;
    }
  }

  private async ensureTopic(admin: Admin): Promise<void> {
    await this.ensureDeadLetterTopic(admin);
    const exists = async (): Promise<boolean> => (await admin.listTopics()).includes(this.topic);
    if (!(await exists())) {
      if (this.opts.createTopic === false) {
        throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot open kafka log (${this.where()}): the topic does not exist and topic creation is off`);
      }
      const configEntries = Object.entries({
        'min.insync.replicas': String(this.minInsyncReplicas),
        'message.timestamp.type': 'LogAppendTime',
        'max.message.bytes': String(this.maxMessageBytes),
        'cleanup.policy': 'delete',
        ...this.opts.topicConfig,
      }).map(([name, value]) => ({ name, value }));
      try {
        const created = await admin.createTopics({
          waitForLeaders: true,
          timeout: this.opts.requestTimeoutMs ?? 30_000,
          topics: [{ topic: this.topic, numPartitions: this.partitions, replicationFactor: this.replicationFactor, configEntries }],
        });
        if (created) {
          this.logger.info({ topic: this.topic, partitions: this.partitions, replicationFactor: this.replicationFactor, minInsyncReplicas: this.minInsyncReplicas }, 'kafka topic created');
          return;
        }
        // false: somebody else created it meanwhile; check it like an existing one.
      } catch (e) {
        const kinds = kafkaErrorKinds(e).concat(((e as { errors?: { type?: string }[] }).errors ?? []).map((x) => x.type ?? ''));
        if (kinds.includes('TOPIC_ALREADY_EXISTS')) {
          // as above
        } else if (kinds.some((k) => ['INVALID_REPLICATION_FACTOR', 'INVALID_PARTITIONS', 'INVALID_CONFIG', 'INVALID_TOPIC_EXCEPTION', 'POLICY_VIOLATION'].includes(k))) {
          throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot create kafka topic (${this.where(`, partitions ${this.partitions}, replication factor ${this.replicationFactor}`)}): ${describe(e)}`, { cause: e });
        } else {
          throw e;
        }
      }
    }
    const meta = await admin.fetchTopicMetadata({ topics: [this.topic] });
    const t = meta.topics.find((x) => x.name === this.topic);
    const have = t?.partitions.length ?? 0;
    if (have !== this.partitions) {
      throw new TsdbError(
        'TSDB_ERR_CONFIG_INVALID',
        `cannot open kafka log (${this.where(`, partitions ${this.partitions}`)}): the topic has ${have} partitions; the partition count is fixed once data exists`,
      );
    }
    const rf = Math.min(...t!.partitions.map((p) => p.replicas.length));
    if (rf !== this.replicationFactor) {
      this.logger.warn({ topic: this.topic, configured: this.replicationFactor, actual: rf }, 'the existing topic has another replication factor; keeping it');
    }
  }

  private async waitForLeaders(cluster: InternalCluster): Promise<void> {
    const deadline = Date.now() + (this.opts.requestTimeoutMs ?? 30_000);
    for (;;) {
      const meta = cluster.findTopicPartitionMetadata(this.topic);
      const led = meta.filter((m) => m.leader !== null && m.leader !== undefined && m.leader >= 0).length;
      if (meta.length === this.partitions && led === this.partitions) return;
      if (Date.now() > deadline) throw new TsdbError('TSDB_ERR_LOG_UNAVAILABLE', `cannot open kafka log (${this.where()}): only ${led} of ${this.partitions} partitions have a leader`);
      await sleep(100);
      await cluster.refreshMetadata();
    }
  }

  private newProducer(): Promise<Producer> {
    const kafka = this.kafka!;
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Every message names its partition; this partitioner only honours it.
      createPartitioner: () => ({ message }) => message.partition!,
      retry: { retries: this.retries, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    // A failed connect() can leave the producer's connections open (kafkajs connects the cluster first, then asks
    // for a producer id): close them, or they keep the process alive. Nobody disconnects a producer that never came.
    const ready = producer.connect().then(
      () => producer,
      async (e: unknown) => {
        await producer.disconnect().catch(() => undefined);
        throw e;
      },
    );
    ready.catch(() => undefined);
    return ready;
  }

  /** After a failed append the producer's sequence numbers may not match what the broker has: start afresh. */
  private replaceProducer(failed: Promise<Producer>): void {
    if (this.producer !== failed || this.state !== 'open') return;
    this.producer = this.newProducer();
    const others = [...this.inflight];
    void Promise.allSettled(others)
      .then(() => failed)
      .then((p) => p.disconnect())
      .catch(() => undefined);
  }

  get deadLetterTopic(): string {
    return `${this.topic}.dlq`;
  }

  async deadLetter(entries: DeadLetter[]): Promise<void> {
    if (entries.length === 0) return;
    if (this.state !== 'open') throw new TsdbError('TSDB_ERR_LOG_CLOSED', `cannot set records aside (${this.where()}): the log is ${this.state}`);
    const messages = entries.map((e) => ({
      partition: 0, // the producer's partitioner only honours explicit partitions
      value: e.value,
      headers: {
        'v3-reason': e.reason,
        'v3-message': e.message.slice(0, 4096),
        'v3-source-topic': this.topic,
        'v3-source-partition': String(e.partition),
        'v3-source-offset': String(e.offset),
      },
    }));
    await this.send(this.deadLetterTopic, [0], messages, () => `cannot set records aside (${this.where(`, ${entries.length} records to ${this.deadLetterTopic}`)})`);
  }

  /**
   * One sendBatch, queued behind every earlier send that shares a partition with it (PartitionQueue says why), on
   * the producer current once it is this call's turn: a producer whose send failed may have handed out sequence
   * numbers of records the broker did write, so no later call may use it for any partition again.
   */
  private async send(topic: string, partitions: number[], messages: Message[], what: () => string): Promise<RecordMetadata[]> {
    const release = await this.sendQueue.acquire(partitions.map((p) => `${topic}/${p}`));
    const producerP = this.producer!;
    try {
      const producer = await producerP;
      const metadata = await producer.sendBatch({ acks: -1, timeout: this.opts.requestTimeoutMs ?? 30_000, topicMessages: [{ topic, messages }] });
      // kafkajs skips, on a retry, a broker that answered an earlier attempt, even when the partition that failed has
      // moved to it meanwhile; that partition then has no answer (and gave its sequence numbers back): a failed send.
      const missing = partitions.filter((p) => !metadata.some((m) => m.topicName === topic && m.partition === p));
      if (missing.length > 0) throw new Error(`the produce response has no offset for partition(s) ${missing.join(', ')}`);
      return metadata;
    } catch (e) {
      this.replaceProducer(producerP);
      throw this.mapError(e, 'TSDB_ERR_LOG_UNAVAILABLE', what());
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    await Promise.all([...this.consumers].map((c) => c.stop()));
    await Promise.allSettled([...this.inflight]);
    const producer = this.producer;
    const cluster = this.cluster;
    this.producer = undefined;
    this.cluster = undefined;
    this.kafka = undefined;
    await producer?.then((p) => p.disconnect()).catch(() => undefined);
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
      // The record batch adds ~70 bytes plus ~20 per record; leave generous headroom for it.
      if (bytes > this.maxMessageBytes - 64 * 1024) {
        throw new TsdbError('TSDB_ERR_WRITE_TOO_LARGE', `cannot append records (${this.where(`, partition ${partition}, ${bytes} bytes`)}): over the topic's ${this.maxMessageBytes}-byte batch limit`);
      }
    }
    const messages = batches.flatMap((b) => b.values.map((value, i) => ({ partition: b.partition, value, key: b.keys?.[i] ?? null })));
    let metadata: RecordMetadata[] = [];
    if (messages.length > 0) {
      const parts = [...new Set(messages.map((m) => m.partition))].sort((a, b) => a - b);
      metadata = await this.send(
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
          throw this.mapError(e, 'TSDB_ERR_LOG_UNAVAILABLE', `cannot read records (${this.where(`, partition ${partition}, offset ${from}`)})`);
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
          throw this.mapError(e, 'TSDB_ERR_LOG_UNAVAILABLE', `cannot read offsets (${this.where(`, partition ${partition}`)})`);
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

  private mapError(e: unknown, code: ErrorCode, message: string): TsdbError {
    if (e instanceof TsdbError) return e;
    const kinds = kafkaErrorKinds(e);
    if (kinds.includes('MESSAGE_TOO_LARGE') || kinds.includes('RECORD_LIST_TOO_LARGE')) {
      return new TsdbError('TSDB_ERR_WRITE_TOO_LARGE', `${message}: ${describe(e)}`, { cause: e });
    }
    return asTsdbError(e, code, message);
  }
}

function isRetriable(e: unknown): boolean {
  const r = (e as { retriable?: boolean } | undefined)?.retriable;
  return r !== false;
}

function describe(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // kafkajs aggregates per-topic failures (e.g. createTopics) behind a generic message.
  const inner = (e as { errors?: unknown[] } | undefined)?.errors;
  if (!Array.isArray(inner) || inner.length === 0) return msg;
  return `${msg}: ${inner.map((x) => (x instanceof Error ? x.message : String(x))).join('; ')}`;
}
