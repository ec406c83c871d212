/**
 * The kafka log's idempotent producer and its send path (kafka-log.ts says why appends work this way): one producer
 * at a time, replaced after any failed send; sends that share a partition go one at a time, and the calls queued
 * behind a send travel together in the next one (send-groups.ts).
 */
import type { Kafka, Message, Producer, RecordMetadata } from 'kafkajs';
import { mapKafkaError } from './kafka-errors.js';
import { useFastCrc32c } from './kafkajs-internals.js';
import { SendGroups, type GroupEntry } from './send-groups.js';

export interface KafkaProducerOptions {
  /** Retries of one send before it fails. */
  retries: number;
  requestTimeoutMs: number;
  /** Appends in flight: a replaced producer is disconnected only once these settled. */
  inflight: ReadonlySet<Promise<unknown>>;
  /** Whether the log is open (a closing log does not replace its producer). */
  isOpen: () => boolean;
  /** Record bytes one partition may carry in one produce request (the topic's batch limit less headroom). */
  maxPartitionBytes: number;
  /** Record bytes of one produce request; default 32 MiB (brokers refuse requests over socket.request.max.bytes, 100 MiB by default). */
  maxRequestBytes?: number;
}

/** One caller's share of a grouped send. */
interface SendEntry extends GroupEntry {
  readonly messages: Message[];
  readonly what: () => string;
  resolve(metadata: RecordMetadata[]): void;
  reject(e: unknown): void;
}

export class KafkaProducer {
  private kafka: Kafka | undefined;
  private producer: Promise<Producer> | undefined;
  private readonly groups: SendGroups<SendEntry>;

  constructor(private readonly opts: KafkaProducerOptions) {
    this.groups = new SendGroups({ maxPartitionBytes: opts.maxPartitionBytes, maxRequestBytes: opts.maxRequestBytes ?? 32 << 20 }, (topic, group) => this.sendGroup(topic, group));
  }

  /** Connects a producer of `kafka`; resolves once it is ready. */
  start(kafka: Kafka): Promise<Producer> {
    useFastCrc32c();
    this.kafka = kafka;
    this.producer = this.newProducer();
    return this.producer;
  }

  /** Disconnects the current producer (if any); never throws. */
  async stop(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    this.kafka = undefined;
    await producer?.then((p) => p.disconnect()).catch(() => undefined);
  }

  /**
   * Sends `messages` (each naming its partition, all of `partitions`) after every earlier send that shares a partition
   * with it, possibly in one produce request with other calls queued at the same time (send-groups.ts). Resolves with
   * this call's own offsets: per partition, the base offset of its first record. If the request fails, every call in
   * it fails (with its own `what()` message) and the producer is replaced.
   */
  send(topic: string, partitions: number[], messages: Message[], what: () => string): Promise<RecordMetadata[]> {
    const bytes = new Map<number, number>(partitions.map((p) => [p, 0]));
    for (const m of messages) bytes.set(m.partition!, (bytes.get(m.partition!) ?? 0) + valueBytes(m.value));
    return new Promise((resolve, reject) => this.groups.submit({ topic, partitions: [...bytes.keys()], bytes, messages, what, resolve, reject }));
  }

  /**
   * One sendBatch for the group, on the producer current once it is the group's turn: a producer whose send failed
   * may have handed out sequence numbers of records the broker did write, so no later send may use it again.
   */
  private async sendGroup(topic: string, group: SendEntry[]): Promise<void> {
    const producerP = this.producer!;
    let metadata: RecordMetadata[];
    try {
      const producer = await producerP;
      const messages = group.length === 1 ? group[0]!.messages : group.flatMap((e) => e.messages);
      metadata = await producer.sendBatch({ acks: -1, timeout: this.opts.requestTimeoutMs, topicMessages: [{ topic, messages }] });
      // kafkajs skips, on a retry, a broker that answered an earlier attempt, even when the partition that failed has
      // moved to it meanwhile; that partition then has no answer (and gave its sequence numbers back): a failed send.
      const partitions = [...new Set(group.flatMap((e) => e.partitions))];
      const missing = partitions.filter((p) => !metadata.some((m) => m.topicName === topic && m.partition === p));
      if (missing.length > 0) throw new Error(`the produce response has no offset for partition(s) ${missing.join(', ')}`);
    } catch (e) {
      this.replaceProducer(producerP);
      for (const entry of group) entry.reject(mapKafkaError(e, 'TSDB_ERR_LOG_UNAVAILABLE', entry.what()));
      return;
    }
    // Each partition's records are one record batch in group order: an entry's base offset is the batch's plus the
    // records of the entries before it.
    const next = new Map<number, RecordMetadata>();
    for (const m of metadata) if (m.topicName === topic) next.set(m.partition, m);
    for (const entry of group) {
      const counts = new Map<number, number>();
      for (const x of entry.messages) counts.set(x.partition!, (counts.get(x.partition!) ?? 0) + 1);
      const mine: RecordMetadata[] = [];
      for (const p of entry.partitions) {
        const m = next.get(p)!;
        mine.push(m);
        next.set(p, { ...m, baseOffset: String(Number(m.baseOffset) + (counts.get(p) ?? 0)) });
      }
      entry.resolve(mine);
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
      retry: { retries: this.opts.retries, initialRetryTime: 100, maxRetryTime: 2000 },
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
    if (this.producer !== failed || !this.opts.isOpen()) return;
    this.producer = this.newProducer();
    const others = [...this.opts.inflight];
    void Promise.allSettled(others)
      .then(() => failed)
      .then((p) => p.disconnect())
      .catch(() => undefined);
  }
}

function valueBytes(v: Message['value']): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}
