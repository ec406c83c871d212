/**
 * Rollups of a sealed block (docs/format/block.md §9): per configured resolution r (epoch-aligned buckets
 * [floor(t/r)·r, +r)), the count, min, max and sum of the block's points in each non-empty bucket, so an aggregate
 * whose windows are multiples of r reads a block that spans several windows without decoding it. The section sits
 * inside the block (header version 3, covered by the block CRC), so it is always exactly the block's points.
 *
 * A resolution whose buckets would all be one (the block lies inside one bucket) adds nothing the header does not
 * already say and is not written; a block with no resolution left keeps the version-2 header.
 */

import { CompactReader, MAX_EXPONENT, POW10, chooseExponent, pushStat, pushUVarint } from './compact-fields.js';
import { pushBucketSketches, readBucketSketches, rollupSketch } from './rollup-sketch.js';
import type { DDSketch } from './sketch.js';

export interface RollupBucket {
  /** Bucket start, a multiple of the resolution; the bucket is [start, start + resolution). */
  start: number;
  count: number;
  /** Math.min / Math.max over the bucket's values (NaN propagates, −0 < +0), as the block header's min/max. */
  min: number;
  max: number;
  /** Left-to-right float64 sum in stored order. */
  sum: number;
  /** The DDSketch of the bucket's values (α = 0.01), when the entry carries sketches (§9.6); its min/max/count are the bucket's. */
  sketch?: DDSketch;
}

export interface Rollup {
  /** Milliseconds, a positive multiple of 1000. */
  resolution: number;
  /** Non-empty buckets, ascending by start; at least two. */
  buckets: RollupBucket[];
}

/**
 * Section layout byte of one resolution: bits 0–4 the exponent, bit 5 a raw bitmap follows, bit 6 the last bucket's
 * sum is not stored but derived from the header's sum, bit 7 bucket sketches follow.
 */
const LAYOUT_RAW = 0x20;
const LAYOUT_LAST_SUM_DERIVED = 0x40;
/** Bit 7: the entry's bucket sketches follow its buckets (§9.6). Blocks written before sketches always have it clear. */
const LAYOUT_SKETCHES = 0x80;

/**
 * In a rollup spec (the resolutions handed to encodeBlock, e.g. from `--rollups 1h,sketch`), this entry asks for bucket
 * sketches at the coarsest resolution; every other entry is a resolution in ms.
 */
export const ROLLUP_SKETCH = 0;

/** A rollup spec split into its resolutions (checked, ascending) and whether the coarsest carries sketches. */
export function splitRollupSpec(spec: readonly number[]): { resolutions: number[]; sketches: boolean } {
  const resolutions = normalizeResolutions(spec.filter((r) => r !== ROLLUP_SKETCH));
  return { resolutions, sketches: resolutions.length > 0 && spec.includes(ROLLUP_SKETCH) };
}

/** `floor(t/r)*r` with a true floor for negative t (integer remainders never round). */
export function bucketStart(t: number, r: number): number {
  const m = t % r;
  return m < 0 ? t - m - r : t - m;
}

/** Checks configured resolutions: positive whole seconds, safe; returned ascending without duplicates. */
export function normalizeResolutions(resolutions: readonly number[]): number[] {
  for (const r of resolutions) {
    if (!Number.isSafeInteger(r) || r < 1000 || r % 1000 !== 0) throw new Error(`rollup resolution ${r} ms is not a positive whole number of seconds`);
  }
  return [...new Set(resolutions)].sort((a, b) => a - b);
}

/**
 * The rollups of points (stored order) at each resolution that has at least two non-empty buckets. With ROLLUP_SKETCH
 * in `spec`, the coarsest configured resolution's buckets also get sketches — when that resolution is written and every
 * value is finite (a sketch holds finite values only; a block with NaN or ±Infinity gets none).
 */
export function computeRollups(ts: ArrayLike<number>, vs: ArrayLike<number>, spec: readonly number[]): Rollup[] {
  const out: Rollup[] = [];
  const n = ts.length;
  if (n < 2) return out;
  const { resolutions, sketches } = splitRollupSpec(spec);
  for (const r of resolutions) {
    const byStart = new Map<number, RollupBucket>();
    let cur: RollupBucket | undefined;
    for (let i = 0; i < n; i++) {
      const t = ts[i]!;
      const v = vs[i]!;
      // Sealed blocks are ascending: the bucket of the previous point is the usual hit.
      if (cur === undefined || t < cur.start || t - cur.start >= r) {
        const s = bucketStart(t, r);
        cur = byStart.get(s);
        if (cur === undefined) {
          byStart.set(s, { start: s, count: 1, min: v, max: v, sum: v });
          cur = byStart.get(s);
          continue;
        }
      }
      cur!.count++;
      cur!.min = Math.min(cur!.min, v);
      cur!.max = Math.max(cur!.max, v);
      cur!.sum += v;
    }
    if (byStart.size < 2) continue;
    out.push({ resolution: r, buckets: [...byStart.values()].sort((a, b) => a.start - b.start) });
  }
  const coarsest = out[out.length - 1];
  if (sketches && coarsest !== undefined && coarsest.resolution === resolutions[resolutions.length - 1]) addSketches(ts, vs, coarsest);
  return out;
}

function addSketches(ts: ArrayLike<number>, vs: ArrayLike<number>, rollup: Rollup): void {
  const n = ts.length;
  for (let i = 0; i < n; i++) if (!Number.isFinite(vs[i]!)) return;
  const r = rollup.resolution;
  const byStart = new Map<number, DDSketch>();
  for (const b of rollup.buckets) byStart.set(b.start, (b.sketch = rollupSketch()));
  let cur: DDSketch | undefined;
  let curStart = NaN;
  for (let i = 0; i < n; i++) {
    const t = ts[i]!;
    if (!(t >= curStart && t - curStart < r)) {
      curStart = bucketStart(t, r);
      cur = byStart.get(curStart)!;
    }
    cur!.add(vs[i]!);
  }
}

/**
 * The resolution field: whole minutes as 2·minutes + 1 (5 m and 1 h take one byte), other whole seconds as 2·seconds.
 */
function encodeResolution(out: number[], r: number): void {
  const seconds = r / 1000;
  pushUVarint(out, seconds % 60 === 0 ? (seconds / 60) * 2 + 1 : seconds * 2);
}

/**
 * The last bucket's sum as the reader derives it when layout bit 6 is set: the header's sum minus the other buckets'
 * sums, subtracted left to right. The writer sets the bit only when this is bit-identical to the stored sum (always,
 * for integer data), which saves the largest number of a bucket.
 */
function derivedLastSum(blockSum: number, buckets: readonly { sum: number }[], k: number): number {
  let x = blockSum;
  for (let j = 0; j < k - 1; j++) x -= buckets[j]!.sum;
  return x;
}

/** The section bytes (without its length prefix) for rollups of a block with the given header count/minT/maxT/sum. */
export function encodeRollupSection(rollups: readonly Rollup[], h: { minT: number; maxT: number; sum: number }): Uint8Array {
  const { minT, maxT } = h;
  const out: number[] = [];
  for (const { resolution: r, buckets } of rollups) {
    const k = buckets.length;
    const firstIdx = bucketStart(minT, r) / r;
    const lastIdx = bucketStart(maxT, r) / r;
    if (k < 2 || buckets[0]!.start / r !== firstIdx || buckets[k - 1]!.start / r !== lastIdx) {
      throw new Error(`rollup at ${r} ms does not span the block [${minT}, ${maxT}] with at least two buckets`);
    }
    encodeResolution(out, r);
    pushUVarint(out, k);
    if (k < lastIdx - firstIdx + 1) {
      for (let j = 1; j < k - 1; j++) pushUVarint(out, (buckets[j]!.start - buckets[j - 1]!.start) / r - 1);
    }
    const lastSum = buckets[k - 1]!.sum;
    const derived = !Number.isNaN(lastSum) && Object.is(derivedLastSum(h.sum, buckets, k), lastSum);
    const values: number[] = [];
    for (const b of buckets) values.push(b.min, b.max, b.sum);
    // A derived sum is not stored, so it does not take part in the choice of the exponent.
    const { e, mantissas } = chooseExponent(derived ? values.slice(0, -1) : values);
    if (derived) mantissas.push(0);
    const raw = mantissas.some((m) => m === null);
    const sketches = buckets.every((b) => b.sketch !== undefined);
    out.push(e | (raw ? LAYOUT_RAW : 0) | (derived ? LAYOUT_LAST_SUM_DERIVED : 0) | (sketches ? LAYOUT_SKETCHES : 0));
    if (raw) {
      const bitmap = new Array<number>(Math.ceil(values.length / 8)).fill(0);
      mantissas.forEach((m, i) => {
        if (m === null) bitmap[i >> 3]! |= 1 << (i & 7);
      });
      out.push(...bitmap);
    }
    for (let j = 0; j < k; j++) {
      if (j < k - 1) pushUVarint(out, buckets[j]!.count);
      const fields = j === k - 1 && derived ? 2 : 3;
      for (let f = 0; f < fields; f++) pushStat(out, values[3 * j + f]!, mantissas[3 * j + f]!);
    }
    if (sketches) pushBucketSketches(out, buckets.map((b) => b.sketch!));
  }
  return Uint8Array.from(out);
}

/**
 * Parses a rollup section [offset, offset + length) of a block whose header has `count`, `minT`, `maxT`. Throws a
 * plain Error naming what is wrong; block.ts wraps it into the catalogue error.
 */
export function decodeRollupSection(b: Uint8Array, offset: number, length: number, h: { count: number; minT: number; maxT: number; sum: number }): Rollup[] {
  const end = offset + length;
  const r = new CompactReader(b.subarray(0, end), offset, 'rollup section');
  const out: Rollup[] = [];
  let prev = 0;
  while (r.pos < end) {
    const code = r.uvarint('rollup resolution');
    const seconds = code % 2 === 1 ? ((code - 1) / 2) * 60 : code / 2;
    const res = seconds * 1000;
    if (seconds <= prev / 1000 || !Number.isSafeInteger(res)) throw new Error(`rollup resolution ${seconds} s is not above the previous one (${prev / 1000} s) or too large`);
    prev = res;
    const firstIdx = bucketStart(h.minT, res) / res;
    const lastIdx = bucketStart(h.maxT, res) / res;
    const span = lastIdx - firstIdx + 1;
    const k = r.uvarint('rollup bucket count');
    if (k < 2 || k > span || k > h.count) throw new Error(`rollup at ${seconds} s has ${k} buckets (block spans ${span}, holds ${h.count} points)`);
    const idx = new Array<number>(k);
    idx[0] = firstIdx;
    idx[k - 1] = lastIdx;
    for (let j = 1; j < k - 1; j++) {
      idx[j] = k === span ? firstIdx + j : idx[j - 1]! + 1 + r.uvarint('rollup bucket gap');
      if (idx[j]! >= lastIdx) throw new Error(`rollup at ${seconds} s: bucket ${j} is not before the last bucket`);
    }
    if (r.pos >= end) throw new Error('rollup section ends inside a layout byte');
    const layout = b[r.pos++]!;
    const e = layout & 0x1f;
    if (e > MAX_EXPONENT) throw new Error(`rollup exponent ${e} is above ${MAX_EXPONENT}`);
    let bitmap: Uint8Array | undefined;
    if ((layout & LAYOUT_RAW) !== 0) {
      const size = Math.ceil((3 * k) / 8);
      if (r.pos + size > end) throw new Error('rollup section ends inside a raw bitmap');
      bitmap = b.subarray(r.pos, r.pos + size);
      r.pos += size;
    }
    const p10 = POW10[e]!;
    const isRaw = (i: number): boolean => bitmap !== undefined && (bitmap[i >> 3]! & (1 << (i & 7))) !== 0;
    const buckets: RollupBucket[] = [];
    let counted = 0;
    for (let j = 0; j < k; j++) {
      let count: number;
      if (j < k - 1) {
        count = r.uvarint('rollup bucket count');
        counted += count;
      } else {
        count = h.count - counted;
      }
      if (count < 1 || counted > h.count) throw new Error(`rollup at ${seconds} s: bucket ${j} has count ${count} (block holds ${h.count} points)`);
      const min = r.stat(isRaw(3 * j), p10, 'rollup min');
      const max = r.stat(isRaw(3 * j + 1), p10, 'rollup max');
      const sum = j === k - 1 && (layout & LAYOUT_LAST_SUM_DERIVED) !== 0 ? derivedLastSum(h.sum, buckets, k) : r.stat(isRaw(3 * j + 2), p10, 'rollup sum');
      buckets.push({ start: idx[j]! * res, count, min, max, sum });
    }
    if ((layout & LAYOUT_SKETCHES) !== 0) {
      readBucketSketches(r, end, buckets, `rollup at ${seconds} s`);
    }
    out.push({ resolution: res, buckets });
  }
  if (r.pos !== end) throw new Error(`rollup section overruns its ${length} bytes`);
  return out;
}
