/**
 * Body of block encoding 3 ("columnar"): timestamps either implied by the header (fixed step) or coded as
 * delta-of-deltas, values either constant (the header's `first`) or decimal-scaled integers coded raw, as
 * deltas or as delta-of-deltas, everything integer going through one adaptive range-coded stream.
 * Byte layout: docs/format/block.md §5.
 *
 * The encoder works in reusable scratch arrays; it allocates only when a block is larger than any before.
 */

import { scaleBlock, fromScaled } from './decimal.js';
import { BitContexts, INT_MODEL_CONTEXTS, RangeDecoder, RangeEncoder, bitLength, decodeInt, encodeInt } from './range-coder.js';

export const TS_REGULAR = 0;
export const TS_DOD = 1;
export const VALUES_CONST = 0;
export const VALUES_DECIMAL_RAW = 1;
export const VALUES_DECIMAL_DELTA = 2;
export const VALUES_DECIMAL_DOD = 3;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export interface ColumnarPlan {
  tsMode: number;
  /** Value modes worth trying, best guess first (the caller encodes the first, or all when searching). */
  valueModes: number[];
  exponent: number;
}

let scaled = new Float64Array(1024);
const rc = new RangeEncoder(4096);
const tsCtx = new BitContexts(INT_MODEL_CONTEXTS);
const vCtx = new BitContexts(INT_MODEL_CONTEXTS);
const rd = new RangeDecoder();
const head = new Uint8Array(32);

/**
 * Whether encoding 3 can hold the block, and how. `constValues`/`regular` come from the caller's statistics
 * pass. Returns null when timestamps or values do not fit (the caller falls back to gorilla).
 */
export function planColumnar(ts: ArrayLike<number>, vs: ArrayLike<number>, minT: number, regular: boolean, constValues: boolean): ColumnarPlan | null {
  const n = ts.length;
  let tsMode = TS_REGULAR;
  if (!regular) {
    if (!(ts[0] - minT <= MAX_SAFE)) return null;
    let prevD = 0;
    for (let i = 1; i < n; i++) {
      const d = ts[i] - ts[i - 1];
      const dd = d - prevD;
      if (!(d <= MAX_SAFE && d >= -MAX_SAFE && dd <= MAX_SAFE && dd >= -MAX_SAFE)) return null;
      prevD = d;
    }
    tsMode = TS_DOD;
  }
  if (constValues) return { tsMode, valueModes: [VALUES_CONST], exponent: 0 };
  if (scaled.length < n) scaled = new Float64Array(Math.max(n, scaled.length * 2));
  const exponent = scaleBlock(vs, scaled);
  if (Number.isNaN(exponent)) return null;
  // Size estimate per mode from the order-0 entropy of the integers' bit lengths and signs plus their raw
  // mantissa bits: what the range coder approaches. Mean bit length alone misranks wide, flat distributions
  // (a counter with uniform increments looked cheaper as delta-of-deltas). The cold path encodes every mode.
  hist.fill(0);
  let prev = 0;
  let prevD = 0;
  for (let i = 0; i < n; i++) {
    const m = scaled[i];
    const d = m - prev;
    const dd = d - prevD;
    tally(0, m);
    if (i > 0) {
      // Delta modes carry m[0] as a varint outside the coded stream.
      tally(1, d);
      tally(2, dd);
    }
    prev = m;
    prevD = d;
  }
  const m0 = 8 * Math.ceil(Math.max(1, bitLength(zigzag(scaled[0]))) / 7);
  const modes = [
    { mode: VALUES_DECIMAL_DELTA, c: estimate(1, n - 1) + m0 },
    { mode: VALUES_DECIMAL_RAW, c: estimate(0, n) },
    { mode: VALUES_DECIMAL_DOD, c: estimate(2, n - 1) + m0 },
  ].sort((a, b) => a.c - b.c);
  return { tsMode, valueModes: modes.map((m) => m.mode), exponent };
}

/** Per candidate k: counts of bit lengths 0..54 at [k·HIST, k·HIST+55), then negatives, then Σ mantissa bits. */
const HIST = 58;
const hist = new Float64Array(3 * HIST);

function tally(k: number, x: number): void {
  const neg = x < 0;
  const len = bitLength(neg ? -x : x);
  const o = k * HIST;
  hist[o + len]++;
  if (neg) hist[o + 55]++;
  if (len > 1) hist[o + 56] += len - 1;
}

function estimate(k: number, n: number): number {
  if (n === 0) return 0;
  const o = k * HIST;
  let bits = hist[o + 56];
  for (let len = 0; len <= 54; len++) {
    const c = hist[o + len];
    if (c > 0) bits += c * Math.log2(n / c);
  }
  const nonzero = n - hist[o];
  const neg = hist[o + 55];
  if (neg > 0 && neg < nonzero) bits += neg * Math.log2(nonzero / neg) + (nonzero - neg) * Math.log2(nonzero / (nonzero - neg));
  return bits;
}

/** Encodes the body for one value mode of a plan; returns a view into scratch (copy before the next call). */
export function encodeColumnar(ts: ArrayLike<number>, minT: number, plan: ColumnarPlan, valueMode: number): { head: Uint8Array; stream: Uint8Array } {
  const n = ts.length;
  let h = 0;
  head[h++] = plan.tsMode | (valueMode << 2);
  if (valueMode !== VALUES_CONST) head[h++] = plan.exponent & 0xff;
  if (plan.tsMode === TS_DOD) h = putVarint(head, h, ts[0] - minT);
  if (valueMode === VALUES_DECIMAL_DELTA || valueMode === VALUES_DECIMAL_DOD) h = putVarint(head, h, zigzag(scaled[0]));
  rc.reset();
  tsCtx.reset();
  vCtx.reset();
  const tc = tsCtx;
  const vc = vCtx;
  let prevT = ts[0];
  let prevTD = 0;
  let prev = valueMode === VALUES_DECIMAL_RAW ? 0 : scaled[0];
  let prevD = 0;
  const tsDod = plan.tsMode === TS_DOD;
  for (let i = valueMode === VALUES_DECIMAL_RAW ? 0 : 1; i < n; i++) {
    if (tsDod && i > 0) {
      const t = ts[i];
      const d = t - prevT;
      encodeInt(rc, tc, d - prevTD);
      prevT = t;
      prevTD = d;
    }
    if (valueMode === VALUES_CONST) continue;
    const m = scaled[i];
    const d = m - prev;
    if (valueMode === VALUES_DECIMAL_RAW) encodeInt(rc, vc, m);
    else if (valueMode === VALUES_DECIMAL_DELTA) encodeInt(rc, vc, d);
    else encodeInt(rc, vc, d - prevD);
    prev = m;
    prevD = d;
  }
  return { head: head.subarray(0, h), stream: rc.finish() };
}

export interface ColumnarHeader {
  count: number;
  minT: number;
  maxT: number;
  first: number;
}

/** Decodes an encoding-3 body into ts/vs (appended). Throws a plain Error with the cause on malformed input. */
export function decodeColumnar(body: Uint8Array, h: ColumnarHeader, ts: number[], vs: number[]): void {
  const n = h.count;
  if (n === 0) throw new Error('columnar block with no points');
  if (body.length < 1) throw new Error('empty columnar body');
  const modes = body[0];
  const tsMode = modes & 3;
  const valueMode = (modes >>> 2) & 3;
  if (modes >>> 4 !== 0 || tsMode > TS_DOD) throw new Error(`bad mode byte 0x${modes.toString(16)}`);
  let p = 1;
  let exponent = 0;
  if (valueMode !== VALUES_CONST) {
    if (p >= body.length) throw new Error('missing exponent');
    exponent = (body[p++] << 24) >> 24;
    if (exponent > 22 || exponent < -22) throw new Error(`exponent ${exponent} out of range`);
  }
  let t0 = h.minT;
  let step = 0;
  if (tsMode === TS_DOD) {
    const r = getVarint(body, p);
    t0 += r.v;
    p = r.p;
  } else if (n > 1) {
    step = (h.maxT - h.minT) / (n - 1);
    if (!Number.isSafeInteger(step)) throw new Error(`span ${h.maxT - h.minT} is not ${n - 1} equal steps`);
  }
  let m = 0;
  if (valueMode === VALUES_DECIMAL_DELTA || valueMode === VALUES_DECIMAL_DOD) {
    const r = getVarint(body, p);
    m = unzigzag(r.v);
    p = r.p;
  }
  rd.init(body, p, body.length);
  tsCtx.reset();
  vCtx.reset();
  const tc = tsCtx;
  const vc = vCtx;
  let t = t0;
  let td = 0;
  let d = 0;
  const first = h.first;
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      if (tsMode === TS_DOD) {
        td += decodeInt(rd, tc);
        t += td;
      } else {
        t += step;
      }
    }
    ts.push(t);
    switch (valueMode) {
      case VALUES_CONST:
        vs.push(first);
        continue;
      case VALUES_DECIMAL_RAW:
        m = decodeInt(rd, vc);
        break;
      case VALUES_DECIMAL_DELTA:
        if (i > 0) m += decodeInt(rd, vc);
        break;
      default:
        if (i > 0) {
          d += decodeInt(rd, vc);
          m += d;
        }
    }
    vs.push(fromScaled(m, exponent));
  }
}

function zigzag(x: number): number {
  return x >= 0 ? 2 * x : -2 * x - 1;
}

function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** Unsigned LEB128 for integers up to 2^54 (arithmetic, not bit operations: they would truncate to 32 bits). */
function putVarint(b: Uint8Array, p: number, x: number): number {
  while (x >= 128) {
    const low = x % 128;
    b[p++] = low | 128;
    x = (x - low) / 128;
  }
  b[p++] = x;
  return p;
}

function getVarint(b: Uint8Array, p: number): { v: number; p: number } {
  let v = 0;
  let scale = 1;
  for (let k = 0; k < 8; k++) {
    if (p >= b.length) throw new Error('truncated varint');
    const byte = b[p++];
    v += (byte & 127) * scale;
    if (byte < 128) return { v, p };
    scale *= 128;
  }
  throw new Error('varint longer than 8 bytes');
}
