/**
 * LogConsumer for the kafka log: a manual-assignment fetcher, no consumer group.
 *
 * Why not a kafkajs consumer group (subscribe, then pause what we do not own and seek what we do)? Because every
 * property the interface promises fights the group protocol there:
 *  - start offsets: a group member starts from committed offsets and can only `seek` after it has been assigned the
 *    partition, i.e. after a join/sync round trip, and each seek races with the fetch already in flight;
 *  - independence: kafkajs waits for every batch of a fetch response before fetching again from that broker, so one
 *    slow onBatch stalls all partitions led by the same broker (with one broker: all of them);
 *  - liveness: an onBatch longer than the session timeout gets the member kicked out and every partition
 *    rebalanced, although nothing is shared with anybody (the group exists only to get an assignment);
 *  - cost: a group per node instance leaves coordinator state behind and adds seconds to every start.
 * Kafka's own Java consumer has `assign()` for exactly this case; kafkajs does not expose it, so this class is that
 * `assign()`: it sends Fetch requests for the assigned partitions itself, through a kafkajs internal Cluster (see
 * kafkajs-internals.ts), and never reads or commits group offsets.
 *
 * Shape: one Fetch in flight per leader broker at a time, carrying every assigned partition that wants data (long
 * poll: minBytes 1, maxWait fetchMaxWaitMs). Each partition keeps a small buffer (one fetch ahead of the batch
 * being delivered); deliveries run per partition, so a slow onBatch delays only its own partition. A partition is
 * not fetched while its buffer already holds maxRecords records (backpressure). Errors from brokers (leader moved,
 * broker restarting) are retried with backoff and never end a partition; an offset outside the log ends that
 * partition with TSDB_ERR_LOG_OFFSET through onError, as does a rejected onBatch (with its own error).
 */
import { TsdbError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { ConsumeOptions, LogConsumer, LogRecord, PartitionOffsets } from '../types.js';
import { READ_COMMITTED, kafkaErrorKinds, type InternalCluster, type KafkaJsErrorLike, type PartitionMetadata, type RawRecord } from './kafkajs-internals.js';

export interface KafkaConsumerHost {
  readonly topic: string;
  readonly partitions: number;
  readonly logger: Logger;
  /** A new, unconnected internal cluster for this consumer's own connections. */
  newCluster(): InternalCluster;
  offsets(partition: number): Promise<PartitionOffsets>;
  /** Long-poll wait of an idle fetch. */
  readonly fetchMaxWaitMs: number;
  /** Bytes asked per partition and fetch (a larger first record batch still comes whole). */
  readonly partitionMaxBytes: number;
}

const MAX_BACKOFF_MS = 2000;
const FIRST_BACKOFF_MS = 100;
/** While a partition with known backlog waits for its buffer to drain, other polls on its broker stay short. */
const SHORT_WAIT_MS = 50;
const RESPONSE_MAX_BYTES = 32 << 20;

interface Slot {
  readonly partition: number;
  /** Bumped on every assign/unassign: results and errors of an older assignment are dropped. */
  gen: number;
  assigned: boolean;
  fetchOffset: number;
  buffer: LogRecord[];
  /** Part of a Fetch in flight. */
  fetching: boolean;
  /** Last high watermark seen (-1: unknown). */
  hw: number;
  /** An onBatch of this partition (any assignment generation) is running. */
  busy: boolean;
  /** Settles when the running onBatch (if any) has settled. */
  delivering: Promise<void>;
}

export function toLogRecord(m: RawRecord): LogRecord {
  return { offset: Number(m.offset), value: m.value ?? Buffer.alloc(0), timestamp: Number(m.timestamp) };
}

export class KafkaLogConsumer implements LogConsumer {
  private readonly slots = new Map<number, Slot>();
  private readonly maxRecords: number;
  private readonly inflightLeaders = new Set<number>();
  private readonly backoff = new Map<number, { until: number; ms: number }>();
  private cluster: InternalCluster | undefined;
  private connecting: Promise<void> | undefined;
  private connectBackoffMs = FIRST_BACKOFF_MS;
  private kickPending = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private lastWarn = 0;

  constructor(
    private readonly host: KafkaConsumerHost,
    private readonly opts: ConsumeOptions,
    private readonly onStopped: (c: KafkaLogConsumer) => void,
  ) {
    this.maxRecords = Math.max(1, opts.maxRecords ?? 1000);
  }

  assign(partition: number, from: number): void {
    if (this.stopped) throw new TsdbError('TSDB_ERR_LOG_CLOSED', `cannot assign partition (topic ${this.host.topic}, partition ${partition}, offset ${from}): the consumer is stopped`);
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.host.partitions) {
      throw new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot assign partition (topic ${this.host.topic}, partition ${partition}, partitions ${this.host.partitions}): no such partition`);
    }
    if (!Number.isSafeInteger(from) || from < 0) {
      throw new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot assign partition (topic ${this.host.topic}, partition ${partition}, offset ${from}): offset must be a non-negative integer`);
    }
    let s = this.slots.get(partition);
    if (s === undefined) {
      s = { partition, gen: 0, assigned: false, fetchOffset: 0, buffer: [], fetching: false, hw: -1, busy: false, delivering: Promise.resolve() };
      this.slots.set(partition, s);
    }
    s.gen++;
    s.assigned = true;
    s.fetchOffset = from;
    s.buffer = [];
    s.hw = -1;
    this.kick();
  }

  async unassign(partition: number): Promise<void> {
    const s = this.slots.get(partition);
    if (s === undefined) return;
    if (s.assigned) {
      s.gen++;
      s.assigned = false;
      s.buffer = [];
    }
    // No new delivery starts for an unassigned slot, so once the running one settled there is none.
    await s.delivering;
  }

  assigned(): number[] {
    return [...this.slots.values()]
      .filter((s) => s.assigned)
      .map((s) => s.partition)
      .sort((a, b) => a - b);
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const s of this.slots.values()) {
      s.gen++;
      s.assigned = false;
      s.buffer = [];
    }
    await Promise.all([...this.slots.values()].map((s) => s.delivering));
    // A connect still running disconnects by itself once it sees `stopped`.
    await this.connecting?.catch(() => undefined);
    const cluster = this.cluster;
    this.cluster = undefined;
    await cluster?.disconnect().catch(() => undefined);
    this.onStopped(this);
  }

  // -----------------------------------------------------------------------------------------------------------
  // scheduling

  private kick(): void {
    if (this.stopped || this.kickPending) return;
    this.kickPending = true;
    setImmediate(() => {
      this.kickPending = false;
      this.schedule();
    });
  }

  private kickAt(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), ms);
    this.timer.unref?.();
  }

  private schedule(): void {
    if (this.stopped) return;
    for (const s of this.slots.values()) if (s.assigned && !s.busy && s.buffer.length > 0) this.deliver(s);

    const hungry = [...this.slots.values()].filter((s) => s.assigned && !s.fetching && s.buffer.length < this.maxRecords);
    if (hungry.length === 0) return;
    if (this.cluster === undefined) {
      this.connect();
      return;
    }
    let meta: PartitionMetadata[];
    try {
      meta = this.cluster.findTopicPartitionMetadata(this.host.topic);
    } catch {
      meta = [];
    }
    const byLeader = new Map<number, Slot[]>();
    let leaderless = false;
    for (const s of hungry) {
      const leader = meta.find((m) => m.partitionId === s.partition)?.leader;
      if (leader === undefined || leader === null || leader < 0) {
        leaderless = true;
        continue;
      }
      const list = byLeader.get(leader) ?? [];
      list.push(s);
      byLeader.set(leader, list);
    }
    if (leaderless) this.refreshSoon();
    const now = Date.now();
    let nextWake = Infinity;
    for (const [leader, list] of byLeader) {
      if (this.inflightLeaders.has(leader)) continue;
      const b = this.backoff.get(leader);
      if (b && b.until > now) {
        nextWake = Math.min(nextWake, b.until - now);
        continue;
      }
      void this.fetch(leader, list, meta.map((m) => ({ partition: m.partitionId, leader: m.leader })));
    }
    if (nextWake < Infinity) this.kickAt(nextWake);
  }

  private connect(): void {
    if (this.connecting || this.stopped) return;
    this.connecting = (async () => {
      const cluster = this.host.newCluster();
      try {
        await cluster.connect();
        await cluster.addTargetTopic(this.host.topic);
      } catch (e) {
        await cluster.disconnect().catch(() => undefined);
        throw e;
      }
      if (this.stopped) {
        await cluster.disconnect().catch(() => undefined);
        return;
      }
      this.cluster = cluster;
      this.connectBackoffMs = FIRST_BACKOFF_MS;
    })()
      .catch((e: unknown) => {
        this.warn(e, 'cannot connect the kafka consumer; retrying');
        const wait = this.connectBackoffMs;
        this.connectBackoffMs = Math.min(MAX_BACKOFF_MS, this.connectBackoffMs * 2);
        this.kickAt(wait);
      })
      .finally(() => {
        this.connecting = undefined;
        this.kick();
      });
  }

  private refreshing = false;
  private refreshSoon(): void {
    if (this.refreshing || !this.cluster) return;
    this.refreshing = true;
    const cluster = this.cluster;
    void cluster
      .refreshMetadata()
      .catch((e: unknown) => this.warn(e, 'cannot refresh kafka metadata'))
      .finally(() => {
        setTimeout(() => {
          this.refreshing = false;
          this.kick();
        }, FIRST_BACKOFF_MS).unref?.();
      });
  }

  // -----------------------------------------------------------------------------------------------------------
  // fetching

  private async fetch(leader: number, list: Slot[], leaders: { partition: number; leader: number }[]): Promise<void> {
    const cluster = this.cluster!;
    this.inflightLeaders.add(leader);
    const gens = list.map((s) => s.gen);
    for (const s of list) s.fetching = true;
    const included = new Set(list.map((s) => s.partition));
    const leaderOf = new Map(leaders.map((l) => [l.partition, l.leader]));
    const backlogWaiting = [...this.slots.values()].some(
      (s) => s.assigned && !included.has(s.partition) && leaderOf.get(s.partition) === leader && s.hw > s.fetchOffset,
    );
    const maxWaitTime = backlogWaiting ? Math.min(SHORT_WAIT_MS, this.host.fetchMaxWaitMs) : this.host.fetchMaxWaitMs;
    try {
      const broker = await cluster.findBroker({ nodeId: leader });
      const res = await broker.fetch({
        replicaId: -1,
        isolationLevel: READ_COMMITTED,
        maxWaitTime,
        minBytes: 1,
        maxBytes: RESPONSE_MAX_BYTES,
        topics: [
          {
            topic: this.host.topic,
            partitions: list.map((s) => ({ partition: s.partition, fetchOffset: String(s.fetchOffset), maxBytes: this.host.partitionMaxBytes })),
          },
        ],
      });
      this.backoff.delete(leader);
      for (const t of res.responses) {
        if (t.topicName !== this.host.topic) continue;
        for (const p of t.partitions) {
          const i = list.findIndex((s) => s.partition === p.partition);
          const s = list[i];
          if (s === undefined || s.gen !== gens[i] || !s.assigned) continue;
          s.hw = Number(p.highWatermark);
          let last = -1;
          for (const m of p.messages) {
            const off = Number(m.offset);
            last = Math.max(last, off);
            // Batches may start before the fetch offset; transaction markers (control records) are not data.
            if (off < s.fetchOffset || m.isControlRecord) continue;
            if (s.buffer.length > 0 && off <= s.buffer[s.buffer.length - 1]!.offset) continue;
            s.buffer.push(toLogRecord(m));
          }
          const tail = s.buffer.length > 0 ? s.buffer[s.buffer.length - 1]!.offset + 1 : s.fetchOffset;
          s.fetchOffset = Math.max(tail, last >= s.fetchOffset ? last + 1 : s.fetchOffset);
        }
      }
    } catch (e) {
      if (!this.stopped) this.fetchFailed(e, leader, list, gens);
    } finally {
      for (const s of list) s.fetching = false;
      this.inflightLeaders.delete(leader);
      this.kick();
    }
  }

  private fetchFailed(e: unknown, leader: number, list: Slot[], gens: number[]): void {
    const kinds = kafkaErrorKinds(e);
    if (kinds.includes('OFFSET_OUT_OF_RANGE')) {
      const partition = (e as KafkaJsErrorLike).partition;
      const i = list.findIndex((s) => s.partition === partition);
      const s = list[i];
      if (s !== undefined && s.gen === gens[i] && s.assigned) {
        void this.failOutOfRange(s, s.gen);
        return;
      }
    }
    const b = this.backoff.get(leader);
    const ms = b ? Math.min(MAX_BACKOFF_MS, b.ms * 2) : FIRST_BACKOFF_MS;
    this.backoff.set(leader, { until: Date.now() + ms, ms });
    this.warn(e, 'kafka fetch failed; retrying', { leader, partitions: list.map((s) => s.partition), retryInMs: ms });
    this.refreshSoon();
  }

  private async failOutOfRange(s: Slot, gen: number): Promise<void> {
    const from = s.fetchOffset;
    let range = '';
    try {
      const o = await this.host.offsets(s.partition);
      range = `, start ${o.start}, end ${o.end}`;
    } catch {
      /* the message just has less detail */
    }
    if (s.gen !== gen || !s.assigned) return;
    s.gen++;
    s.assigned = false;
    s.buffer = [];
    this.report(s.partition, new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot consume records (topic ${this.host.topic}, partition ${s.partition}, offset ${from}${range}): the offset is outside the log`));
  }

  // -----------------------------------------------------------------------------------------------------------
  // delivery

  private deliver(s: Slot): void {
    const gen = s.gen;
    const batch = s.buffer.splice(0, this.maxRecords);
    s.busy = true;
    s.delivering = (async () => {
      try {
        await this.opts.onBatch(s.partition, batch);
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        if (s.gen === gen && s.assigned) {
          s.gen++;
          s.assigned = false;
          s.buffer = [];
        }
        this.report(s.partition, err);
      } finally {
        s.busy = false;
        this.kick();
      }
    })();
  }

  private report(partition: number, err: Error): void {
    try {
      if (this.opts.onError) this.opts.onError(partition, err);
      else this.host.logger.error({ topic: this.host.topic, partition, err: err.message }, 'consumer stopped delivering partition');
    } catch (cbErr) {
      this.host.logger.error({ topic: this.host.topic, partition, err: cbErr instanceof Error ? cbErr.message : String(cbErr) }, 'onError threw');
    }
  }

  private warn(e: unknown, msg: string, extra: Record<string, unknown> = {}): void {
    const now = Date.now();
    const level = now - this.lastWarn > 5000 ? 'warn' : 'debug';
    if (level === 'warn') this.lastWarn = now;
    this.host.logger[level]({ topic: this.host.topic, ...extra, err: e instanceof Error ? e.message : String(e) }, msg);
  }
}
