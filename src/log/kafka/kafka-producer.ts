/**
 * The kafka log's idempotent producer and its send path (kafka-log.ts says why appends work this way): one producer
 * at a time, replaced after any failed send, sends that share a partition queued behind each other (partition-queue.ts).
 */
import type { Kafka, Message, Producer, RecordMetadata } from 'kafkajs';
import { mapKafkaError } from './kafka-errors.js';
import { PartitionQueue } from './partition-queue.js';

export interface KafkaProducerOptions {
  /** Retries of one send before it fails. */
  retries: number;
  requestTimeoutMs: number;
  /** Appends in flight: a replaced producer is disconnected only once these settled. */
  inflight: ReadonlySet<Promise<unknown>>;
  /** Whether the log is open (a closing log does not replace its producer). */
  isOpen: () => boolean;
}

export class KafkaProducer {
  private kafka: Kafka | undefined;
  private producer: Promise<Producer> | undefined;
  private readonly sendQueue = new PartitionQueue();

  constructor(private readonly opts: KafkaProducerOptions) {}

  /** Connects a producer of `kafka`; resolves once it is ready. */
  start(kafka: Kafka): Promise<Producer> {
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
   * One sendBatch, queued behind every earlier send that shares a partition with it (PartitionQueue says why), on
   * the producer current once it is this call's turn: a producer whose send failed may have handed out sequence
   * numbers of records the broker did write, so no later call may use it for any partition again.
   */
  async send(topic: string, partitions: number[], messages: Message[], what: () => string): Promise<RecordMetadata[]> {
    const release = await this.sendQueue.acquire(partitions.map((p) => `${topic}/${p}`));
    const producerP = this.producer!;
    try {
      const producer = await producerP;
      const metadata = await producer.sendBatch({ acks: -1, timeout: this.opts.requestTimeoutMs, topicMessages: [{ topic, messages }] });
      // kafkajs skips, on a retry, a broker that answered an earlier attempt, even when the partition that failed has
      // moved to it meanwhile; that partition then has no answer (and gave its sequence numbers back): a failed send.
      const missing = partitions.filter((p) => !metadata.some((m) => m.topicName === topic && m.partition === p));
      if (missing.length > 0) throw new Error(`the produce response has no offset for partition(s) ${missing.join(', ')}`);
      return metadata;
    } catch (e) {
      this.replaceProducer(producerP);
      throw mapKafkaError(e, 'TSDB_ERR_LOG_UNAVAILABLE', what());
    } finally {
      release();
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
