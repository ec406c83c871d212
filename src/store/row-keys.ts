/**
 * Row keys of the store (docs/format/rowkey.md). Big-endian everywhere so byte order = numeric order.
 *   O | partition u16                                   → partition state (next offset, flush seq, next series id)
 *   S | partition u16 | seriesId u32                    → canonical series key (UTF-8)
 *   B | partition u16 | seriesId u32 | window u64* | flushSeq u32 → block (docs/format/block.md)
 * (*) window start in ms as a signed int64 with the sign bit flipped, so negative times sort first.
 */

export const PREFIX_STATE = 0x4f; // 'O'
export const PREFIX_SERIES = 0x53; // 'S'
export const PREFIX_BLOCK = 0x42; // 'B'

const TWO_32 = 2 ** 32;

/** Writes a safe integer as int64 big-endian with the sign bit flipped (order-preserving). */
function writeOrderedI64(buf: Buffer, off: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  const lo = v - hi * TWO_32;
  buf.writeUInt32BE(((hi | 0) ^ 0x80000000) >>> 0, off);
  buf.writeUInt32BE(lo >>> 0, off + 4);
}

function readOrderedI64(buf: Buffer, off: number): number {
  const hi = (buf.readUInt32BE(off) ^ 0x80000000) | 0;
  return hi * TWO_32 + buf.readUInt32BE(off + 4);
}

export function stateKey(partition: number): Buffer {
  const k = Buffer.allocUnsafe(3);
  k[0] = PREFIX_STATE;
  k.writeUInt16BE(partition, 1);
  return k;
}

export interface PartitionStateRecord {
  /** Next log offset to apply after a restart. */
  nextOffset: number;
  /** Sequence number the next flush will use. */
  flushSeq: number;
  /** Id the next new series will get. */
  nextSeriesId: number;
}

/** Value of the O key: version u8 | nextOffset u64 | flushSeq u32 | nextSeriesId u32. */
export function encodeState(s: PartitionStateRecord): Buffer {
  const v = Buffer.allocUnsafe(17);
  v[0] = 1;
  v.writeBigUInt64BE(BigInt(s.nextOffset), 1);
  v.writeUInt32BE(s.flushSeq, 9);
  v.writeUInt32BE(s.nextSeriesId, 13);
  return v;
}

export function decodeState(v: Buffer): PartitionStateRecord {
  if (v.length !== 17 || v[0] !== 1) throw new Error(`partition state has ${v.length} bytes, version ${v[0]}; expected 17 bytes, version 1`);
  return { nextOffset: Number(v.readBigUInt64BE(1)), flushSeq: v.readUInt32BE(9), nextSeriesId: v.readUInt32BE(13) };
}

export function seriesKey(partition: number, seriesId: number): Buffer {
  const k = Buffer.allocUnsafe(7);
  k[0] = PREFIX_SERIES;
  k.writeUInt16BE(partition, 1);
  k.writeUInt32BE(seriesId, 3);
  return k;
}

/** [gte, lt) covering every S key of a partition. */
export function seriesRange(partition: number): { gte: Buffer; lt: Buffer } {
  return { gte: seriesKey(partition, 0), lt: partitionPrefixEnd(PREFIX_SERIES, partition) };
}

export function seriesIdOf(key: Buffer): number {
  return key.readUInt32BE(3);
}

export function blockKey(partition: number, seriesId: number, windowStart: number, flushSeq: number): Buffer {
  const k = Buffer.allocUnsafe(19);
  k[0] = PREFIX_BLOCK;
  k.writeUInt16BE(partition, 1);
  k.writeUInt32BE(seriesId, 3);
  writeOrderedI64(k, 7, windowStart);
  k.writeUInt32BE(flushSeq, 15);
  return k;
}

export function decodeBlockKey(k: Buffer): { partition: number; seriesId: number; windowStart: number; flushSeq: number } {
  return { partition: k.readUInt16BE(1), seriesId: k.readUInt32BE(3), windowStart: readOrderedI64(k, 7), flushSeq: k.readUInt32BE(15) };
}

/** [gte, lt) of the blocks of one series whose window starts in [fromWindow, toWindow). */
export function blockRange(partition: number, seriesId: number, fromWindow: number, toWindow: number): { gte: Buffer; lt: Buffer } {
  return { gte: blockKey(partition, seriesId, fromWindow, 0), lt: blockKey(partition, seriesId, toWindow, 0) };
}

/** Smallest key after every key starting with (prefix, partition). */
export function partitionPrefixEnd(prefix: number, partition: number): Buffer {
  if (partition === 0xffff) return Buffer.from([prefix + 1]);
  const k = Buffer.allocUnsafe(3);
  k[0] = prefix;
  k.writeUInt16BE(partition + 1, 1);
  return k;
}

/** Every key range that belongs to a partition (for wiping and snapshots). */
export function partitionRanges(partition: number): Array<{ gte: Buffer; lt: Buffer }> {
  return [PREFIX_STATE, PREFIX_SERIES, PREFIX_BLOCK].map((prefix) => {
    const gte = Buffer.allocUnsafe(3);
    gte[0] = prefix;
    gte.writeUInt16BE(partition, 1);
    return { gte, lt: partitionPrefixEnd(prefix, partition) };
  });
}
