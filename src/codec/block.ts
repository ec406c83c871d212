/**
 * A stored block: a fixed 76-byte little-endian header (summary statistics so aggregates can skip the
 * body) followed by an encoded body. Layout and a worked example: docs/format/block.md.
 *
 * The CRC covers header and body, so a torn or bit-flipped block fails loudly instead of decoding into
 * plausible garbage. Points keep the order they were given in (log order).
 */

import { crc32 } from 'node:zlib';
import { TsdbError } from '../common/errors.js';
import { GorillaDecoder, GorillaEncoder } from './gorilla.js';

export const BLOCK_MAGIC = 0x4256; // bytes 0x56 0x42, "VB", when read as u16 little-endian
export const BLOCK_VERSION = 1;
export const BLOCK_HEADER_SIZE = 76;
/** Body is a gorilla stream of `count` points. */
export const ENCODING_GORILLA = 1;
/** Body is empty: every value equals `first` bit-for-bit and t[i] = minT + i·step, step = (maxT−minT)/(count−1). */
export const ENCODING_CONST_REGULAR = 2;
/** Timestamps are strictly increasing in stored order, so minT/maxT are the first/last points. */
export const FLAG_STRICTLY_INCREASING = 1;

const OFF = {
  magic: 0,
  version: 2,
  encoding: 3,
  flags: 4,
  count: 8,
  bodyLength: 12,
  minT: 16,
  maxT: 24,
  min: 32,
  max: 40,
  sum: 48,
  first: 56,
  last: 64,
  crc: 72,
} as const;
export const BLOCK_HEADER_OFFSETS = OFF;

const TWO_32 = 4294967296;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export interface BlockHeader {
  version: number;
  encoding: number;
  flags: number;
  count: number;
  minT: number;
  maxT: number;
  /** min/max follow Math.min/Math.max: NaN propagates, -0 < +0. */
  min: number;
  max: number;
  /** Left-to-right float64 sum in stored order. */
  sum: number;
  /** Value at minT (for tied timestamps, the later one in stored order). */
  first: number;
  /** Value at maxT (for tied timestamps, the later one in stored order). */
  last: number;
}

// Reused across calls: blocks are encoded one at a time and the body is copied out immediately.
const scratch = new GorillaEncoder(4096);
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

export function encodeBlock(ts: ArrayLike<number>, vs: ArrayLike<number>): Buffer {
  const n = ts.length;
  if (vs.length !== n) {
    throw new TsdbError('TSDB_ERR_INTERNAL', `cannot encode block (${n} timestamps, ${vs.length} values): lengths differ`);
  }
  let minT = 0;
  let maxT = 0;
  let min = 0;
  let max = 0;
  let sum = 0;
  let firstIdx = -1;
  let lastIdx = -1;
  let increasing = true;
  // Constant-regular candidate: same value bits everywhere and one safe, non-negative step.
  let regular = n > 0;
  let step = 0;
  let vHi = 0;
  let vLo = 0;
  for (let i = 0; i < n; i++) {
    const t = ts[i];
    const v = vs[i];
    if (!Number.isSafeInteger(t)) {
      throw new TsdbError('TSDB_ERR_INTERNAL', `cannot encode block (point ${i} of ${n}): timestamp ${t} is not a safe integer`);
    }
    F64[0] = v;
    if (i === 0) {
      minT = maxT = t;
      min = max = sum = v;
      firstIdx = lastIdx = 0;
      vHi = U32[0];
      vLo = U32[1];
      continue;
    }
    const d = t - ts[i - 1];
    if (d <= 0) increasing = false;
    if (regular) {
      if (i === 1) step = d;
      regular = d === step && d >= 0 && d <= MAX_SAFE && U32[0] === vHi && U32[1] === vLo;
    }
    if (t <= minT) {
      minT = t;
      firstIdx = i;
    }
    if (t >= maxT) {
      maxT = t;
      lastIdx = i;
    }
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  // The decoder recovers step from the span, which must itself be exact.
  if (regular && n > 1 && !(maxT - minT <= MAX_SAFE)) regular = false;

  let body: Uint8Array;
  let encoding: number;
  if (regular) {
    encoding = ENCODING_CONST_REGULAR;
    body = new Uint8Array(0);
  } else {
    scratch.reset();
    for (let i = 0; i < n; i++) scratch.append(ts[i], vs[i]);
    encoding = ENCODING_GORILLA;
    body = scratch.view();
  }

  const out = Buffer.alloc(BLOCK_HEADER_SIZE + body.length);
  out.writeUInt16LE(BLOCK_MAGIC, OFF.magic);
  out[OFF.version] = BLOCK_VERSION;
  out[OFF.encoding] = encoding;
  out[OFF.flags] = increasing ? FLAG_STRICTLY_INCREASING : 0;
  out.writeUInt32LE(n, OFF.count);
  out.writeUInt32LE(body.length, OFF.bodyLength);
  writeInt64LE(out, minT, OFF.minT);
  writeInt64LE(out, maxT, OFF.maxT);
  out.writeDoubleLE(min, OFF.min);
  out.writeDoubleLE(max, OFF.max);
  out.writeDoubleLE(sum, OFF.sum);
  // Straight from the input so NaN payloads reach the header unchanged.
  out.writeDoubleLE(firstIdx >= 0 ? vs[firstIdx] : 0, OFF.first);
  out.writeDoubleLE(lastIdx >= 0 ? vs[lastIdx] : 0, OFF.last);
  out.set(body, BLOCK_HEADER_SIZE);
  out.writeUInt32LE(blockCrc(out), OFF.crc);
  return out;
}

export function decodeBlockHeader(buf: Uint8Array, opts: { verifyCrc?: boolean } = {}): BlockHeader {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < BLOCK_HEADER_SIZE) bad(b, `shorter than the ${BLOCK_HEADER_SIZE}-byte header`);
  const magic = b.readUInt16LE(OFF.magic);
  if (magic !== BLOCK_MAGIC) bad(b, `bad magic 0x${hex(magic, 4)}`);
  const version = b[OFF.version];
  if (version !== BLOCK_VERSION) bad(b, `unsupported version ${version}`);
  const bodyLength = b.readUInt32LE(OFF.bodyLength);
  if (bodyLength !== b.length - BLOCK_HEADER_SIZE) bad(b, `body length ${bodyLength} does not match`);
  if (opts.verifyCrc !== false) {
    const stored = b.readUInt32LE(OFF.crc);
    const computed = blockCrc(b);
    if (stored !== computed) bad(b, `crc mismatch (stored 0x${hex(stored, 8)}, computed 0x${hex(computed, 8)})`);
  }
  const encoding = b[OFF.encoding];
  if (encoding !== ENCODING_GORILLA && encoding !== ENCODING_CONST_REGULAR) bad(b, `unknown encoding ${encoding}`);
  return {
    version,
    encoding,
    flags: b[OFF.flags],
    count: b.readUInt32LE(OFF.count),
    minT: readInt64LE(b, OFF.minT),
    maxT: readInt64LE(b, OFF.maxT),
    min: b.readDoubleLE(OFF.min),
    max: b.readDoubleLE(OFF.max),
    sum: b.readDoubleLE(OFF.sum),
    first: b.readDoubleLE(OFF.first),
    last: b.readDoubleLE(OFF.last),
  };
}

export function decodeBlock(buf: Uint8Array): { header: BlockHeader; ts: number[]; vs: number[] } {
  const header = decodeBlockHeader(buf);
  const { count } = header;
  const ts: number[] = [];
  const vs: number[] = [];
  if (header.encoding === ENCODING_CONST_REGULAR) {
    if (count === 0) bad(buf, 'constant block with no points');
    const span = header.maxT - header.minT;
    const step = count > 1 ? span / (count - 1) : 0;
    if (!Number.isSafeInteger(step) || step < 0) bad(buf, `constant block span ${span} is not ${count - 1} equal steps`);
    for (let i = 0, t = header.minT; i < count; i++, t += step) {
      ts.push(t);
      vs.push(header.first);
    }
    return { header, ts, vs };
  }
  const body = buf.subarray(BLOCK_HEADER_SIZE);
  const dec = new GorillaDecoder(body, count);
  try {
    while (dec.next()) {
      ts.push(dec.t);
      vs.push(dec.v);
    }
  } catch (e) {
    if (e instanceof TsdbError) bad(buf, e.message);
    throw e;
  }
  if (dec.bitsLeft >= 8) bad(buf, `${dec.bitsLeft} bits left after ${count} points`);
  return { header, ts, vs };
}

/** CRC32 of header bytes [0, 72) followed by the body, i.e. everything except the CRC field itself. */
function blockCrc(b: Uint8Array): number {
  const head = crc32(b.subarray(0, OFF.crc));
  return crc32(b.subarray(BLOCK_HEADER_SIZE), head) >>> 0;
}

function writeInt64LE(b: Buffer, t: number, off: number): void {
  const hi = Math.floor(t / TWO_32);
  b.writeUInt32LE(t - hi * TWO_32, off);
  b.writeInt32LE(hi, off + 4);
}

function readInt64LE(b: Buffer, off: number): number {
  return b.readInt32LE(off + 4) * TWO_32 + b.readUInt32LE(off);
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

function bad(buf: Uint8Array, why: string): never {
  throw new TsdbError('TSDB_ERR_STORE_IO', `cannot decode block (${buf.length} bytes): ${why}`, { retriable: false });
}
