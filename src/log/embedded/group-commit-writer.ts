import { TsdbError } from '../../common/errors.js';
import { describeError, fsyncDir, writeFully } from './fs-util.js';
import type { PartitionLog } from './partition-log.js';
import { encodeFrames } from './record-frame.js';
import { INDEX_INTERVAL_BYTES, Segment } from './segment.js';

/** Linux IOV_MAX; one round is one writev. */
const MAX_ROUND_ITEMS = 1024;
const NO_BYTES = Buffer.alloc(0);

/** One append batch on its way to disk. Its offsets are fixed when it is queued. */
export interface AppendItem {
  kind: 'append';
  baseOffset: number;
  count: number;
  timestamp: number;
  frames: Buffer;
  marks: number[];
  /** Part of a multi-partition append: stays invisible to readers until released or rolled back. */
  held: boolean;
  /** Where it landed; set once durable. */
  segment: Segment | undefined;
  position: number;
  done: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}

/** Cuts a segment back to `position` (rolling back a held append). Queued like a write so it is ordered with them. */
interface TruncateOp {
  kind: 'truncate';
  segment: Segment;
  position: number;
  baseOffset: number;
}

/**
 * Group commit for one partition: while a write+fsync is in flight, new appends queue up; the next round
 * takes all of them (up to the segment boundary) and costs one writev and one fdatasync. Throughput under
 * concurrency then scales with the batch a round carries instead of with the fsync latency.
 */
export class GroupCommitWriter {
  private queue: (AppendItem | TruncateOp)[] = [];
  private draining = false;
  private idleWaiters: (() => void)[] = [];
  /** Set after a failure that leaves the file in an unknown state (fsync error, failed truncation). */
  failure: TsdbError | undefined;

  constructor(private readonly p: PartitionLog) {}

  /** Assigns offsets and queues the batch. Throws (synchronously) when the partition cannot take writes. */
  enqueue(values: readonly Buffer[], held: boolean): AppendItem {
    const p = this.p;
    if (p.closed) throw new TsdbError('TSDB_ERR_LOG_CLOSED', `cannot append records (partition ${p.partition}): the log is closed`);
    if (this.failure) throw this.failure;
    const baseOffset = p.nextOffset;
    p.nextOffset += values.length;
    const timestamp = p.opts.clock.now();
    const { buffer, marks } = encodeFrames(values, baseOffset, timestamp, INDEX_INTERVAL_BYTES);
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const item: AppendItem = { kind: 'append', baseOffset, count: values.length, timestamp, frames: buffer, marks, held, segment: undefined, position: 0, done, resolve, reject };
    if (held) p.held.add(item);
    this.queue.push(item);
    p.opts.stats.appendBatches++;
    p.opts.stats.recordsAppended += values.length;
    this.kick();
    return item;
  }

  /**
   * Undoes a durable held append if nothing was appended after it; otherwise just makes it visible.
   * Returns whether it was rolled back.
   */
  rollbackOrRelease(item: AppendItem): boolean {
    const p = this.p;
    const end = item.baseOffset + item.count;
    if (item.held && !p.closed && !this.failure && item.segment === p.active && p.nextOffset === end && p.durableEnd === end) {
      p.nextOffset = item.baseOffset;
      p.durableEnd = item.baseOffset;
      p.held.delete(item);
      this.queue.push({ kind: 'truncate', segment: item.segment, position: item.position, baseOffset: item.baseOffset });
      p.opts.stats.rollbacks++;
      this.kick();
      return true;
    }
    this.release(item);
    return false;
  }

  release(item: AppendItem): void {
    if (this.p.held.delete(item)) this.p.updateVisible();
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.draining && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = true;
    // Start on a microtask so appends issued in the same tick share the first round too.
    queueMicrotask(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        if (head.kind === 'truncate') {
          this.queue.shift();
          await this.truncate(head);
        } else {
          await this.writeRound();
        }
      }
    } catch (e) {
      // Not reached by design (every step handles its own errors); never leave callers hanging if it is.
      this.rejectQueued(new TsdbError('TSDB_ERR_INTERNAL', `cannot append records (partition ${this.p.partition}): ${describeError(e)}`, { cause: e }));
    } finally {
      this.draining = false;
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }

  private async writeRound(): Promise<void> {
    const p = this.p;
    const { segmentBytes, fsync, stats, hooks } = p.opts;
    if (this.failure) return this.rejectQueued(this.failure);
    let active = p.active;
    const first = this.queue[0] as AppendItem;
    if (active.size > 0 && active.size + first.frames.length > segmentBytes) {
      try {
        active = await this.roll(first.baseOffset);
      } catch (e) {
        return this.rejectQueued(
          new TsdbError('TSDB_ERR_LOG_UNAVAILABLE', `cannot roll segment (partition ${p.partition}, base offset ${first.baseOffset}): ${describeError(e)}`, { cause: e }),
        );
      }
    }
    const round: AppendItem[] = [];
    const bufs: Buffer[] = [];
    let bytes = 0;
    while (this.queue.length > 0 && round.length < MAX_ROUND_ITEMS) {
      const it = this.queue[0]!;
      if (it.kind !== 'append') break;
      if (round.length > 0 && active.size + bytes + it.frames.length > segmentBytes) break;
      this.queue.shift();
      round.push(it);
      bufs.push(it.frames);
      bytes += it.frames.length;
    }
    const position = active.size;
    let step = 'write';
    try {
      await hooks.beforeWrite?.(p.partition);
      await writeFully(active.handle, bufs, position);
      stats.writeCount++;
      stats.bytesWritten += bytes;
      step = 'fdatasync';
      await hooks.beforeFsync?.(p.partition);
      if (fsync) {
        await active.handle.datasync();
        stats.fsyncCount++;
      }
    } catch (e) {
      return this.failRound(round, active, position, step, e);
    }
    let pos = position;
    let ts = active.lastTimestamp ?? -Infinity;
    for (const it of round) {
      it.segment = active;
      it.position = pos;
      for (let k = 0; k < it.marks.length; k += 2) active.addMark(it.baseOffset + it.marks[k]!, pos + it.marks[k + 1]!);
      pos += it.frames.length;
      if (it.timestamp > ts) ts = it.timestamp;
      it.frames = NO_BYTES;
    }
    const last = round[round.length - 1]!;
    active.size = pos;
    active.endOffset = last.baseOffset + last.count;
    active.lastTimestamp = ts;
    p.durableEnd = active.endOffset;
    p.updateVisible();
    for (const it of round) it.resolve();
  }

  private async roll(baseOffset: number): Promise<Segment> {
    const p = this.p;
    const seg = await Segment.create(p.partition, p.dir, baseOffset);
    try {
      if (p.opts.fsync) await fsyncDir(p.dir);
    } catch (e) {
      await seg.retire();
      throw e;
    }
    p.segments.push(seg);
    p.opts.stats.segmentsRolled++;
    p.opts.onRoll(p.partition);
    return seg;
  }

  /**
   * Every queued append got its offsets assuming this round would land, so all of them are refused, and the
   * file is cut back to where the round started. After a failed fdatasync the page cache can no longer be
   * trusted (the kernel may have dropped the dirty pages), so the partition refuses writes until reopened.
   */
  private async failRound(round: AppendItem[], seg: Segment, position: number, step: string, e: unknown): Promise<void> {
    const p = this.p;
    const first = round[0]!;
    const last = round[round.length - 1]!;
    const err = new TsdbError(
      'TSDB_ERR_LOG_UNAVAILABLE',
      `cannot append records (partition ${p.partition}, offsets ${first.baseOffset}..${last.baseOffset + last.count - 1}, position ${position}): ${step} failed: ${describeError(e)}`,
      { cause: e },
    );
    const victims = [...round, ...this.takeQueuedAppends()];
    p.nextOffset = p.durableEnd;
    for (const it of victims) p.held.delete(it);
    try {
      await seg.handle.truncate(position);
      if (p.opts.fsync) await seg.handle.datasync();
    } catch (te) {
      this.failure = new TsdbError('TSDB_ERR_LOG_UNAVAILABLE', `cannot append records (partition ${p.partition}): truncating a failed write at position ${position} failed too (${describeError(te)}); reopen the log`, { cause: te });
    }
    if (step === 'fdatasync') {
      this.failure ??= new TsdbError('TSDB_ERR_LOG_UNAVAILABLE', `cannot append records (partition ${p.partition}): an fdatasync failed (${describeError(e)}); reopen the log`, { cause: e });
    }
    p.opts.logger.error({ partition: p.partition, offset: first.baseOffset, position, step, err: describeError(e), writable: this.failure === undefined }, 'log write failed');
    for (const it of victims) it.reject(err);
    p.updateVisible();
  }

  private async truncate(op: TruncateOp): Promise<void> {
    const p = this.p;
    try {
      await op.segment.handle.truncate(op.position);
      if (p.opts.fsync) await op.segment.handle.datasync();
      op.segment.size = op.position;
      op.segment.endOffset = op.baseOffset;
      op.segment.dropMarksFrom(op.baseOffset);
    } catch (e) {
      this.failure = new TsdbError('TSDB_ERR_LOG_UNAVAILABLE', `cannot roll back records (partition ${p.partition}, offset ${op.baseOffset}, position ${op.position}): ${describeError(e)}; reopen the log`, { cause: e });
      p.opts.logger.error({ partition: p.partition, offset: op.baseOffset, position: op.position, err: describeError(e) }, 'rollback truncation failed');
      this.rejectQueued(this.failure);
    }
  }

  private takeQueuedAppends(): AppendItem[] {
    const appends = this.queue.filter((q): q is AppendItem => q.kind === 'append');
    this.queue = this.queue.filter((q) => q.kind !== 'append');
    return appends;
  }

  /** Only called between rounds (nothing in flight), so every assigned-but-unwritten offset can be handed out again. */
  private rejectQueued(err: TsdbError): void {
    this.p.nextOffset = this.p.durableEnd;
    for (const it of this.takeQueuedAppends()) {
      this.p.held.delete(it);
      it.reject(err);
    }
    this.p.updateVisible();
  }
}
