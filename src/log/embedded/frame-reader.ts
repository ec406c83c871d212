import type { FileHandle } from 'node:fs/promises';
import { readAt } from './fs-util.js';
import { FRAME_HEADER_BYTES, FRAME_MAGIC, readHeader, type FrameHeader } from './record-frame.js';

export type FrameStep =
  | { kind: 'frame'; header: FrameHeader; buf: Buffer; at: number; position: number }
  | { kind: 'end' }
  | { kind: 'bad'; position: number; reason: string };

/**
 * Walks frames sequentially through large chunked reads (one syscall per chunk, not per record).
 * Only structural checks happen here (room for a header, magic, room for the value); offset sequence and
 * CRC are the caller's, because recovery and reads react differently to them.
 * Frames handed out are views into the chunk: no copy per record.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private cur = 0;

  constructor(
    private readonly handle: FileHandle,
    /** Absolute file position of the next frame. */
    public position: number,
    /** Absolute file position where valid data stops (file size for recovery, known-good size for reads). */
    private readonly limit: number,
    private readonly chunkBytes: number,
  ) {}

  async next(): Promise<FrameStep> {
    const pos = this.position;
    const left = this.limit - pos;
    if (left <= 0) return { kind: 'end' };
    if (left < FRAME_HEADER_BYTES) return { kind: 'bad', position: pos, reason: `partial header (${left} of ${FRAME_HEADER_BYTES} bytes)` };
    if (!(await this.ensure(FRAME_HEADER_BYTES))) return { kind: 'bad', position: pos, reason: 'file is shorter than expected' };
    const header = readHeader(this.buf, this.cur);
    // Checked before trusting `length`: a garbage length must not drive a huge allocation.
    if (header.magic !== FRAME_MAGIC) return { kind: 'bad', position: pos, reason: `bad magic 0x${header.magic.toString(16)}` };
    const size = FRAME_HEADER_BYTES + header.length;
    if (size > left) return { kind: 'bad', position: pos, reason: `partial value (${left - FRAME_HEADER_BYTES} of ${header.length} bytes)` };
    if (!(await this.ensure(size))) return { kind: 'bad', position: pos, reason: 'file is shorter than expected' };
    const at = this.cur;
    const buf = this.buf;
    this.cur += size;
    this.position += size;
    return { kind: 'frame', header, buf, at, position: pos };
  }

  private async ensure(n: number): Promise<boolean> {
    if (this.buf.length - this.cur >= n) return true;
    const want = Math.min(this.limit - this.position, Math.max(this.chunkBytes, n));
    this.buf = await readAt(this.handle, this.position, want);
    this.cur = 0;
    return this.buf.length >= n;
  }
}
