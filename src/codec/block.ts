/**
 * A stored block: a header (summary statistics so aggregates can skip the body) followed by an encoded body.
 * Hot blocks use the fixed 76-byte little-endian version-1 header; sealed blocks (written once, read many
 * times) use the variable-length version-2 header of block-header-compact.ts, or version 3 when they carry rollups
 * (block-rollup.ts). Layout and worked examples: docs/format/block.md.
 *
 * The encoder picks the body per block: empty when values are constant and timestamps a fixed step,
 * otherwise columnar (decimal-scaled integers, range-coded) when the values have an exact decimal form,
 * gorilla otherwise or when it is smaller; cold blocks additionally try every candidate and deflate/brotli.
 *
 * The CRC covers header and body, so a torn or bit-flipped block fails loudly instead of decoding into
 * plausible garbage. Points keep the order they were given in (log order).
 */

import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants, crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { TsdbError } from '../common/errors.js';
import { decodeColumnar, encodeColumnar, planColumnar } from './block-columnar.js';
import { BLOCK_VERSION_COMPACT, BLOCK_VERSION_ROLLUP, decodeCompactHeader, encodeCompactHeader } from './block-header-compact.js';
import { computeRollups, decodeRollupSection, encodeRollupSection, type Rollup } from './block-rollup.js';
import { GorillaDecoder, GorillaEncoder } from './gorilla.js';

export const BLOCK_MAGIC = 0x4256; // bytes 0x56 0x42, "VB", when read as u16 little-endian
export const BLOCK_VERSION = 1;
export { BLOCK_VERSION_COMPACT, BLOCK_VERSION_ROLLUP, type Rollup };
/** Size of the version-1 (hot) header; a sealed block's header size comes from blockHeaderSize(). */
export const BLOCK_HEADER_SIZE = 76;
/** Body is a gorilla stream of `count` points. */
export const ENCODING_GORILLA = 1;
/** Body is empty: every value equals `first` bit-for-bit and t[i] = minT + i·step, step = (maxT−minT)/(count−1). */
export const ENCODING_CONST_REGULAR = 2;
/** Body holds timestamps and values as columns, integers range-coded (§5 of the format page). */
export const ENCODING_COLUMNAR = 3;
/** Body is `algorithm, inner encoding, compressed inner body` (cold blocks, §6). */
export const ENCODING_COMPRESSED = 4;
export const COMPRESSION_DEFLATE = 1;
export const COMPRESSION_BROTLI = 2;
/** Timestamps are strictly increasing in stored order, so minT/maxT are the first/last points. */
export const FLAG_STRICTLY_INCREASING = 1;
/**
 * Written by compaction or the cold tier (docs/storage-lifecycle.md): the one block of its window, not a flush
 * fragment. Such blocks carry the compact version-2 header.
 */
export const FLAG_SEALED = 2;

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

export interface EncodeBlockOptions {
  /**
   * Cold blocks are written once and read rarely: try every body encoding instead of the best guess, and
   * wrap the body in deflate or brotli when that makes it smaller.
   */
  cold?: boolean;
  /** Sets FLAG_SEALED (compaction's output) and writes the compact version-2 header. */
  sealed?: boolean;
  /**
   * Sealed only: rollup resolutions in ms (positive whole seconds). Each that splits the block into two or more
   * buckets is written in a rollup section (header version 3, docs/format/block.md §9).
   */
  rollups?: readonly number[];
  /** Gorilla body only, no columnar trial: for fragments that compaction always rewrites (cold-window flushes). */
  gorilla?: boolean;
}

// Reused across calls: blocks are encoded one at a time and the body is copied out immediately.
const scratch = new GorillaEncoder(4096);
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

export function encodeBlock(ts: ArrayLike<number>, vs: ArrayLike<number>, opts: EncodeBlockOptions = {}): Buffer {
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
  // Fixed-step timestamps (one safe, non-negative step) and bit-identical values are tracked separately.
  let regular = n > 0;
  let constant = n > 0;
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
      regular = d === step && d >= 0 && d <= MAX_SAFE;
    }
    if (constant) constant = U32[0] === vHi && U32[1] === vLo;
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

  const body: Body =
    regular && constant
      ? { encoding: ENCODING_CONST_REGULAR, a: NO_BYTES, b: null, length: 0 }
      : n === 0
        ? { encoding: ENCODING_GORILLA, a: NO_BYTES, b: null, length: 0 }
        : chooseBody(ts, vs, minT, regular, constant, opts.cold === true, opts.gorilla === true);
  const flags = (increasing ? FLAG_STRICTLY_INCREASING : 0) | (opts.sealed === true ? FLAG_SEALED : 0);
  // Straight from the input so NaN payloads reach the header unchanged.
  const first = firstIdx >= 0 ? vs[firstIdx] : 0;
  const last = lastIdx >= 0 ? vs[lastIdx] : 0;

  if (opts.sealed === true) {
    let section: Uint8Array | undefined;
    if (opts.rollups !== undefined && opts.rollups.length > 0 && n > 1) {
      const rollups = computeRollups(ts, vs, opts.rollups);
      if (rollups.length > 0) section = encodeRollupSection(rollups, { minT, maxT, sum });
    }
    const version = section ? BLOCK_VERSION_ROLLUP : BLOCK_VERSION_COMPACT;
    const head = encodeCompactHeader({ version, encoding: body.encoding, flags, count: n, minT, maxT, min, max, sum, first, last }, section);
    const out = Buffer.allocUnsafe(head.length + 4 + body.length);
    out.set(head, 0);
    out.set(body.a, head.length + 4);
    if (body.b !== null) out.set(body.b, head.length + 4 + body.a.length);
    out.writeUInt32LE(crcAround(out, head.length), head.length);
    return out;
  }

  return hotBlock(body, { flags, count: n, minT, maxT, min, max, sum, first, last });
}

/** A version-1 (hot header) block around `body` (also used by block-stats.ts). */
export function hotBlock(body: Body, h: Omit<BlockHeader, 'version' | 'encoding'>): Buffer {
  const out = Buffer.alloc(BLOCK_HEADER_SIZE + body.length);
  out.writeUInt16LE(BLOCK_MAGIC, OFF.magic);
  out[OFF.version] = BLOCK_VERSION;
  out[OFF.encoding] = body.encoding;
  out[OFF.flags] = h.flags;
  out.writeUInt32LE(h.count, OFF.count);
  out.writeUInt32LE(body.length, OFF.bodyLength);
  writeInt64LE(out, h.minT, OFF.minT);
  writeInt64LE(out, h.maxT, OFF.maxT);
  out.writeDoubleLE(h.min, OFF.min);
  out.writeDoubleLE(h.max, OFF.max);
  out.writeDoubleLE(h.sum, OFF.sum);
  out.writeDoubleLE(h.first, OFF.first);
  out.writeDoubleLE(h.last, OFF.last);
  out.set(body.a, BLOCK_HEADER_SIZE);
  if (body.b !== null) out.set(body.b, BLOCK_HEADER_SIZE + body.a.length);
  out.writeUInt32LE(blockCrc(out), OFF.crc);
  return out;
}

/** A body as up to two byte ranges (head and stream), so the hot path copies straight into the block. */
export interface Body {
  encoding: number;
  a: Uint8Array;
  b: Uint8Array | null;
  length: number;
}

export const NO_BYTES = new Uint8Array(0);
const GORILLA_TRIAL_BYTES = 4;

/**
 * Hot: the columnar body with the value mode the cost proxy ranks first; gorilla only when columnar does not
 * apply or came out at GORILLA_TRIAL_BYTES per point or more (high-entropy values, where gorilla can win;
 * below that columnar wins in every data set measured, and the second encode would double the cost). Cold: every
 * candidate; a winning gorilla body then also through deflate and brotli; the smallest wins. Bodies may be views of scratch
 * buffers, valid until the next encode.
 */
function chooseBody(ts: ArrayLike<number>, vs: ArrayLike<number>, minT: number, regular: boolean, constant: boolean, cold: boolean, gorillaOnly = false): Body {
  const n = ts.length;
  const plan = gorillaOnly ? null : planColumnar(ts, vs, minT, regular, constant);
  let best: Body | null = null;
  if (plan !== null) {
    const modes = cold ? plan.valueModes.length : 1;
    for (let k = 0; k < modes; k++) {
      const { head, stream } = encodeColumnar(ts, minT, plan, plan.valueModes[k]);
      const length = head.length + stream.length;
      if (best !== null && length >= best.length) continue;
      // Later modes reuse the scratch buffers, so a candidate that may be beaten is copied.
      best = { encoding: ENCODING_COLUMNAR, a: cold ? concat(head, stream) : head, b: cold ? null : stream, length };
    }
  }
  if (best === null || cold || best.length >= GORILLA_TRIAL_BYTES * n) {
    scratch.reset();
    for (let i = 0; i < n; i++) scratch.append(ts[i], vs[i]);
    const g = scratch.view();
    if (best === null || g.length < best.length) best = { encoding: ENCODING_GORILLA, a: g, b: null, length: g.length };
  }
  // Range-coded bodies are at their order-0 entropy and their bytes do not repeat even where the data does,
  // so general-purpose compression only ever pays off on gorilla bodies (measured: never on columnar ones).
  if (cold && best.encoding === ENCODING_GORILLA) {
    const inner = best.a;
    const innerEncoding = best.encoding;
    for (const algo of [COMPRESSION_DEFLATE, COMPRESSION_BROTLI]) {
      const packed = compress(algo, inner);
      if (packed.length + 2 >= best.length) continue;
      best = { encoding: ENCODING_COMPRESSED, a: Uint8Array.of(algo, innerEncoding), b: packed, length: packed.length + 2 };
    }
  }
  return best;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function compress(algo: number, body: Uint8Array): Uint8Array {
  if (algo === COMPRESSION_DEFLATE) return deflateRawSync(body, { level: 9 });
  return brotliCompressSync(body, {
    params: {
      // Quality 11 takes ~13 ms even for a 300-byte body (120k blocks ≈ 26 CPU minutes); 9 takes ~0.06 ms.
      [zlibConstants.BROTLI_PARAM_QUALITY]: 9,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length,
      [zlibConstants.BROTLI_PARAM_LGWIN]: 16,
    },
  });
}

/** The header of either layout; the same fields whichever header the block carries (version tells which). */
export function decodeBlockHeader(buf: Uint8Array, opts: { verifyCrc?: boolean } = {}): BlockHeader {
  return readHeader(buf, opts.verifyCrc !== false).header;
}

/** Where the body starts: 76 for version-1 blocks, the compact header's length (CRC included) for versions 2 and 3. */
export function blockHeaderSize(buf: Uint8Array): number {
  return readHeader(buf, false).bodyOffset;
}

/** Bytes of the rollup section (0 for blocks without one), for size accounting. */
export function blockRollupBytes(buf: Uint8Array): number {
  return readHeader(buf, false).rollupLength;
}

/**
 * The rollups of a version-3 block ([] for any other block), parsed from its rollup section. Checks the CRC unless
 * `verifyCrc: false` (a caller that already checked it with decodeBlockHeader).
 */
export function decodeBlockRollups(buf: Uint8Array, opts: { verifyCrc?: boolean } = {}): Rollup[] {
  const { header, rollupOffset, rollupLength } = readHeader(buf, opts.verifyCrc !== false);
  if (rollupLength === 0) return [];
  try {
    return decodeRollupSection(buf, rollupOffset, rollupLength, header);
  } catch (e) {
    bad(buf, (e as Error).message);
  }
}

interface ReadHeader {
  header: BlockHeader;
  bodyOffset: number;
  rollupOffset: number;
  rollupLength: number;
}

function readHeader(buf: Uint8Array, verifyCrc: boolean): ReadHeader {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const version = b.length > OFF.version ? b[OFF.version] : -1;
  if (version === BLOCK_VERSION_COMPACT || version === BLOCK_VERSION_ROLLUP) return readCompact(b, verifyCrc);
  if (b.length < BLOCK_HEADER_SIZE) bad(b, `shorter than the ${BLOCK_HEADER_SIZE}-byte header`);
  const magic = b.readUInt16LE(OFF.magic);
  if (magic !== BLOCK_MAGIC) bad(b, `bad magic 0x${hex(magic, 4)}`);
  if (version !== BLOCK_VERSION) bad(b, `unsupported version ${version}`);
  const bodyLength = b.readUInt32LE(OFF.bodyLength);
  if (bodyLength !== b.length - BLOCK_HEADER_SIZE) bad(b, `body length ${bodyLength} does not match`);
  if (verifyCrc) {
    const stored = b.readUInt32LE(OFF.crc);
    const computed = blockCrc(b);
    if (stored !== computed) bad(b, `crc mismatch (stored 0x${hex(stored, 8)}, computed 0x${hex(computed, 8)})`);
  }
  const encoding = b[OFF.encoding];
  if (encoding < ENCODING_GORILLA || encoding > ENCODING_COMPRESSED) bad(b, `unknown encoding ${encoding}`);
  const header = {
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
  return { header, bodyOffset: BLOCK_HEADER_SIZE, rollupOffset: 0, rollupLength: 0 };
}

function readCompact(b: Buffer, verifyCrc: boolean): ReadHeader {
  const magic = b.length >= 2 ? b.readUInt16LE(OFF.magic) : -1;
  if (magic !== BLOCK_MAGIC) bad(b, `bad magic 0x${hex(magic, 4)}`);
  let parsed;
  try {
    parsed = decodeCompactHeader(b);
  } catch (e) {
    bad(b, (e as Error).message);
  }
  const { header, crcOffset, rollupOffset, rollupLength } = parsed;
  if (verifyCrc) {
    const stored = b.readUInt32LE(crcOffset);
    const computed = crcAround(b, crcOffset);
    if (stored !== computed) bad(b, `crc mismatch (stored 0x${hex(stored, 8)}, computed 0x${hex(computed, 8)})`);
  }
  const { encoding } = header;
  if (encoding < ENCODING_GORILLA || encoding > ENCODING_COMPRESSED) bad(b, `unknown encoding ${encoding}`);
  return { header, bodyOffset: crcOffset + 4, rollupOffset, rollupLength };
}

export function decodeBlock(buf: Uint8Array): { header: BlockHeader; ts: number[]; vs: number[] } {
  const { header, bodyOffset } = readHeader(buf, true);
  const ts: number[] = [];
  const vs: number[] = [];
  let encoding = header.encoding;
  let body = buf.subarray(bodyOffset);
  if (encoding === ENCODING_COMPRESSED) {
    if (body.length < 2) bad(buf, 'compressed body shorter than 2 bytes');
    const algo = body[0];
    encoding = body[1];
    if (encoding !== ENCODING_GORILLA && encoding !== ENCODING_COLUMNAR) bad(buf, `compressed inner encoding ${encoding} is not 1 or 3`);
    try {
      if (algo === COMPRESSION_DEFLATE) body = inflateRawSync(body.subarray(2));
      else if (algo === COMPRESSION_BROTLI) body = brotliDecompressSync(body.subarray(2));
      else bad(buf, `unknown compression ${algo}`);
    } catch (e) {
      if (e instanceof TsdbError) throw e;
      bad(buf, `cannot decompress body: ${(e as Error).message}`);
    }
  }
  if (encoding === ENCODING_CONST_REGULAR) {
    const { count } = header;
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
  if (encoding === ENCODING_COLUMNAR) {
    try {
      decodeColumnar(body, header, ts, vs);
    } catch (e) {
      bad(buf, (e as Error).message);
    }
    return { header, ts, vs };
  }
  const dec = new GorillaDecoder(body, header.count);
  try {
    while (dec.next()) {
      ts.push(dec.t);
      vs.push(dec.v);
    }
  } catch (e) {
    if (e instanceof TsdbError) bad(buf, e.message);
    throw e;
  }
  if (dec.bitsLeft >= 8) bad(buf, `${dec.bitsLeft} bits left after ${header.count} points`);
  return { header, ts, vs };
}

/** CRC32 of header bytes [0, 72) followed by the body, i.e. everything except the CRC field itself. */
function blockCrc(b: Uint8Array): number {
  return crcAround(b, OFF.crc);
}

/** CRC32 of everything except the 4 bytes at crcOffset (the CRC field ends both header layouts). */
function crcAround(b: Uint8Array, crcOffset: number): number {
  const head = crc32(b.subarray(0, crcOffset));
  return crc32(b.subarray(crcOffset + 4), head) >>> 0;
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
