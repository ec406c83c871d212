/**
 * One record on disk: a fixed 25-byte big-endian header followed by the value bytes.
 * The layout is documented byte by byte in docs/format/segment-log.md; change both together.
 *
 *   0  u32  crc32 of bytes [4, 25 + length)  (header after the CRC, then the value)
 *   4  u8   magic/version (FRAME_MAGIC)
 *   5  u32  value length
 *   9  u64  record offset
 *  17  i64  append timestamp (ms since the epoch)
 *  25  ...  value
 */
import { crc32 } from 'node:zlib';

export const FRAME_MAGIC = 0xe1;
export const FRAME_HEADER_BYTES = 25;
/** The CRC covers everything after itself, so a frame with a damaged magic or length is also caught. */
export const FRAME_CRC_START = 4;

const TWO_32 = 0x1_0000_0000;

export interface FrameHeader {
  crc: number;
  magic: number;
  length: number;
  offset: number;
  timestamp: number;
}

/** Where index marks fall inside an encoded batch: pairs of (record index, byte position in the batch). */
export interface EncodedFrames {
  buffer: Buffer;
  /** Flattened [recordIndex, position, recordIndex, position, ...]; always starts with [0, 0]. */
  marks: number[];
}

export function frameBytes(valueLength: number): number {
  return FRAME_HEADER_BYTES + valueLength;
}

/**
 * Encodes consecutive records into ONE buffer so a whole batch costs one allocation and one write.
 * `markEvery` controls how densely the caller's sparse index can be populated without a second pass.
 */
export function encodeFrames(values: readonly Buffer[], baseOffset: number, timestamp: number, markEvery = 4096): EncodedFrames {
  let total = 0;
  for (const v of values) total += FRAME_HEADER_BYTES + v.length;
  const buffer = Buffer.allocUnsafe(total);
  const marks: number[] = [];
  let pos = 0;
  let lastMark = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (pos - lastMark >= markEvery) {
      marks.push(i, pos);
      lastMark = pos;
    }
    writeHeader(buffer, pos, v.length, baseOffset + i, timestamp);
    v.copy(buffer, pos + FRAME_HEADER_BYTES);
    const end = pos + FRAME_HEADER_BYTES + v.length;
    buffer.writeUInt32BE(crc32(buffer.subarray(pos + FRAME_CRC_START, end)), pos);
    pos = end;
  }
  return { buffer, marks };
}

/** Encodes a single record; used by the golden-fixture test and tools. */
export function encodeFrame(value: Buffer, offset: number, timestamp: number): Buffer {
  return encodeFrames([value], offset, timestamp).buffer;
}

function writeHeader(buf: Buffer, pos: number, length: number, offset: number, timestamp: number): void {
  buf[pos + 4] = FRAME_MAGIC;
  buf.writeUInt32BE(length, pos + 5);
  // Split into two u32 halves: offsets and ms timestamps fit in 53 bits, and BigInt would cost an allocation per record.
  buf.writeUInt32BE(Math.floor(offset / TWO_32), pos + 9);
  buf.writeUInt32BE(offset >>> 0, pos + 13);
  const hi = Math.floor(timestamp / TWO_32);
  buf.writeInt32BE(hi, pos + 17);
  buf.writeUInt32BE(timestamp - hi * TWO_32, pos + 21);
}

/** Reads a header; the caller must have checked that FRAME_HEADER_BYTES are available at `pos`. */
export function readHeader(buf: Buffer, pos: number): FrameHeader {
  return {
    crc: buf.readUInt32BE(pos),
    magic: buf[pos + 4]!,
    length: buf.readUInt32BE(pos + 5),
    offset: buf.readUInt32BE(pos + 9) * TWO_32 + buf.readUInt32BE(pos + 13),
    timestamp: buf.readInt32BE(pos + 17) * TWO_32 + buf.readUInt32BE(pos + 21),
  };
}

/** True when the frame at `pos` (header + value fully present in `buf`) matches its CRC. */
export function frameCrcOk(buf: Buffer, pos: number, header: FrameHeader): boolean {
  const end = pos + FRAME_HEADER_BYTES + header.length;
  return crc32(buf.subarray(pos + FRAME_CRC_START, end)) === header.crc;
}
