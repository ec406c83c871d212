/**
 * The bucket counters of one sign of a DDSketch (sketch.ts; its file comment gives the mapping, the memory bound and
 * why folding keeps merges exact): add, fold past maxBuckets, merge, and the rank lookups quantiles need.
 */
/** Consecutive bucket counters for one sign, keyed by integer keys, bounded to maxBuckets keys. */
export class KeyStore {
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
