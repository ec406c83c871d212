/**
 * Row keys of the store (docs/format/rowkey.md). Big-endian everywhere so byte order = numeric order.
 *   O | partition u16                                   → partition state (next offset, flush seq, next series id)
 *   S | partition u16 | seriesId u32                    → canonical series key (UTF-8)
 *   B | partition u16 | seriesId u32 | window u64* | flushSeq u32 → block (docs/format/block.md)
 *   I | partition u16 | flushSeq u32                    → cold store only: block keys a flush wrote to cold before
 *                                                         its hot batch (an intent; removed once the hot batch commits)
 * (*) window start in ms as a signed int64 with the sign bit flipped, so negative times sort first.
 */

export const PREFIX_STATE = 0x4f; // 'O'
export const PREFIX_SERIES = 0x53; // 'S'
export const PREFIX_BLOCK = 0x42; // 'B'
export const PREFIX_INTENT = 0x49; // 'I'
export const BLOCK_KEY_SIZE = 19;

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

/** prefix u8 | partition u16 | n u32 (S and I keys). */
function partitionU32Key(prefix: number, partition: number, n: number): Buffer {
  const k = Buffer.allocUnsafe(7);
  k[0] = prefix;
  k.writeUInt16BE(partition, 1);
  k.writeUInt32BE(n, 3);
  return k;
}

export function seriesKey(partition: number, seriesId: number): Buffer {
  return partitionU32Key(PREFIX_SERIES, partition, seriesId);
}

/** [gte, lt) covering every S key of a partition. */
export function seriesRange(partition: number): { gte: Buffer; lt: Buffer } {
  return { gte: seriesKey(partition, 0), lt: partitionPrefixEnd(PREFIX_SERIES, partition) };
}

export function seriesIdOf(key: Buffer): number {
  return key.readUInt32BE(3);
}

export function blockKey(partition: number, seriesId: number, windowStart: number, flushSeq: number): Buffer {
  const k = Buffer.allocUnsafe(BLOCK_KEY_SIZE);
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

/** [gte, lt) of every fragment (any flushSeq) of one series' window. */
export function windowRange(partition: number, seriesId: number, windowStart: number): { gte: Buffer; lt: Buffer } {
  // Window starts are integers, so nothing sorts between window + 1 and the window's last possible key.
  return { gte: blockKey(partition, seriesId, windowStart, 0), lt: blockKey(partition, seriesId, windowStart + 1, 0) };
}

/** [gte, lt) of every block key of a partition. */
export function partitionBlockRange(partition: number): { gte: Buffer; lt: Buffer } {
  const gte = Buffer.allocUnsafe(3);
  gte[0] = PREFIX_BLOCK;
  gte.writeUInt16BE(partition, 1);
  return { gte, lt: partitionPrefixEnd(PREFIX_BLOCK, partition) };
}

export function intentKey(partition: number, flushSeq: number): Buffer {
  return partitionU32Key(PREFIX_INTENT, partition, flushSeq);
}

export function intentSeqOf(key: Buffer): number {
  return key.readUInt32BE(3);
}

/** [gte, lt) of every intent key of a partition (cold store). */
export function intentRange(partition: number): { gte: Buffer; lt: Buffer } {
  return { gte: intentKey(partition, 0), lt: partitionPrefixEnd(PREFIX_INTENT, partition) };
}

/** Value of an I key: the block keys, concatenated (each BLOCK_KEY_SIZE bytes). */
export function encodeIntent(keys: Buffer[]): Buffer {
  return Buffer.concat(keys);
}

export function decodeIntent(v: Buffer): Buffer[] {
  if (v.length % BLOCK_KEY_SIZE !== 0) throw new Error(`intent has ${v.length} bytes; expected a multiple of ${BLOCK_KEY_SIZE}`);
  const out: Buffer[] = [];
  for (let o = 0; o < v.length; o += BLOCK_KEY_SIZE) out.push(v.subarray(o, o + BLOCK_KEY_SIZE));
  return out;
}

/** Every key range a partition has in the cold store (for wiping). */
export function coldPartitionRanges(partition: number): Array<{ gte: Buffer; lt: Buffer }> {
  return [partitionBlockRange(partition), intentRange(partition)];
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
