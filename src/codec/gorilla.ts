/**
 * Gorilla-style streaming codec for (timestamp ms, float64) pairs, after Pelkonen et al., VLDB 2015,
 * with timestamp buckets resized for millisecond data. The exact bit layout is in docs/format/block.md.
 *
 * Points come in log order, so timestamps may repeat or go backwards: delta-of-delta is signed and every
 * pair of safe integers must round-trip exactly. Deltas are computed in float64; a difference that is
 * not a safe integer (or a delta-of-delta beyond int32) falls back to an escape carrying the absolute
 * timestamp, which keeps every arithmetic step exact without BigInt on the hot path.
 *
 * Values are compared bit-for-bit, so -0 and NaN payloads survive. Caveat outside this codec: V8 may set
 * the quiet bit of a signalling NaN when it is stored into a plain number[] (decodeGorilla's result);
 * read `GorillaDecoder.v` directly if signalling payloads matter.
 */

import { TsdbError } from '../common/errors.js';
import { BitReader, BitWriter } from './bitstream.js';

const TWO_32 = 4294967296;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// One shared 8-byte scratch turns a double into two uint32 halves without allocating per call.
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = LITTLE_ENDIAN ? 0 : 1;

/** Delta-of-delta buckets: control prefix, payload width, inclusive two's-complement range. */
export const DOD_BUCKETS = [
  { prefix: '10', bits: 8, min: -128, max: 127 },
  { prefix: '110', bits: 12, min: -2048, max: 2047 },
  { prefix: '1110', bits: 20, min: -524288, max: 524287 },
  { prefix: '11110', bits: 32, min: -2147483648, max: 2147483647 },
] as const;

function badTimestamp(index: number, t: number): never {
  throw new TsdbError(
    'TSDB_ERR_INTERNAL',
    `cannot encode point (index ${index}): timestamp ${t} is not a safe integer`,
  );
}

function corrupt(count: number, index: number, why: string): never {
  throw new TsdbError('TSDB_ERR_STORE_IO', `cannot decode gorilla stream (point ${index} of ${count}): ${why}`, {
    retriable: false,
  });
}

export class GorillaEncoder {
  private readonly w: BitWriter;
  private n = 0;
  private prevT = 0;
  private prevDelta = 0;
  private prevHi = 0;
  private prevLo = 0;
  /** Leading/trailing zeros of the current XOR window; -1 until the first non-zero XOR opens one. */
  private prevLead = -1;
  private prevTrail = 0;

  constructor(initialBytes?: number) {
    this.w = new BitWriter(initialBytes);
  }

  get count(): number {
    return this.n;
  }

  get byteLength(): number {
    return this.w.byteLength;
  }

  get bitLength(): number {
    return this.w.bitLength;
  }

  append(t: number, v: number): void {
    if (!Number.isSafeInteger(t)) badTimestamp(this.n, t);
    const w = this.w;
    F64[0] = v;
    const hi = U32[HI];
    const lo = U32[LO];

    if (this.n === 0) {
      writeInt64(w, t);
      w.writeBits(hi, 32);
      w.writeBits(lo, 32);
      this.prevT = t;
      this.prevDelta = 0;
      this.prevHi = hi;
      this.prevLo = lo;
      this.n = 1;
      return;
    }

    const d = t - this.prevT;
    // |d| ≤ MAX_SAFE iff the subtraction was exact (rounding is monotonic and 2^53 is representable).
    const dSafe = d <= MAX_SAFE && d >= -MAX_SAFE;
    const dod = dSafe ? d - this.prevDelta : NaN;
    if (dod === 0) {
      w.writeBit(0);
    } else if (dod >= -128 && dod <= 127) {
      w.writeBits((0b10 << 8) | (dod & 0xff), 10);
    } else if (dod >= -2048 && dod <= 2047) {
      w.writeBits((0b110 << 12) | (dod & 0xfff), 15);
    } else if (dod >= -524288 && dod <= 524287) {
      w.writeBits((0b1110 << 20) | (dod & 0xfffff), 24);
    } else if (dod >= -2147483648 && dod <= 2147483647) {
      w.writeBits(0b11110, 5);
      w.writeBits(dod, 32);
    } else {
      // NaN (unsafe delta) lands here too.
      w.writeBits(0b11111, 5);
      writeInt64(w, t);
    }
    this.prevDelta = dSafe ? d : 0;
    this.prevT = t;

    const xhi = (hi ^ this.prevHi) >>> 0;
    const xlo = (lo ^ this.prevLo) >>> 0;
    if ((xhi | xlo) === 0) {
      w.writeBit(0);
    } else {
      let lead = xhi !== 0 ? Math.clz32(xhi) : 32 + Math.clz32(xlo);
      if (lead > 31) lead = 31; // the 5-bit field; extra leading zeros ride along as meaningful bits
      const trail = xlo !== 0 ? 31 - Math.clz32(xlo & -xlo) : 63 - Math.clz32(xhi & -xhi);
      const pLead = this.prevLead;
      const m = 64 - lead - trail;
      const prevM = 64 - pLead - this.prevTrail;
      // Reuse the window when the XOR fits and reuse is no dearer than a fresh 13-bit header plus m
      // bits; plain Gorilla always reuses, and a wide stale window then costs every later value.
      if (pLead >= 0 && lead >= pLead && trail >= this.prevTrail && prevM <= m + 11) {
        w.writeBits(0b10, 2);
        writeMeaningful(w, xhi, xlo, this.prevTrail, prevM);
      } else {
        w.writeBits((0b11 << 11) | (lead << 6) | (m & 63), 13);
        writeMeaningful(w, xhi, xlo, trail, m);
        this.prevLead = lead;
        this.prevTrail = trail;
      }
    }
    this.prevHi = hi;
    this.prevLo = lo;
    this.n++;
  }

  /** The current stream (no copy); decodable as-is with `count`. Later appends may mutate or outgrow it. */
  view(): Uint8Array {
    return this.w.bytes();
  }

  /** A standalone copy of the stream. The encoder stays usable. */
  finish(): Buffer {
    return Buffer.from(this.w.bytes());
  }

  reset(): void {
    this.w.reset();
    this.n = 0;
    this.prevT = 0;
    this.prevDelta = 0;
    this.prevHi = 0;
    this.prevLo = 0;
    this.prevLead = -1;
    this.prevTrail = 0;
  }
}

/** Two's-complement 64 bits, big-endian bit order. Division by 2^32 and the remainder are exact for safe ints. */
function writeInt64(w: BitWriter, t: number): void {
  const hi = Math.floor(t / TWO_32);
  w.writeBits(hi, 32);
  w.writeBits(t - hi * TWO_32, 32);
}

function writeMeaningful(w: BitWriter, xhi: number, xlo: number, shift: number, m: number): void {
  if (shift === 0) {
    w.writeBits64(xhi, xlo, m);
  } else if (shift < 32) {
    w.writeBits64(xhi >>> shift, (xlo >>> shift) | (xhi << (32 - shift)), m);
  } else {
    w.writeBits(xhi >>> (shift - 32), m);
  }
}

export class GorillaDecoder {
  /** The current point, valid after next() returned true. */
  t = 0;
  v = 0;
  private readonly r: BitReader;
  private readonly count: number;
  private i = 0;
  private prevDelta = 0;
  private hi = 0;
  private lo = 0;
  private lead = -1;
  private trail = 0;

  constructor(buf: Uint8Array, count: number) {
    this.r = new BitReader(buf);
    this.count = count;
  }

  /** Unread bits; after the last point only the zero padding of the final byte (< 8 bits) should remain. */
  get bitsLeft(): number {
    return this.r.bitsLeft;
  }

  next(): boolean {
    const i = this.i;
    if (i >= this.count) return false;
    const r = this.r;
    if (i === 0) {
      this.t = this.readTimestamp();
      this.hi = r.readBits(32);
      this.lo = r.readBits(32);
    } else {
      this.nextTimestamp();
      this.nextValue();
    }
    U32[HI] = this.hi;
    U32[LO] = this.lo;
    this.v = F64[0];
    this.i = i + 1;
    return true;
  }

  private nextTimestamp(): void {
    const r = this.r;
    const prevT = this.t;
    let dod: number;
    if (r.readBit() === 0) dod = 0;
    else if (r.readBit() === 0) dod = (r.readBits(8) << 24) >> 24;
    else if (r.readBit() === 0) dod = (r.readBits(12) << 20) >> 20;
    else if (r.readBit() === 0) dod = (r.readBits(20) << 12) >> 12;
    else if (r.readBit() === 0) dod = r.readBits(32) | 0;
    else {
      const t = this.readTimestamp();
      const d = t - prevT;
      this.prevDelta = d <= MAX_SAFE && d >= -MAX_SAFE ? d : 0;
      this.t = t;
      return;
    }
    const d = this.prevDelta + dod;
    const t = prevT + d;
    if (!(t <= MAX_SAFE && t >= -MAX_SAFE)) corrupt(this.count, this.i, `timestamp ${t} is not a safe integer`);
    this.prevDelta = d;
    this.t = t;
  }

  private nextValue(): void {
    const r = this.r;
    if (r.readBit() === 0) return;
    if (r.readBit() === 1) {
      const lead = r.readBits(5);
      const m = r.readBits(6) || 64;
      if (lead + m > 64) corrupt(this.count, this.i, `xor window of ${lead} leading and ${m} meaningful bits`);
      this.lead = lead;
      this.trail = 64 - lead - m;
    } else if (this.lead < 0) {
      corrupt(this.count, this.i, 'xor window reused before one was opened');
    }
    const shift = this.trail;
    const m = 64 - this.lead - shift;
    let shi = 0;
    let slo: number;
    if (m > 32) {
      shi = r.readBits(m - 32);
      slo = r.readBits(32);
    } else {
      slo = r.readBits(m);
    }
    if (shift === 0) {
      this.hi ^= shi;
      this.lo ^= slo;
    } else if (shift < 32) {
      this.hi ^= (shi << shift) | (slo >>> (32 - shift));
      this.lo ^= slo << shift;
    } else {
      this.hi ^= slo << (shift - 32);
    }
    this.hi >>>= 0;
    this.lo >>>= 0;
  }

  private readTimestamp(): number {
    const hi = this.r.readBits(32) | 0;
    const t = hi * TWO_32 + this.r.readBits(32);
    if (!Number.isSafeInteger(t)) corrupt(this.count, this.i, `timestamp ${t} is not a safe integer`);
    return t;
  }
}

/** Decodes a whole stream into arrays (see the NaN caveat at the top of this file). */
export function decodeGorilla(buf: Uint8Array, count: number): { ts: number[]; vs: number[] } {
  const dec = new GorillaDecoder(buf, count);
  const ts: number[] = [];
  const vs: number[] = [];
  while (dec.next()) {
    ts.push(dec.t);
    vs.push(dec.v);
  }
  return { ts, vs };
}
