/**
 * Binary adaptive range coder (LZMA-style, carry propagated through a cached byte) and an integer model on
 * top of it, used by the columnar block body (docs/format/block.md §5). Chosen over Huffman because the
 * integers real series produce (value deltas, timestamp delta-of-deltas) are heavily skewed towards a handful
 * of small magnitudes: an adaptive binary coder lands within ~1% of their order-0 entropy with no table to
 * transmit, which matters at 720 points per block.
 *
 * Probabilities are 16-bit estimates that a bit is 0, one per context, with a per-context bit count that
 * sets the adaptation rate (below).
 *
 * Arithmetic stays below 2^53 throughout: `low` is kept as a float64 holding at most 33 bits, everything
 * else is uint32.
 */

import { TsdbError } from '../common/errors.js';

const PROB_BITS = 16;
const PROB_INIT = 1 << (PROB_BITS - 1);
const PROB_ONE = 1 << PROB_BITS;
/**
 * A context adapts at rate 1/(n+2) after n bits, i.e. it tracks the observed frequency (a fresh context
 * learns fast), until n reaches this limit, after which it forgets old bits slowly. Measured on TSBS cpu
 * blocks (720 points): limit 14 → 0.391 B/point, 30 → 0.388, 126 → 0.386, 254 → 0.386.
 */
const ADAPT_LIMIT = 126;
const RATE = new Uint32Array(256);
for (let n = 0; n < 256; n++) RATE[n] = Math.floor(PROB_ONE / (Math.min(n, ADAPT_LIMIT) + 2));
const TOP = 1 << 24;
const TWO_32 = 4294967296;
const TWO_31 = 2147483648;
const POW2: number[] = [];
for (let i = 0; i <= 64; i++) POW2.push(2 ** i);

/**
 * Adaptive bit contexts. Each is one int32 (one load and one store per coded bit): bits 8–23 hold a 16-bit
 * estimate that the next bit is 0, bits 0–7 how many bits the context has coded (saturating at 255).
 */
export class BitContexts {
  readonly s: Int32Array;
  constructor(size: number) {
    this.s = new Int32Array(size);
    this.reset();
  }
  reset(): void {
    this.s.fill(PROB_INIT << 8);
  }
}

/** Context state after coding a 0 (`zero`) or a 1 from state `st`. */
function afterZero(st: number): number {
  const p = st >>> 8;
  const n = st & 255;
  return ((p + (((PROB_ONE - p) * RATE[n]) >>> PROB_BITS)) << 8) | (n === 255 ? n : n + 1);
}

function afterOne(st: number): number {
  const p = st >>> 8;
  const n = st & 255;
  return ((p - ((p * RATE[n]) >>> PROB_BITS)) << 8) | (n === 255 ? n : n + 1);
}

export class RangeEncoder {
  private buf: Uint8Array;
  private pos = 0;
  private low = 0;
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 0;
  private started = false;

  constructor(initialBytes = 1024) {
    this.buf = new Uint8Array(initialBytes);
  }

  reset(): void {
    this.pos = 0;
    this.low = 0;
    this.range = 0xffffffff;
    this.cache = 0;
    this.cacheSize = 0;
    this.started = false;
  }

  encodeBit(ctx: BitContexts, i: number, bit: number): void {
    const st = ctx.s[i];
    const bound = (this.range >>> PROB_BITS) * (st >>> 8);
    if (bit === 0) {
      this.range = bound;
      ctx.s[i] = afterZero(st);
    } else {
      this.low += bound;
      this.range -= bound;
      ctx.s[i] = afterOne(st);
    }
    while (this.range < TOP) {
      this.range = (this.range << 8) >>> 0;
      this.shiftLow();
    }
  }

  /**
   * v, 0 ≤ v < 2^n, n ≤ 16, as one uniform symbol: the range is divided by 2^n in one step (rounding the
   * range down costs under 2^−8 of a bit since range ≥ 2^24), much faster than n one-bit steps.
   */
  encodeDirect(v: number, n: number): void {
    const r = this.range >>> n;
    this.low += v * r;
    this.range = r;
    while (this.range < TOP) {
      this.range = (this.range << 8) >>> 0;
      this.shiftLow();
    }
  }

  /** Flushes and returns the coded bytes (a view into the reusable buffer; copy before the next reset). */
  finish(): Uint8Array {
    for (let i = 0; i < 5; i++) this.shiftLow();
    // The decoder reads missing bytes as zero, so trailing zeros carry no information.
    let end = this.pos;
    while (end > 0 && this.buf[end - 1] === 0) end--;
    return this.buf.subarray(0, end);
  }

  private shiftLow(): void {
    const low = this.low;
    if (low < 0xff000000 || low >= TWO_32) {
      const carry = low >= TWO_32 ? 1 : 0;
      // LZMA's first output byte is always 0 (the initial cache); it is not written.
      if (this.started) this.put((this.cache + carry) & 0xff);
      this.started = true;
      for (; this.cacheSize > 0; this.cacheSize--) this.put((0xff + carry) & 0xff);
      this.cache = Math.floor(low / TOP) & 0xff;
    } else {
      this.cacheSize++;
    }
    this.low = (low % TOP) * 256;
  }

  private put(b: number): void {
    if (this.pos === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.pos++] = b;
  }
}

export class RangeDecoder {
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private end = 0;
  private range = 0xffffffff;
  private code = 0;

  init(buf: Uint8Array, start: number, end: number): void {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.range = 0xffffffff;
    this.code = 0;
    for (let i = 0; i < 4; i++) this.code = ((this.code << 8) | this.next()) >>> 0;
  }

  decodeBit(ctx: BitContexts, i: number): number {
    const st = ctx.s[i];
    const bound = (this.range >>> PROB_BITS) * (st >>> 8);
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      ctx.s[i] = afterZero(st);
      bit = 0;
    } else {
      this.code -= bound;
      this.range -= bound;
      ctx.s[i] = afterOne(st);
      bit = 1;
    }
    while (this.range < TOP) {
      this.range = (this.range << 8) >>> 0;
      this.code = ((this.code << 8) | this.next()) >>> 0;
    }
    return bit;
  }

  /** Inverse of RangeEncoder.encodeDirect; throws when the code lies outside the 2^n symbols (corrupt input). */
  decodeDirect(n: number): number {
    const r = this.range >>> n;
    const v = Math.floor(this.code / r);
    if (v >= 1 << n) corruptStream(`direct symbol ${v} does not fit ${n} bits`);
    this.code -= v * r;
    this.range = r;
    while (this.range < TOP) {
      this.range = (this.range << 8) >>> 0;
      this.code = ((this.code << 8) | this.next()) >>> 0;
    }
    return v;
  }

  private next(): number {
    const p = this.pos++;
    return p < this.end ? this.buf[p] : 0;
  }
}

// ---- integer model ----

/** Magnitudes up to 2^53 have bit lengths 0..54; one unary context per length step. */
const MAX_BITLEN = 54;
/** Mantissa bits below the leading one that get their own contexts (a bit tree per length); the rest are direct. */
const TREE_BITS = 3;
const TREE_NODES = 1 << TREE_BITS;
const CTX_LEN = 0;
const CTX_SIGN = CTX_LEN + MAX_BITLEN;
const CTX_TREE = CTX_SIGN + MAX_BITLEN + 1;
export const INT_MODEL_CONTEXTS = CTX_TREE + (MAX_BITLEN + 1) * 2 * TREE_NODES;

/** Bit length of a non-negative integer ≤ 2^53 (0 for 0). */
export function bitLength(m: number): number {
  if (m < TWO_32) return 32 - Math.clz32(m);
  return 64 - Math.clz32(Math.floor(m / TWO_32));
}

/**
 * Codes a signed integer d, |d| ≤ 2^53, as: the bit length L of |d| in unary (bits "L > k" for k = 0, 1, …,
 * each with its own context, stopping at the first 0 or at 54); if d ≠ 0 a sign bit (1 = negative, one
 * context per L); then the L−1 bits below the leading one, the first up to 3 through a bit tree of contexts
 * per (L, sign), the rest direct (uniform, in chunks of up to 16 bits, most significant first). With sign and tree contexts per length, every |d| < 16 has its own
 * probability path, so skewed small integers cost close to their entropy whatever their sign pattern.
 */
export function encodeInt(rc: RangeEncoder, ctx: BitContexts, d: number): void {
  const neg = d < 0 ? 1 : 0;
  const m = neg ? -d : d;
  const len = bitLength(m);
  for (let k = 0; k < MAX_BITLEN; k++) {
    const more = len > k ? 1 : 0;
    rc.encodeBit(ctx, CTX_LEN + k, more);
    if (!more) break;
  }
  if (len === 0) return;
  rc.encodeBit(ctx, CTX_SIGN + len, neg);
  if (len === 1) return;
  const rest = len - 1; // bits below the leading one
  const treeBits = rest < TREE_BITS ? rest : TREE_BITS;
  const direct = rest - treeBits;
  // top = the leading one and the tree bits; low = the direct remainder.
  let top: number;
  let low: number;
  if (m < TWO_31) {
    top = m >>> direct;
    low = m & ((1 << direct) - 1);
  } else {
    const scale = POW2[direct];
    top = Math.floor(m / scale);
    low = m - top * scale;
  }
  const base = CTX_TREE + (2 * len + neg) * TREE_NODES;
  let node = 1;
  for (let k = treeBits - 1; k >= 0; k--) {
    const bit = (top >>> k) & 1;
    rc.encodeBit(ctx, base + node, bit);
    node = node * 2 + bit;
  }
  // Direct bits in chunks of at most 16, most significant chunk first.
  let left = direct;
  while (left > 16) {
    left -= 16;
    const scale = POW2[left];
    const chunk = Math.floor(low / scale);
    rc.encodeDirect(chunk, 16);
    low -= chunk * scale;
  }
  if (left > 0) rc.encodeDirect(low, left);
}

export function decodeInt(rd: RangeDecoder, ctx: BitContexts): number {
  let len = 0;
  while (len < MAX_BITLEN && rd.decodeBit(ctx, CTX_LEN + len) === 1) len++;
  if (len === 0) return 0;
  const neg = rd.decodeBit(ctx, CTX_SIGN + len);
  let m = 1;
  if (len >= 2) {
    const rest = len - 1;
    const treeBits = rest < TREE_BITS ? rest : TREE_BITS;
    let left = rest - treeBits;
    const base = CTX_TREE + (2 * len + neg) * TREE_NODES;
    let node = 1;
    for (let k = 0; k < treeBits; k++) node = node * 2 + rd.decodeBit(ctx, base + node);
    m = node; // the leading one is the tree's root
    while (left > 16) {
      left -= 16;
      m = m * 65536 + rd.decodeDirect(16);
    }
    if (left > 0) m = m * (1 << left) + rd.decodeDirect(left);
  }
  return neg === 1 ? -m : m;
}

export function corruptStream(what: string): never {
  throw new TsdbError('TSDB_ERR_STORE_IO', `cannot decode range-coded stream: ${what}`, { retriable: false });
}
