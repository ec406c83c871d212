import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../common/clock.js';
import { TsdbError, asTsdbError } from '../../common/errors.js';
import { createLogger, type Logger } from '../../common/logger.js';
import type { AppendBatch, AppendResult, ConsumeOptions, DeadLetter, LogConsumer, LogRecord, PartitionedLog, PartitionOffsets, ReadOptions } from '../types.js';
import { describeError } from './fs-util.js';
import type { AppendItem } from './group-commit-writer.js';
import { checkOrWriteMeta, lockLogDir } from './log-dir.js';
import { emptyStats, type EmbeddedLogHooks, type EmbeddedLogStats } from './log-stats.js';
import { PartitionLog } from './partition-log.js';
import { TailingConsumer } from './tailing-consumer.js';

export interface EmbeddedLogOptions {
  dir: string;
  partitions: number;
  logger?: Logger;
  clock?: Clock;
  /** A segment rolls before a write would take it past this size (default 64 MiB). */
  segmentBytes?: number;
  /** Per partition; default unlimited. */
  retentionBytes?: number;
  /** By the newest record of a segment; default 7 days. */
  retentionMs?: number;
  /** fdatasync before acknowledging (default true). Off only for tests and benchmarks that accept data loss. */
  fsync?: boolean;
  /** How often retention runs besides on segment roll (default 60 s). */
  retentionCheckMs?: number;
  /** Fault injection for tests. */
  hooks?: EmbeddedLogHooks;
}

/** The embedded log plus what tests and metrics need beyond PartitionedLog. */
export interface EmbeddedLog extends PartitionedLog {
  readonly kind: 'embedded';
  readonly dir: string;
  readonly stats: Readonly<EmbeddedLogStats>;
  /** Runs retention on every partition now; resolves with the number of segments deleted. */
  runRetention(): Promise<number>;
}

const MAX_PARTITIONS = 65536;
const MAX_VALUE_BYTES = 0xffff_ffff;

export function createEmbeddedLog(opts: EmbeddedLogOptions): EmbeddedLog {
  const bad = (why: string): never => {
    throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot create embedded log (dir ${opts.dir}, partitions ${opts.partitions}): ${why}`);
  };
  if (typeof opts.dir !== 'string' || opts.dir === '') bad('dir is required');
  if (!Number.isInteger(opts.partitions) || opts.partitions < 1 || opts.partitions > MAX_PARTITIONS) bad(`partitions must be an integer in 1..${MAX_PARTITIONS}`);
  const positive = (v: number | undefined, name: string): void => {
    if (v !== undefined && !(v > 0)) bad(`${name} must be > 0 (got ${v})`);
  };
  positive(opts.segmentBytes, 'segmentBytes');
  positive(opts.retentionBytes, 'retentionBytes');
  positive(opts.retentionMs, 'retentionMs');
  positive(opts.retentionCheckMs, 'retentionCheckMs');
  return new EmbeddedLogImpl(opts);
}

type State = 'new' | 'opening' | 'open' | 'closing' | 'closed';

class EmbeddedLogImpl implements EmbeddedLog {
  readonly kind = 'embedded' as const;
  readonly partitions: number;
  readonly dir: string;
  readonly stats: EmbeddedLogStats = emptyStats();
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly segmentBytes: number;
  private readonly retentionBytes: number;
  private readonly retentionMs: number;
  private readonly fsync: boolean;
  private readonly retentionCheckMs: number;
  private readonly hooks: EmbeddedLogHooks;
  private state: State = 'new';
  private parts: PartitionLog[] = [];
  private readonly consumers = new Set<TailingConsumer>();
  private timer: NodeJS.Timeout | undefined;
  private unlock: (() => Promise<void>) | undefined;

  constructor(opts: EmbeddedLogOptions) {
    this.dir = opts.dir;
    this.partitions = opts.partitions;
    this.logger = opts.logger ?? createLogger({ name: 'v3-log' });
    this.clock = opts.clock ?? systemClock;
    this.segmentBytes = opts.segmentBytes ?? 64 << 20;
    this.retentionBytes = opts.retentionBytes ?? Infinity;
    this.retentionMs = opts.retentionMs ?? 7 * 24 * 3600 * 1000;
    this.fsync = opts.fsync ?? true;
    this.retentionCheckMs = opts.retentionCheckMs ?? 60_000;
    this.hooks = opts.hooks ?? {};
  }

  async open(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state !== 'new' && this.state !== 'closed') {
      throw new TsdbError('TSDB_ERR_LOG_UNAVAILABLE', `cannot open log (dir ${this.dir}): it is ${this.state}`);
    }
    this.state = 'opening';
    try {
      this.unlock = await lockLogDir(this.dir);
      await checkOrWriteMeta(this.dir, this.partitions, this.fsync);
      const parts: PartitionLog[] = [];
      for (let p = 0; p < this.partitions; p++) {
        parts.push(
          new PartitionLog({
            partition: p,
            root: this.dir,
            segmentBytes: this.segmentBytes,
            fsync: this.fsync,
            logger: this.logger,
            clock: this.clock,
            stats: this.stats,
            hooks: this.hooks,
            onRoll: (partition) => void this.retainPartition(partition),
          }),
        );
      }
      const opened = await Promise.allSettled(parts.map((p) => p.open()));
      const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        await Promise.all(parts.map((p) => p.close().catch(() => undefined)));
        throw failed.reason;
      }
      this.parts = parts;
      this.timer = setInterval(() => void this.runRetention(), this.retentionCheckMs);
      this.timer.unref();
      this.state = 'open';
      const records = parts.reduce((n, p) => n + (p.visibleEnd - p.start), 0);
      this.logger.info({ dir: this.dir, partitions: this.partitions, records }, 'embedded log open');
    } catch (e) {
      this.state = 'new';
      const unlock = this.unlock;
      this.unlock = undefined;
      await unlock?.();
      throw asTsdbError(e, 'TSDB_ERR_LOG_UNAVAILABLE', `cannot open log (dir ${this.dir})`);
    }
  }

  async append(batches: AppendBatch[]): Promise<AppendResult[]> {
    this.checkOpen('append records');
    for (const b of batches) {
      this.partition(b.partition, 'append records');
      if (!Array.isArray(b.values)) throw new TsdbError('TSDB_ERR_INTERNAL', `cannot append records (partition ${b.partition}): values must be an array of Buffers`);
      for (const v of b.values) {
        if (!Buffer.isBuffer(v)) throw new TsdbError('TSDB_ERR_INTERNAL', `cannot append records (partition ${b.partition}): every value must be a Buffer`);
        if (v.length > MAX_VALUE_BYTES) throw new TsdbError('TSDB_ERR_WRITE_TOO_LARGE', `cannot append record (partition ${b.partition}, ${v.length} bytes): over the ${MAX_VALUE_BYTES}-byte frame limit`);
      }
    }
    // Several batches: hold their records invisible until all are durable, so a failure elsewhere can still undo them.
    const held = batches.length > 1;
    const items: (AppendItem | undefined)[] = [];
    const results: AppendResult[] = [];
    let enqueueError: unknown;
    for (const b of batches) {
      const part = this.parts[b.partition]!;
      if (b.values.length === 0) {
        items.push(undefined);
        results.push({ partition: b.partition, baseOffset: part.nextOffset, lastOffset: part.nextOffset - 1 });
        continue;
      }
      try {
        const it = part.writer.enqueue(b.values, held);
        items.push(it);
        results.push({ partition: b.partition, baseOffset: it.baseOffset, lastOffset: it.baseOffset + it.count - 1 });
      } catch (e) {
        enqueueError = e;
        break;
      }
    }
    const settled = await Promise.allSettled(items.map((it) => it?.done));
    const firstFailure = enqueueError ?? settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')?.reason;
    if (firstFailure === undefined) {
      if (held) for (let i = 0; i < items.length; i++) if (items[i]) this.parts[batches[i]!.partition]!.writer.release(items[i]!);
      return results;
    }
    return this.undoPartialAppend(batches, items, settled, firstFailure);
  }

  /**
   * Best effort: a durable batch can only be cut back while it is still the partition's tail; otherwise it
   * stays (a retried request then duplicates it, which point-level last-write-wins absorbs).
   */
  private undoPartialAppend(batches: AppendBatch[], items: (AppendItem | undefined)[], settled: PromiseSettledResult<void>[], cause: unknown): never {
    const rolledBack: number[] = [];
    const kept: number[] = [];
    for (let i = items.length - 1; i >= 0; i--) {
      const it = items[i];
      if (it === undefined || settled[i]!.status !== 'fulfilled') continue;
      const p = batches[i]!.partition;
      if (this.parts[p]!.writer.rollbackOrRelease(it)) rolledBack.push(p);
      else kept.push(p);
    }
    if (kept.length > 0) this.logger.warn({ kept, rolledBack, err: describeError(cause) }, 'append failed on one partition; records already durable elsewhere were kept');
    const base = cause instanceof TsdbError ? cause : asTsdbError(cause, 'TSDB_ERR_LOG_UNAVAILABLE', 'cannot append records');
    if (batches.length === 1) throw base;
    const note = `; rolled back partitions [${rolledBack.reverse().join(', ')}], kept partitions [${kept.reverse().join(', ')}]`;
    throw new TsdbError(base.code, `${base.message}${note}`, { cause: base, retriable: base.retriable, details: base.details });
  }

  async read(partition: number, from: number, opts?: ReadOptions): Promise<LogRecord[]> {
    this.checkOpen('read records');
    return this.partition(partition, 'read records').read(from, opts);
  }

  async offsets(partition: number): Promise<PartitionOffsets> {
    this.checkOpen('read offsets');
    const p = this.partition(partition, 'read offsets');
    return { start: p.start, end: p.visibleEnd };
  }

  consume(opts: ConsumeOptions): LogConsumer {
    this.checkOpen('consume');
    const consumer = new TailingConsumer(
      {
        partitions: this.partitions,
        logger: this.logger,
        read: (p, from, o) => this.read(p, from, o),
        waitBeyond: (p, offset) => this.parts[p]!.waitBeyond(offset),
      },
      opts,
      (c) => this.consumers.delete(c),
    );
    this.consumers.add(consumer);
    return consumer;
  }

  setRetentionFloor(partition: number, offset: number): void {
    this.checkOpen('set retention floor');
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot set retention floor (partition ${partition}, offset ${offset}): not a non-negative integer`);
    }
    this.partition(partition, 'set retention floor').floor = offset;
  }

  async runRetention(): Promise<number> {
    if (this.state !== 'open') return 0;
    let n = 0;
    for (let p = 0; p < this.parts.length; p++) n += await this.retainPartition(p);
    return n;
  }

  private async retainPartition(p: number): Promise<number> {
    try {
      return await this.parts[p]!.applyRetention(this.retentionBytes, this.retentionMs);
    } catch (e) {
      this.logger.warn({ partition: p, err: describeError(e) }, 'retention failed');
      return 0;
    }
  }

  /** Dead letters go to `<dir>/dead-letters/p-<partition>.ndjson`, one JSON object per line (docs/format/segment-log.md). */
  async deadLetter(entries: DeadLetter[]): Promise<void> {
    this.checkOpen('set records aside');
    const dir = join(this.dir, 'dead-letters');
    await mkdir(dir, { recursive: true });
    const byPartition = new Map<number, string[]>();
    for (const e of entries) {
      const line = JSON.stringify({ offset: e.offset, reason: e.reason, message: e.message, time: this.clock.now(), value: e.value.toString('base64') });
      const list = byPartition.get(e.partition) ?? [];
      list.push(line);
      byPartition.set(e.partition, list);
    }
    for (const [p, lines] of byPartition) await appendFile(join(dir, `p-${String(p).padStart(5, '0')}.ndjson`), lines.join('\n') + '\n');
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.consumers].map((c) => c.stop()));
    await Promise.all(this.parts.map((p) => p.close()));
    const unlock = this.unlock;
    this.unlock = undefined;
    await unlock?.();
    this.state = 'closed';
  }

  private checkOpen(what: string): void {
    if (this.state !== 'open') throw new TsdbError('TSDB_ERR_LOG_CLOSED', `cannot ${what} (dir ${this.dir}): the log is ${this.state === 'new' ? 'not open' : this.state}`);
  }

  private partition(partition: number, what: string): PartitionLog {
    const p = Number.isInteger(partition) ? this.parts[partition] : undefined;
    if (p === undefined) throw new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot ${what} (partition ${partition}, partitions ${this.partitions}): no such partition`);
    return p;
  }
}
