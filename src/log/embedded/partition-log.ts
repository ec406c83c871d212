import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.js';
import { TsdbError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { LogRecord, ReadOptions } from '../types.js';
import { describeError, fsyncDir } from './fs-util.js';
import type { EmbeddedLogHooks, EmbeddedLogStats } from './log-stats.js';
import { GroupCommitWriter, type AppendItem } from './group-commit-writer.js';
import { partitionDirName, recoverPartition } from './segment-recovery.js';
import type { Segment } from './segment.js';

export const DEFAULT_MAX_RECORDS = 1000;
export const DEFAULT_MAX_BYTES = 4 << 20;

export interface PartitionLogOptions {
  partition: number;
  root: string;
  segmentBytes: number;
  fsync: boolean;
  logger: Logger;
  clock: Clock;
  stats: EmbeddedLogStats;
  hooks: EmbeddedLogHooks;
  /** Called after a segment roll, so retention runs when there is something new to delete. */
  onRoll(partition: number): void;
}

/**
 * One partition: its segments, offsets, reads, tail waiters and retention. Writes go through GroupCommitWriter.
 *
 * Three ends, always start <= visibleEnd <= durableEnd <= nextOffset:
 * - nextOffset: the next offset handed to an append (assigned synchronously, so queue order = offset order);
 * - durableEnd: everything below is written and fsynced;
 * - visibleEnd: what read/offsets/consume expose. It trails durableEnd only while a multi-partition append is
 *   held (see EmbeddedLog.append): records that may still be rolled back must never reach a consumer.
 */
export class PartitionLog {
  readonly partition: number;
  readonly dir: string;
  segments: Segment[] = [];
  nextOffset = 0;
  durableEnd = 0;
  visibleEnd = 0;
  /** Records below this are materialized elsewhere; retention may delete them. Not persisted: 0 after restart. */
  floor = 0;
  closed = false;
  readonly held = new Set<AppendItem>();
  readonly writer: GroupCommitWriter;
  private waiters = new Set<() => void>();
  private retention: Promise<number> | undefined;
  private retentionAgain = false;

  constructor(readonly opts: PartitionLogOptions) {
    this.partition = opts.partition;
    this.dir = join(opts.root, partitionDirName(opts.partition));
    this.writer = new GroupCommitWriter(this);
  }

  async open(): Promise<void> {
    this.segments = await recoverPartition(this.partition, this.opts.root, this.opts.logger, this.opts.fsync);
    const end = this.active.endOffset;
    this.nextOffset = end;
    this.durableEnd = end;
    this.visibleEnd = end;
  }

  get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  get start(): number {
    return this.segments[0]!.baseOffset;
  }

  /** Recomputes visibleEnd after durableEnd or the held set changed; wakes tailing readers when it grows. */
  updateVisible(): void {
    let v = this.durableEnd;
    for (const it of this.held) if (it.baseOffset < v) v = it.baseOffset;
    if (v > this.visibleEnd) {
      this.visibleEnd = v;
      this.notify();
    }
  }

  private notify(): void {
    if (this.waiters.size === 0) return;
    const ws = this.waiters;
    this.waiters = new Set();
    for (const w of ws) w();
  }

  /** Resolves once records at or after `offset` are visible (or the partition closes). `cancel` resolves it early. */
  waitBeyond(offset: number): { promise: Promise<void>; cancel(): void } {
    if (this.visibleEnd > offset || this.closed) return { promise: Promise.resolve(), cancel: () => undefined };
    let wake!: () => void;
    const promise = new Promise<void>((resolve) => {
      wake = resolve;
    });
    this.waiters.add(wake);
    return {
      promise,
      cancel: () => {
        this.waiters.delete(wake);
        wake();
      },
    };
  }

  async read(from: number, opts: ReadOptions = {}): Promise<LogRecord[]> {
    const end = this.visibleEnd;
    const start = this.start;
    if (!Number.isSafeInteger(from) || from < start || from > end) {
      throw new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot read records (partition ${this.partition}, offset ${from}): the log holds offsets ${start}..${end} (end exclusive)`);
    }
    if (from === end) return [];
    const limits = { maxRecords: Math.max(1, opts.maxRecords ?? DEFAULT_MAX_RECORDS), maxBytes: opts.maxBytes ?? DEFAULT_MAX_BYTES };
    const out: LogRecord[] = [];
    let bytes = 0;
    let off = from;
    while (off < end) {
      const seg = this.findSegment(off);
      if (seg === undefined) {
        if (out.length > 0) break;
        throw new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot read records (partition ${this.partition}, offset ${off}): retention deleted them (start is now ${this.start})`);
      }
      if (off >= seg.endOffset) {
        // Past the good part of a damaged segment: serve what came before, then refuse rather than skip.
        if (out.length > 0) break;
        throw seg.corruptError(off, seg.corrupt?.position ?? seg.size, seg.corrupt?.reason ?? 'no segment holds this offset');
      }
      seg.acquire();
      try {
        bytes = await seg.readInto(off, end, limits, out, bytes);
      } catch (e) {
        if (out.length > 0 && e instanceof TsdbError && e.code === 'TSDB_ERR_LOG_CORRUPT') break;
        throw e;
      } finally {
        seg.release();
      }
      if (out.length >= limits.maxRecords || bytes >= limits.maxBytes) break;
      const next = out.length > 0 ? out[out.length - 1]!.offset + 1 : off;
      if (next === off) break;
      off = next;
    }
    return out;
  }

  private findSegment(offset: number): Segment | undefined {
    const segs = this.segments;
    if (segs.length === 0 || offset < segs[0]!.baseOffset) return undefined;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid]!.baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return segs[lo];
  }

  /**
   * Deletes the oldest sealed segments while every record in them is below the floor AND the partition is over
   * its size budget or the segment's newest record is older than retentionMs. Stops at the first segment that
   * must stay, so the retained offsets remain one contiguous range. The active segment is never deleted.
   */
  async applyRetention(retentionBytes: number, retentionMs: number): Promise<number> {
    // A request while a pass runs (e.g. a roll during slow unlinks) must not be lost: it triggers one more pass.
    if (this.retention) {
      this.retentionAgain = true;
      return this.retention;
    }
    const run = async (): Promise<number> => {
      let n = 0;
      do {
        this.retentionAgain = false;
        n += await this.retentionPass(retentionBytes, retentionMs);
      } while (this.retentionAgain && !this.closed);
      return n;
    };
    this.retention = run().finally(() => {
      this.retention = undefined;
    });
    return this.retention;
  }

  private async retentionPass(retentionBytes: number, retentionMs: number): Promise<number> {
    if (this.closed) return 0;
    const now = this.opts.clock.now();
    let total = 0;
    for (const s of this.segments) total += s.size;
    let n = 0;
    for (; n < this.segments.length - 1; n++) {
      const s = this.segments[n]!;
      const nextBase = this.segments[n + 1]!.baseOffset;
      if (nextBase > this.floor) break;
      const overBudget = total > retentionBytes;
      const expired = s.lastTimestamp === undefined || s.lastTimestamp < now - retentionMs;
      if (!overBudget && !expired) break;
      total -= s.size;
    }
    if (n === 0) return 0;
    // Out of the list first (synchronously), so no new read can find them; in-flight reads keep their handle.
    const victims = this.segments.splice(0, n);
    for (const s of victims) {
      await s.retire();
      try {
        await unlink(s.path);
      } catch (e) {
        this.opts.logger.warn({ partition: this.partition, segment: s.path, err: describeError(e) }, 'cannot delete segment');
      }
      this.opts.stats.segmentsDeleted++;
      this.opts.logger.info({ partition: this.partition, segment: s.path, baseOffset: s.baseOffset, endOffset: s.endOffset }, 'retention deleted segment');
    }
    if (this.opts.fsync) await fsyncDir(this.dir).catch(() => undefined);
    return n;
  }

  /** Lets queued writes finish (their callers get a real answer), then releases waiters and files. */
  async close(): Promise<void> {
    this.closed = true;
    await this.writer.idle();
    await this.retention;
    this.notify();
    await Promise.all(this.segments.map((s) => s.retire()));
  }
}
