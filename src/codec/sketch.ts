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
import { SKETCH_FORMAT_VERSION, decodeSketch, encodeSketch } from './sketch-codec.js';
import { sketchError } from './sketch-error.js';
import { KeyStore } from './sketch-key-store.js';

export { SKETCH_FORMAT_VERSION };

/** Relative accuracy the engine's percentile sketches guarantee. */
export const DEFAULT_SKETCH_ALPHA = 0.01;
/** Most keys per sign store (see the memory bound above). */
export const DEFAULT_SKETCH_MAX_BUCKETS = 4096;
/** Smallest magnitude that gets a bucket (2^-1022, the smallest normal double); smaller ones count as zero. */
export const SKETCH_MIN_INDEXABLE = 2 ** -1022;
const MAX_VALUE = Number.MAX_VALUE;
/** Relative margin between the documented α and the mapping's a (see the file comment). */
const ALPHA_MARGIN = 1e-6;

/** 1-based nearest rank of percentile NN over n values: ceil(NN·n/100), at least 1 (NN·n is exact for integer NN). */
export function nearestRank(pct: number, n: number): number {
  return Math.max(1, Math.ceil((pct * n) / 100));
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

  /**
   * The sketch with exactly these buckets and this exact min/max (how a rollup section stores a bucket's sketch,
   * docs/format/block.md §9.6). Throws (TSDB_ERR_INTERNAL) on a key outside the mapping's range, a store wider than
   * maxBuckets (a real sketch never is), a count that is not a positive integer, or a total above 2^53 − 1.
   */
  static fromBuckets(b: SketchBuckets, min: number, max: number, alpha: number = DEFAULT_SKETCH_ALPHA, maxBuckets: number = DEFAULT_SKETCH_MAX_BUCKETS): DDSketch {
    const s = new DDSketch(alpha, maxBuckets);
    const load = (store: KeyStore, list: ReadonlyArray<readonly [number, number]>, sign: string): void => {
      if (list.length === 0) return;
      const lo = list[0]![0];
      const hi = list[list.length - 1]![0];
      if (lo < s.minKey || hi > s.maxKey || hi - lo + 1 > maxBuckets) {
        throw sketchError('build sketch', `${sign} keys [${lo}, ${hi}] are outside [${s.minKey}, ${s.maxKey}] or span more than ${maxBuckets}`);
      }
      store.include(lo, hi); // one layout for the whole span (no fold: it is at most maxBuckets wide)
      let prev = lo - 1;
      for (const [k, c] of list) {
        if (k <= prev || !Number.isSafeInteger(c) || c < 1) throw sketchError('build sketch', `${sign} key ${k} (count ${c}) is not ascending or its count not a positive integer`);
        prev = k;
        store.c[k - store.off] += c;
        store.total += c;
      }
    };
    load(s.neg, b.negative, 'negative');
    load(s.pos, b.positive, 'positive');
    if (!Number.isSafeInteger(b.zero) || b.zero < 0 || s.neg.total + s.pos.total + b.zero > Number.MAX_SAFE_INTEGER) throw sketchError('build sketch', `zero count ${b.zero} is invalid or the total exceeds 2^53-1`);
    s.zero = b.zero;
    if (s.count > 0) {
      s.lowest = min;
      s.highest = max;
    }
    return s;
  }

  /** Serializes to the layout of docs/format/sketch.md (version 1). Equal sketches give equal bytes. */
  encode(): Uint8Array {
    return encodeSketch({ alpha: this.alpha, maxBuckets: this.maxBuckets, lowest: this.lowest, highest: this.highest, zero: this.zero }, this.pos, this.neg);
  }

  /** Parses bytes written by encode (docs/format/sketch.md); throws TSDB_ERR_INTERNAL on anything malformed. */
  static decode(bytes: Uint8Array): DDSketch {
    let s!: DDSketch;
    const rest = decodeSketch(bytes, (alpha, maxBuckets) => {
      s = new DDSketch(alpha, maxBuckets);
      return { pos: s.pos, neg: s.neg, minKey: s.minKey, maxKey: s.maxKey };
    });
    s.zero = rest.zero;
    s.lowest = rest.lowest;
    s.highest = rest.highest;
    return s;
  }
}
