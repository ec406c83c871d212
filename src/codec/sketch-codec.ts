/**
 * The byte layout of a DDSketch (docs/format/sketch.md, version 1): little-endian fixed fields, then each sign
 * store as a key span, its lowest key and its counts, zero runs collapsed. The sketch itself lives in sketch.ts.
 */
import { sketchError } from './sketch-error.js';
import type { KeyStore } from './sketch-key-store.js';

export const SKETCH_FORMAT_VERSION = 1;
const HEADER_BYTES = 30;

/** A growable little-endian byte buffer. */
class Writer {
  buf = new Uint8Array(256);
  len = 0;
  private dv = new DataView(this.buf.buffer);

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  u8(x: number): void {
    this.room(1);
    this.buf[this.len++] = x;
  }

  u32(x: number): void {
    this.room(4);
    this.dv.setUint32(this.len, x, true);
    this.len += 4;
  }

  f64(x: number): void {
    this.room(8);
    this.dv.setFloat64(this.len, x, true);
    this.len += 8;
  }

  /** Unsigned LEB128 of a safe integer >= 0 (arithmetic, not 32-bit bit operations). */
  uvar(x: number): void {
    this.room(8);
    while (x >= 0x80) {
      this.buf[this.len++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.len++] = x;
  }

  /** Zigzag varint of an int32: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ... */
  svar(x: number): void {
    this.uvar(x >= 0 ? 2 * x : -2 * x - 1);
  }
}

class Reader {
  pos = 0;
  private dv: DataView;

  constructor(
    readonly buf: Uint8Array,
    private readonly fail: (why: string) => never,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  need(n: number): void {
    if (this.pos + n > this.buf.length) this.fail(`truncated at byte ${this.pos} (need ${n} more)`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const x = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return x;
  }

  f64(): number {
    this.need(8);
    const x = this.dv.getFloat64(this.pos, true);
    this.pos += 8;
    return x;
  }

  uvar(): number {
    let x = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (i === 8) this.fail(`varint at byte ${this.pos} is longer than 8 bytes`);
      const b = this.u8();
      x += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) this.fail(`varint ending at byte ${this.pos - 1} is not minimal`);
        break;
      }
      mul *= 0x80;
    }
    if (!Number.isSafeInteger(x)) this.fail(`varint ending at byte ${this.pos - 1} is over 2^53-1`);
    return x;
  }

  svar(): number {
    const z = this.uvar();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }
}

/** The scalar fields of a sketch the layout carries besides its two stores. */
export interface SketchScalars {
  alpha: number;
  maxBuckets: number;
  lowest: number;
  highest: number;
  zero: number;
}

/** What decodeSketch fills: the stores of a fresh sketch and the key range of normal doubles it accepts. */
export interface SketchTarget {
  pos: KeyStore;
  neg: KeyStore;
  minKey: number;
  maxKey: number;
}

/** Serializes to the layout of docs/format/sketch.md (version 1). Equal sketches give equal bytes. */
export function encodeSketch(h: SketchScalars, pos: KeyStore, neg: KeyStore): Uint8Array {
  const w = new Writer();
  w.u8(SKETCH_FORMAT_VERSION);
  w.u8(0);
  w.f64(h.alpha);
  w.u32(h.maxBuckets);
  w.f64(h.lowest);
  w.f64(h.highest);
  w.uvar(h.zero);
  for (const s of [pos, neg]) {
    if (s.total === 0) {
      w.uvar(0);
      continue;
    }
    w.uvar(s.hi - s.lo + 1);
    w.svar(s.lo);
    for (let k = s.lo; k <= s.hi; ) {
      const n = s.count(k);
      if (n > 0) {
        w.uvar(n);
        k++;
        continue;
      }
      let run = 1;
      while (s.count(k + run) === 0) run++; // ends: s.hi has a non-zero count
      w.uvar(0);
      w.uvar(run - 1);
      k += run;
    }
  }
  return w.buf.slice(0, w.len);
}

/**
 * Parses bytes written by encodeSketch (docs/format/sketch.md) into the stores `create` returns for the header's
 * alpha and maxBuckets; throws TSDB_ERR_INTERNAL on anything malformed. Returns the remaining scalars.
 */
export function decodeSketch(bytes: Uint8Array, create: (alpha: number, maxBuckets: number) => SketchTarget): { zero: number; lowest: number; highest: number } {
  const fail = (why: string): never => {
    throw sketchError(`decode sketch (${bytes.length} bytes)`, why);
  };
  const r = new Reader(bytes, fail);
  r.need(HEADER_BYTES);
  const version = r.u8();
  if (version !== SKETCH_FORMAT_VERSION) fail(`unknown version ${version}`);
  const flags = r.u8();
  if (flags !== 0) fail(`unknown flags ${flags}`);
  const alpha = r.f64();
  const maxBuckets = r.u32();
  if (!(alpha > 0 && alpha < 1)) fail(`relative accuracy ${alpha} is not in (0, 1)`);
  if (maxBuckets < 1) fail('maxBuckets is 0');
  const s = create(alpha, maxBuckets);
  const lowest = r.f64();
  const highest = r.f64();
  const zero = r.uvar();
  for (const store of [s.pos, s.neg]) {
    const len = r.uvar();
    if (len === 0) continue;
    if (len > maxBuckets) fail(`a store spans ${len} keys, over maxBuckets ${maxBuckets}`);
    const lo = r.svar();
    const hi = lo + len - 1;
    if (lo < s.minKey || hi > s.maxKey) fail(`keys ${lo}..${hi} are outside ${s.minKey}..${s.maxKey}`);
    store.include(lo, hi);
    let total = 0;
    let afterRun = false;
    for (let k = lo; k <= hi; ) {
      const n = r.uvar();
      if (n > 0) {
        store.c[k - store.off] = n;
        total += n;
        k++;
        afterRun = false;
        continue;
      }
      const run = r.uvar() + 1;
      if (k === lo || k + run > hi) fail(`a zero run at key ${k} reaches an end of the store`);
      if (afterRun) fail(`two zero runs in a row at key ${k}`);
      afterRun = true;
      k += run;
    }
    if (store.c[lo - store.off] === 0 || store.c[hi - store.off] === 0) fail('a store does not start and end with a non-zero count');
    if (!Number.isSafeInteger(total)) fail('counts exceed 2^53-1');
    store.total = total;
  }
  if (r.pos !== bytes.length) fail(`${bytes.length - r.pos} trailing bytes`);
  const n = s.neg.total + zero + s.pos.total;
  if (!Number.isSafeInteger(n)) fail('counts exceed 2^53-1');
  if (n === 0 ? lowest !== Infinity || highest !== -Infinity : !(Number.isFinite(lowest) && Number.isFinite(highest) && lowest <= highest)) {
    fail(`min ${lowest} / max ${highest} do not fit ${n} values`);
  }
  if ((s.neg.total > 0 && !(lowest < 0)) || (s.pos.total > 0 && !(highest > 0))) fail(`min ${lowest} / max ${highest} do not fit the stores`);
  return { zero, lowest, highest };
}
