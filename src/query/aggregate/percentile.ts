/**
 * Percentiles: nearest rank. A (group, window) with at most Plan.exactMax values is answered exactly by quickselect in
 * a reusable scratch buffer; a larger one from the reusable DDSketch below (relative accuracy PERCENTILE_SKETCH_ALPHA),
 * the same sketch partial aggregates ship between partitions, nodes and rollups (docs/query-semantics.md).
 */
import { DDSketch, DEFAULT_SKETCH_ALPHA, DEFAULT_SKETCH_MAX_BUCKETS, nearestRank } from './sketch.js';

/** Relative accuracy of sketched percentiles: |v̂ − v| <= α·|v| for the true nearest-rank value v. */
export const PERCENTILE_SKETCH_ALPHA = DEFAULT_SKETCH_ALPHA;
/** Bucket bound per sign of the engine's sketches (see sketch.ts: never reached by real data). */
export const PERCENTILE_SKETCH_MAX_BUCKETS = DEFAULT_SKETCH_MAX_BUCKETS;

/** Reusable; the engine is synchronous, so one per process is enough. Its counters stay small (<= 128 KiB). */
const sketch = new DDSketch(PERCENTILE_SKETCH_ALPHA, PERCENTILE_SKETCH_MAX_BUCKETS);

/** The engine's sketch, emptied. */
export function percentileSketch(): DDSketch {
  sketch.clear();
  return sketch;
}

/** Reusable; the engine is synchronous, so one per process is enough. */
let scratch = new Float64Array(1024);

/** The scratch buffer, grown to hold at least n values; its contents are not kept. */
export function percentileScratch(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  return scratch;
}

export function releasePercentileScratch(maxKept: number): void {
  if (scratch.length > maxKept) scratch = new Float64Array(1024);
}

/** 1-based nearest rank ceil(pct/100 × n), at least 1; pct × n is an exact integer, so no 0.07×100 drift. */
export function percentileRank(pct: number, n: number): number {
  return nearestRank(pct, n);
}

/**
 * The k-th smallest of a[lo..hi] (inclusive; k absolute), reordering that slice. Quickselect with a median-of-three
 * pivot and a three-way partition (many equal values are common); falls back to sorting after too many rounds, so
 * the worst case stays O(n log n).
 */
export function selectKth(a: Float64Array, lo: number, hi: number, k: number): number {
  let budget = 2 * (32 - Math.clz32(hi - lo + 1)) + 4;
  while (hi > lo) {
    if (hi - lo < 24 || budget-- === 0) {
      a.subarray(lo, hi + 1).sort();
      return a[k]!;
    }
    const x = a[lo]!;
    const y = a[(lo + hi) >>> 1]!;
    const z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let lt = lo;
    let i = lo;
    let gt = hi;
    while (i <= gt) {
      const v = a[i]!;
      if (v < pivot) {
        a[i++] = a[lt]!;
        a[lt++] = v;
      } else if (v > pivot) {
        a[i] = a[gt]!;
        a[gt--] = v;
      } else i++;
    }
    if (k < lt) hi = lt - 1;
    else if (k > gt) lo = gt + 1;
    else return a[k]!;
  }
  return a[k]!;
}
