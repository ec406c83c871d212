import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { TsdbError } from '../../common/errors.js';
import type { LogRecord } from '../types.js';
import { FrameReader } from './frame-reader.js';
import { FRAME_HEADER_BYTES, frameCrcOk } from './record-frame.js';

/** Byte distance between sparse-index marks: a read scans at most about this much to find its first record. */
export const INDEX_INTERVAL_BYTES = 4096;

const SEGMENT_NAME = /^(\d{20})\.log$/;

export function segmentFileName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, '0')}.log`;
}

export function parseSegmentFileName(name: string): number | undefined {
  const m = SEGMENT_NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Where valid data of a sealed segment stops, found on open. Reads must not go past it. */
export interface SegmentCorruption {
  offset: number;
  position: number;
  reason: string;
}

export interface ReadLimits {
  maxRecords: number;
  maxBytes: number;
}

/**
 * One segment file. Shares one FileHandle between the writer (active segment only) and readers.
 * Retention can delete a segment while a read is in flight, so readers hold a reference and the handle is
 * closed only when the last one lets go (the unlinked file stays readable until then).
 */
export class Segment {
  /** Bytes of valid frames: the next write position of the active segment. */
  size: number;
  /** The offset after the last valid record (== baseOffset when empty). */
  endOffset: number;
  /** Newest append timestamp in the segment (max, not last); age-based retention goes by it. */
  lastTimestamp: number | undefined;
  corrupt: SegmentCorruption | undefined;
  private readonly idxOffsets: number[] = [];
  private readonly idxPositions: number[] = [];
  private refs = 0;
  private retired = false;
  private closing: Promise<void> | undefined;

  constructor(
    readonly partition: number,
    readonly baseOffset: number,
    readonly path: string,
    readonly handle: FileHandle,
    size = 0,
  ) {
    this.size = size;
    this.endOffset = baseOffset;
  }

  static async create(partition: number, dir: string, baseOffset: number): Promise<Segment> {
    const path = join(dir, segmentFileName(baseOffset));
    // 'wx+': never clobber an existing segment; a name clash means the in-memory state is wrong.
    const handle = await open(path, 'wx+');
    return new Segment(partition, baseOffset, path, handle);
  }

  /** Adds a sparse-index mark unless the previous one is closer than INDEX_INTERVAL_BYTES. */
  addMark(offset: number, position: number): void {
    const n = this.idxPositions.length;
    if (n > 0 && position - this.idxPositions[n - 1]! < INDEX_INTERVAL_BYTES) return;
    this.idxOffsets.push(offset);
    this.idxPositions.push(position);
  }

  /** Drops marks at or after `offset` (used when the tail of the segment is truncated). */
  dropMarksFrom(offset: number): void {
    while (this.idxOffsets.length > 0 && this.idxOffsets[this.idxOffsets.length - 1]! >= offset) {
      this.idxOffsets.pop();
      this.idxPositions.pop();
    }
  }

  /** The indexed record at or before `offset`. */
  locate(offset: number): { offset: number; position: number } {
    const offs = this.idxOffsets;
    let lo = 0;
    let hi = offs.length - 1;
    if (hi < 0 || offs[0]! > offset) return { offset: this.baseOffset, position: 0 };
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (offs[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { offset: offs[lo]!, position: this.idxPositions[lo]! };
  }

  /**
   * Appends records [from, min(stop, endOffset)) to `out` until a limit is hit. Returns the value bytes added.
   * Throws TSDB_ERR_LOG_CORRUPT when a frame inside the known-good range no longer checks out.
   */
  async readInto(from: number, stop: number, limits: ReadLimits, out: LogRecord[], bytesSoFar: number): Promise<number> {
    const last = Math.min(stop, this.endOffset);
    const mark = this.locate(from);
    // Size the first read to what the limits will likely take (by this segment's average frame), so a tailing
    // reader does not pull a full MiB from the page cache to return a handful of records.
    const count = this.endOffset - this.baseOffset;
    const avgFrame = count > 0 ? this.size / count : 256;
    const expectBytes = Math.min(limits.maxRecords * avgFrame, limits.maxBytes + avgFrame + FRAME_HEADER_BYTES);
    const chunk = Math.min(1 << 20, Math.max(16 << 10, Math.ceil(expectBytes + (from - mark.offset) * avgFrame)));
    const reader = new FrameReader(this.handle, mark.position, this.size, chunk);
    let expected = mark.offset;
    let bytes = bytesSoFar;
    while (expected < last) {
      const step = await reader.next();
      if (step.kind !== 'frame') throw this.corruptError(expected, step.kind === 'bad' ? step.position : reader.position, step.kind === 'bad' ? step.reason : 'unexpected end of segment');
      const h = step.header;
      if (h.offset !== expected) throw this.corruptError(expected, step.position, `found offset ${h.offset}`);
      expected++;
      if (h.offset < from) continue;
      if (!frameCrcOk(step.buf, step.at, h)) throw this.corruptError(h.offset, step.position, 'CRC mismatch');
      const start = step.at + FRAME_HEADER_BYTES;
      out.push({ offset: h.offset, value: step.buf.subarray(start, start + h.length), timestamp: h.timestamp });
      bytes += h.length;
      if (out.length >= limits.maxRecords || bytes >= limits.maxBytes) break;
    }
    return bytes;
  }

  corruptError(offset: number, position: number, reason: string): TsdbError {
    return new TsdbError('TSDB_ERR_LOG_CORRUPT', `cannot read record (partition ${this.partition}, offset ${offset}, segment ${this.path}, position ${position}): ${reason}`);
  }

  acquire(): void {
    this.refs++;
  }

  release(): void {
    this.refs--;
    if (this.refs === 0 && this.retired) void this.closeHandle();
  }

  /** No new readers will come; close the handle once the current ones are done. */
  retire(): Promise<void> {
    this.retired = true;
    if (this.refs === 0) return this.closeHandle();
    return Promise.resolve();
  }

  private closeHandle(): Promise<void> {
    this.closing ??= this.handle.close().catch(() => undefined);
    return this.closing;
  }
}
