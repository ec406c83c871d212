/**
 * DDSketch (Masson, Rim, Lee — "DDSketch: a fast and fully-mergeable quantile sketch with relative-error
 * guarantees", VLDB 2019): a mergeable quantile sketch with a relative-error bound. Own implementation, see
 * docs/format/sketch.md for the byte layout and docs/query-semantics.md for how the engine uses it.
 *
 *  - Mapping (logarithmic): a value v with |v| >= 2^-1022 goes to bucket key k = ceil(ln|v| / ln γ); bucket k covers
 *    (γ^(k-1), γ^k] and is represented by 2γ^k/(γ+1), within a·|v| of every value in it. γ = (1+a)/(1−a) with
 *    a = α·(1 − 1e-6): the margin α − a absorbs floating-point rounding in ln, exp and bucket boundaries, so the
 *    documented α holds in float arithmetic, not just in real numbers.
 *  - Positive values, negative values (by |v|) and zeros (|v| < 2^-1022: exact zeros, −0 and subnormals) are counted
 *    separately. Sorted order is: negatives by descending key, zeros, positives by ascending key.
 *  - Quantile at 1-based rank r (nearest rank: r = ceil(NN/100 × n) for pNN, see nearestRank): the bucket holding the
 *    r-th smallest value, then clamped to [min, max] (exact, tracked); rank 1 is min and rank n is max exactly.
 *    Guarantee: |v̂ − v| <= α·|v| for the true r-th smallest value v, unless v was collapsed (below) or is subnormal.
 *  - Memory bound: each sign's store keeps at most maxBuckets consecutive keys. Past that, the positive store folds
 *    its lowest keys (smallest positive values) into its lowest kept key, the negative store its highest keys (most
 *    negative values) into its highest kept key: the lowest values of each sign lose the guarantee (they are
 *    over-estimated), every other value keeps it (the fold is monotone). The final state depends only on the
 *    multiset of values — a key k becomes max(k, maxKey − maxBuckets + 1) (positives) — so collapsing does not break
 *    mergeability. With α = 0.01 the default 4096 keys per sign cover a magnitude ratio of γ^4096 ≈ 3.8e35
 *    (e.g. 1e-17..1e18): real data never collapses.
 *  - Merge: counts add bucket by bucket; merge(sketch(A), sketch(B)) equals sketch(A ∪ B) bucket for bucket (same
 *    mapping, same maxBuckets).
 *
 * The hot path (add / addRange) allocates nothing: counters live in Float64Arrays that grow (doubling, at most
 * 2 × nextPow2(maxBuckets) slots per store) only when a new key falls outside them.
 */
import { TsdbError } from '../../common/errors.js';

export const SKETCH_FORMAT_VERSION = 1;
/** Relative accuracy the engine's percentile sketches guarantee. */
export const DEFAULT_SKETCH_ALPHA = 0.01;
/** Most keys per sign store (see the memory bound above). */
export const DEFAULT_SKETCH_MAX_BUCKETS = 4096;
/** Smallest magnitude that gets a bucket (2^-1022, the smallest normal double); smaller ones count as zero. */
export const SKETCH_MIN_INDEXABLE = 2 ** -1022;
const MAX_VALUE = Number.MAX_VALUE;
const HEADER_BYTES = 30;
/** Relative margin between the documented α and the mapping's a (see the file comment). */
const ALPHA_MARGIN = 1e-6;

/** 1-based nearest rank of percentile NN over n values: ceil(NN·n/100), at least 1 (NN·n is exact for integer NN). */
export function nearestRank(pct: number, n: number): number {
  return Math.max(1, Math.ceil((pct * n) / 100));
}

function sketchError(what: string, why: string): TsdbError {
  return new TsdbError('TSDB_ERR_INTERNAL', `cannot ${what}: ${why}`, { retriable: false });
}

/** Consecutive bucket counters for one sign, keyed by integer keys, bounded to maxBuckets keys. */
class KeyStore {
  /** c[k - off] = count of key k; zero outside [lo, hi]. */
  c: Float64Array;
  off = 0;
  /** Lowest and highest non-zero keys; lo > hi (1, 0) when empty. */
  lo = 1;
  hi = 0;
  total = 0;

  constructor(
    /** true: fold the lowest keys when over maxBuckets (positives); false: fold the highest (negatives). */
    readonly foldLow: boolean,
    readonly maxBuckets: number,
    readonly capMax: number,
    initialCap = 64,
  ) {
    this.c = new Float64Array(Math.min(initialCap, capMax));
  }

  clear(): void {
    if (this.total > 0) this.c.fill(0, this.lo - this.off, this.hi - this.off + 1);
    this.lo = 1;
    this.hi = 0;
    this.total = 0;
  }

  add(k: number, w: number): void {
    if (k >= this.lo && k <= this.hi) {
      this.c[k - this.off] += w;
      this.total += w;
      return;
    }
    this.include(k, k);
    if (k < this.lo) k = this.lo; // folded (foldLow)
    else if (k > this.hi) k = this.hi; // folded (!foldLow)
    this.c[k - this.off] += w;
    this.total += w;
  }

  /**
   * Widens [lo, hi] to include [a, b] (a <= b, about to receive counts), folding past maxBuckets, and makes the
   * counters cover the new range.
   */
  include(a: number, b: number): void {
    const empty = this.total === 0;
    let nLo = empty ? a : Math.min(a, this.lo);
    let nHi = empty ? b : Math.max(b, this.hi);
    const B = this.maxBuckets;
    if (nHi - nLo + 1 > B) {
      if (this.foldLow) nLo = nHi - B + 1;
      else nHi = nLo + B - 1;
    }
    let folded = 0;
    if (!empty) {
      const c = this.c;
      const off = this.off;
      if (this.lo < nLo) {
        for (let k = this.lo, e = Math.min(this.hi, nLo - 1); k <= e; k++) {
          folded += c[k - off]!;
          c[k - off] = 0;
        }
      }
      if (this.hi > nHi) {
        for (let k = Math.max(this.lo, nHi + 1); k <= this.hi; k++) {
          folded += c[k - off]!;
          c[k - off] = 0;
        }
      }
    }
    if (nLo < this.off || nHi >= this.off + this.c.length) this.relayout(nLo, nHi, empty);
    if (folded > 0) this.c[(this.foldLow ? nLo : nHi) - this.off] += folded;
    this.lo = nLo;
    this.hi = nHi;
  }

  /** New counters covering [nLo, nHi] with slack on both sides; keeps the (already folded) counts. */
  private relayout(nLo: number, nHi: number, empty: boolean): void {
    const span = nHi - nLo + 1;
    let cap = this.c.length;
    while (cap < 2 * span && cap < this.capMax) cap *= 2;
    if (cap < span) cap = span; // only when capMax < span, which the constructor rules out
    const off = nLo - Math.floor((cap - span) / 2);
    const next = cap === this.c.length && empty ? this.c : new Float64Array(cap);
    if (!empty) {
      const from = Math.max(this.lo, nLo);
      const to = Math.min(this.hi, nHi);
      for (let k = from; k <= to; k++) next[k - off] = this.c[k - this.off]!;
    }
    this.c = next;
    this.off = off;
  }

  /** Key holding the r-th (1-based, r <= total) value counting from the lowest key. */
  keyFromLow(r: number): number {
    let acc = 0;
    for (let k = this.lo; k <= this.hi; k++) {
      acc += this.c[k - this.off]!;
      if (acc >= r) return k;
    }
    return this.hi;
  }

  /** Key holding the r-th (1-based, r <= total) value counting from the highest key. */
  keyFromHigh(r: number): number {
    let acc = 0;
    for (let k = this.hi; k >= this.lo; k--) {
      acc += this.c[k - this.off]!;
      if (acc >= r) return k;
    }
    return this.lo;
  }

  merge(o: KeyStore): void {
    if (o.total === 0) return;
    this.include(o.lo, o.hi);
    const lo = this.lo;
    const hi = this.hi;
    for (let k = o.lo; k <= o.hi; k++) {
      const n = o.c[k - o.off]!;
      if (n === 0) continue;
      const t = k < lo ? lo : k > hi ? hi : k;
      this.c[t - this.off] += n;
    }
    this.total += o.total;
  }

  count(k: number): number {
    return k >= this.lo && k <= this.hi ? this.c[k - this.off]! : 0;
  }
}

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

export interface SketchBuckets {
  /** [key, count] of the negative store (keys of |v|), ascending by key, non-zero counts only. */
  negative: Array<[number, number]>;
  zero: number;
  /** [key, count] of the positive store, ascending by key, non-zero counts only. */
  positive: Array<[number, number]>;
}

/**
 * A DDSketch (see the file comment). Not thread-safe, synchronous. Values must be finite; add/addRange throw a
 * TsdbError on NaN or ±Infinity (the sketch is then unchanged by the offending value but may hold earlier ones).
 */
export class DDSketch {
  /** Documented relative accuracy: |v̂ − v| <= alpha·|v|. */
  readonly alpha: number;
  readonly maxBuckets: number;
  /** γ of the mapping (from a = alpha·(1 − 1e-6)). */
  readonly gamma: number;
  private readonly lnGamma: number;
  private readonly invLnGamma: number;
  /** ln(2/(γ+1)): the representative of key k is exp(k·ln γ + lnRepFactor) = 2γ^k/(γ+1). */
  private readonly lnRepFactor: number;
  /** Key range of normal doubles (validation of decoded keys). */
  private readonly minKey: number;
  private readonly maxKey: number;
  private readonly pos: KeyStore;
  private readonly neg: KeyStore;
  private zero = 0;
  private lowest = Infinity;
  private highest = -Infinity;

  constructor(alpha: number = DEFAULT_SKETCH_ALPHA, maxBuckets: number = DEFAULT_SKETCH_MAX_BUCKETS) {
    if (!(alpha > 0 && alpha < 1)) throw sketchError('create sketch', `relative accuracy ${alpha} is not in (0, 1)`);
    if (!Number.isInteger(maxBuckets) || maxBuckets < 1 || maxBuckets > 0xffff_ffff) {
      throw sketchError('create sketch', `maxBuckets ${maxBuckets} is not an integer in [1, 2^32-1]`);
    }
    this.alpha = alpha;
    this.maxBuckets = maxBuckets;
    const a = alpha * (1 - ALPHA_MARGIN);
    this.gamma = (1 + a) / (1 - a);
    this.lnGamma = Math.log1p(a) - Math.log1p(-a);
    this.invLnGamma = 1 / this.lnGamma;
    this.lnRepFactor = Math.log(2 / (this.gamma + 1));
    this.minKey = this.keyOf(SKETCH_MIN_INDEXABLE);
    this.maxKey = this.keyOf(MAX_VALUE);
    let capMax = 1;
    while (capMax < maxBuckets) capMax *= 2;
    capMax *= 2;
    this.pos = new KeyStore(true, maxBuckets, capMax);
    this.neg = new KeyStore(false, maxBuckets, capMax);
  }

  /** Bucket key of a magnitude m >= 2^-1022. */
  keyOf(m: number): number {
    // `| 0`: Math.ceil of a value in (-1, 0) is -0, and bucket keys must compare and serialize as plain 0.
    return Math.ceil(Math.log(m) * this.invLnGamma) | 0;
  }

  /**
   * The value bucket key k stands for: 2γ^k/(γ+1) (in one exp, so γ^k may exceed the double range), at most
   * Number.MAX_VALUE (every value is at most that, so the cap only moves the estimate toward it).
   */
  representative(k: number): number {
    const r = Math.exp(k * this.lnGamma + this.lnRepFactor);
    return r > MAX_VALUE ? MAX_VALUE : r;
  }

  get count(): number {
    return this.neg.total + this.zero + this.pos.total;
  }

  /** Smallest value added (exact); +Infinity when empty. */
  get min(): number {
    return this.lowest;
  }

  /** Largest value added (exact); -Infinity when empty. */
  get max(): number {
    return this.highest;
  }

  get zeroCount(): number {
    return this.zero;
  }

  clear(): void {
    this.pos.clear();
    this.neg.clear();
    this.zero = 0;
    this.lowest = Infinity;
    this.highest = -Infinity;
  }

  /** Adds one value (finite). */
  add(v: number): void {
    if (v >= SKETCH_MIN_INDEXABLE && v <= MAX_VALUE) this.pos.add((Math.ceil(Math.log(v) * this.invLnGamma) | 0), 1);
    else if (v <= -SKETCH_MIN_INDEXABLE && v >= -MAX_VALUE) this.neg.add((Math.ceil(Math.log(-v) * this.invLnGamma) | 0), 1);
    else if (v > -SKETCH_MIN_INDEXABLE && v < SKETCH_MIN_INDEXABLE) this.zero++;
    else throw sketchError('add value to sketch', `value ${v} is not finite`);
    if (v < this.lowest) this.lowest = v;
    if (v > this.highest) this.highest = v;
  }

  /** Adds vs[from..to). No allocation unless a new key falls outside the counters. */
  addRange(vs: ArrayLike<number>, from: number, to: number): void {
    const inv = this.invLnGamma;
    const pos = this.pos;
    const neg = this.neg;
    // the stores' fast path inlined: counters and their key range in locals, reloaded after a slow add
    let pc = pos.c;
    let pOff = pos.off;
    let pLo = pos.lo;
    let pHi = pos.hi;
    let nc = neg.c;
    let nOff = neg.off;
    let nLo = neg.lo;
    let nHi = neg.hi;
    let pAdded = 0;
    let nAdded = 0;
    let lowest = this.lowest;
    let highest = this.highest;
    let zero = 0;
    let i = from;
    for (; i < to; i++) {
      const v = vs[i]!;
      if (v >= SKETCH_MIN_INDEXABLE) {
        if (v > MAX_VALUE) break;
        const k = (Math.ceil(Math.log(v) * inv) | 0);
        if (k >= pLo && k <= pHi) {
          pc[k - pOff]++;
          pAdded++;
        } else {
          pos.add(k, 1);
          pc = pos.c;
          pOff = pos.off;
          pLo = pos.lo;
          pHi = pos.hi;
        }
      } else if (v <= -SKETCH_MIN_INDEXABLE) {
        if (v < -MAX_VALUE) break;
        const k = (Math.ceil(Math.log(-v) * inv) | 0);
        if (k >= nLo && k <= nHi) {
          nc[k - nOff]++;
          nAdded++;
        } else {
          neg.add(k, 1);
          nc = neg.c;
          nOff = neg.off;
          nLo = neg.lo;
          nHi = neg.hi;
        }
      } else if (v === v) {
        zero++;
      } else break;
      if (v < lowest) lowest = v;
      if (v > highest) highest = v;
    }
    pos.total += pAdded;
    neg.total += nAdded;
    this.zero += zero;
    this.lowest = lowest;
    this.highest = highest;
    if (i < to) throw sketchError('add value to sketch', `value ${vs[i]} at index ${i} is not finite`);
  }

  private checkCompatible(o: DDSketch, what: string): void {
    if (o.alpha !== this.alpha || o.maxBuckets !== this.maxBuckets) {
      throw sketchError(what, `sketches differ (alpha ${this.alpha} vs ${o.alpha}, maxBuckets ${this.maxBuckets} vs ${o.maxBuckets})`);
    }
  }

  /** Adds o's counts to this sketch: afterwards this is the sketch of the union of both inputs. */
  merge(o: DDSketch): void {
    this.checkCompatible(o, 'merge sketches');
    if (this.count + o.count > Number.MAX_SAFE_INTEGER) throw sketchError('merge sketches', 'the total count would exceed 2^53-1');
    this.pos.merge(o.pos);
    this.neg.merge(o.neg);
    this.zero += o.zero;
    if (o.lowest < this.lowest) this.lowest = o.lowest;
    if (o.highest > this.highest) this.highest = o.highest;
  }

  /**
   * Estimate of the r-th smallest value (1-based; r is clamped to [1, count]); NaN when empty. Rank 1 and rank
   * count are the exact min and max; otherwise within alpha·|v| of the true value v (see the file comment).
   */
  valueAtRank(r: number): number {
    const n = this.count;
    if (n === 0) return NaN;
    r = Math.min(n, Math.max(1, Math.ceil(r)));
    if (r === 1) return this.lowest;
    if (r === n) return this.highest;
    const nNeg = this.neg.total;
    let v: number;
    if (r <= nNeg) v = -this.representative(this.neg.keyFromHigh(r));
    else if (r <= nNeg + this.zero) v = 0;
    else v = this.representative(this.pos.keyFromLow(r - nNeg - this.zero));
    return v < this.lowest ? this.lowest : v > this.highest ? this.highest : v;
  }

  /** Percentile NN (0 < NN <= 100) by nearest rank ceil(NN·n/100), as the engine's pNN. */
  percentile(pct: number): number {
    return this.valueAtRank(nearestRank(pct, this.count));
  }

  /** The non-zero buckets (for tests and inspection). */
  buckets(): SketchBuckets {
    const list = (s: KeyStore): Array<[number, number]> => {
      const out: Array<[number, number]> = [];
      for (let k = s.lo; k <= s.hi; k++) if (s.count(k) > 0) out.push([k, s.count(k)]);
      return out;
    };
    return { negative: list(this.neg), zero: this.zero, positive: list(this.pos) };
  }

  /** Serializes to the layout of docs/format/sketch.md (version 1). Equal sketches give equal bytes. */
  encode(): Uint8Array {
    const w = new Writer();
    w.u8(SKETCH_FORMAT_VERSION);
    w.u8(0);
    w.f64(this.alpha);
    w.u32(this.maxBuckets);
    w.f64(this.lowest);
    w.f64(this.highest);
    w.uvar(this.zero);
    for (const s of [this.pos, this.neg]) {
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

  /** Parses bytes written by encode (docs/format/sketch.md); throws TSDB_ERR_INTERNAL on anything malformed. */
  static decode(bytes: Uint8Array): DDSketch {
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
    const s = new DDSketch(alpha, maxBuckets);
    const lowest = r.f64();
    const highest = r.f64();
    s.zero = r.uvar();
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
    const n = s.count;
    if (!Number.isSafeInteger(n)) fail('counts exceed 2^53-1');
    if (n === 0 ? lowest !== Infinity || highest !== -Infinity : !(Number.isFinite(lowest) && Number.isFinite(highest) && lowest <= highest)) {
      fail(`min ${lowest} / max ${highest} do not fit ${n} values`);
    }
    if ((s.neg.total > 0 && !(lowest < 0)) || (s.pos.total > 0 && !(highest > 0))) fail(`min ${lowest} / max ${highest} do not fit the stores`);
    s.lowest = lowest;
    s.highest = highest;
    return s;
  }
}
