/**
 * Block-header answers for aggregates (docs/query-semantics.md, "Block summaries"): one series' stored blocks and
 * head runs, given in log order, split into whole blocks answered from their headers and the other points, merged
 * exactly as PartitionState.read merges them.
 *
 * A block is summarized only when its header says exactly what the merged read would hold for [minT, maxT]:
 *  - its timestamps are strictly increasing (FLAG_STRICTLY_INCREASING): no duplicate inside it, and its header
 *    first/last are the values at minT/maxT;
 *  - no other run of the series (another block of either tier, a head) has a point in [minT, maxT] — checked on the
 *    runs' [min, max] spans, so no duplicate resolution involving another run can change the block's points;
 *  - it lies inside [start, end) and inside one query window;
 *  - or (opts.rollups, a version-3 block) it has a rollup whose resolution r divides the step (any r without a step:
 *    one window), and every bucket it has points in lies inside [start, end) (bucket [s, s + r) clipped to the
 *    block's [minT, maxT]; buckets wholly outside are left out): then it is answered as one summary per such bucket.
 *    r divides the step and both are aligned to the epoch, so each bucket lies inside one query window
 *    (docs/query-semantics.md "Rollups").
 *  - with opts.rollupSketches (percentiles) only the rollup case applies, and only with a rollup whose buckets carry
 *    sketches; each summary then has its bucket's sketch.
 * Taking such a block out of the merge changes nothing else: the remaining runs have no timestamp in its span.
 */
import { BLOCK_VERSION_ROLLUP, decodeBlock, decodeBlockHeader, decodeBlockRollups, FLAG_STRICTLY_INCREASING, type BlockHeader } from '../codec/block.js';
import type { BlockSummary, PointColumns, ReadPartsOptions, SeriesParts } from '../store/read-model.js';
import { mergeLogOrdered } from './merge-points.js';

/** `floor(t/step)*step` with a true floor for negative t (integer remainders never round). */
function windowOf(t: number, step: number): number {
  const r = t % step;
  return r < 0 ? t - r - step : t - r;
}

interface Span {
  lo: number;
  hi: number;
  /** Index into the blocks, or -1 for a head run. */
  block: number;
}

/**
 * @param blocks encoded blocks of the series that may hold points in [start, end), in log order (older first)
 * @param heads head runs of the series (frozen, then active), after every block in log order
 * @param decode decodes block i (checking its CRC), e.g. through a decoded-block cache
 */
export function seriesParts(
  blocks: readonly Uint8Array[],
  heads: readonly PointColumns[],
  start: number,
  end: number,
  opts: ReadPartsOptions,
  decode: (i: number) => PointColumns = (i) => decodeBlock(blocks[i]!),
): SeriesParts {
  const summarized = new Array<boolean>(blocks.length).fill(false);
  const summaries: BlockSummary[] = [];
  let rollupBlocks = 0;
  let rollupSummaries = 0;
  const headers: BlockHeader[] = new Array(blocks.length);
  // CRC is checked once per block: below for summarized and skipped blocks, by decode for the others. Blocks wholly
  // outside [start, end) (the store range is by block window) are skipped on their (checked) header.
  for (let i = 0; i < blocks.length; i++) headers[i] = decodeBlockHeader(blocks[i]!, { verifyCrc: false });
  if (opts.summaries && blocks.length > 0) {
    const spans: Span[] = [];
    for (let i = 0; i < blocks.length; i++) {
      const h = headers[i]!;
      if (h.count > 0) spans.push({ lo: h.minT, hi: h.maxT, block: i });
    }
    for (const run of heads) {
      const n = run.ts.length;
      if (n === 0) continue;
      let lo = run.ts[0]!;
      let hi = lo;
      for (let i = 1; i < n; i++) {
        const t = run.ts[i]!;
        if (t < lo) lo = t;
        else if (t > hi) hi = t;
      }
      spans.push({ lo, hi, block: -1 });
    }
    spans.sort((a, b) => a.lo - b.lo || a.hi - b.hi);
    let maxBefore = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i]!;
      const next = spans[i + 1];
      const isolated = maxBefore < s.lo && (next === undefined || next.lo > s.hi);
      if (s.hi > maxBefore) maxBefore = s.hi;
      if (!isolated || s.block < 0 || s.hi < start || s.lo >= end) continue;
      const h = headers[s.block]!;
      if ((h.flags & FLAG_STRICTLY_INCREASING) === 0) continue;
      const inside = s.lo >= start && s.hi < end;
      if (inside && opts.rollupSketches !== true && (opts.step === undefined || windowOf(s.lo, opts.step) === windowOf(s.hi, opts.step))) {
        decodeBlockHeader(blocks[s.block]!); // verifies the CRC: a damaged block fails as loudly as when decoded
        summarized[s.block] = true;
        summaries.push({ count: h.count, minT: h.minT, maxT: h.maxT, min: h.min, max: h.max, sum: h.sum, first: h.first, last: h.last });
        continue;
      }
      if ((opts.rollups !== true && opts.rollupSketches !== true) || h.version !== BLOCK_VERSION_ROLLUP) continue;
      const buckets = rollupParts(blocks[s.block]!, h, start, end, opts.step, opts.rollupSketches === true);
      if (buckets === undefined) continue;
      summarized[s.block] = true;
      for (const b of buckets) summaries.push(b);
      rollupBlocks++;
      rollupSummaries += buckets.length;
    }
  }
  const runs: PointColumns[] = [];
  let decodedBlocks = 0;
  // True while the decoded blocks, in log order, are each strictly increasing and each wholly after the one before:
  // then (with no head points) the merge is their concatenation, clipped to [start, end).
  let ascending = true;
  let prevMax = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < blocks.length; i++) {
    if (summarized[i]) continue;
    const h = headers[i]!;
    if (h.count === 0 || h.maxT < start || h.minT >= end) {
      decodeBlockHeader(blocks[i]!); // verifies the CRC: a damaged header must not make a block look out of range
      continue;
    }
    if ((h.flags & FLAG_STRICTLY_INCREASING) === 0 || h.minT <= prevMax) ascending = false;
    prevMax = h.maxT;
    runs.push(decode(i));
    decodedBlocks++;
  }
  summaries.sort((a, b) => a.minT - b.minT);
  const counts = { decodedBlocks, rollupBlocks, rollupSummaries };
  if (ascending && runs.length <= MAX_CONCAT_RUNS && heads.every((run) => run.ts.length === 0)) return { summaries, points: concatClipped(runs, start, end), ...counts };
  for (const run of heads) runs.push(run);
  return { summaries, points: mergeLogOrdered(runs, start, end), ...counts };
}

/**
 * A version-3 block as summaries of the buckets it has points in, at the coarsest rollup resolution that divides
 * `step` (any, without a step) and has no bucket straddling `start` or `end`; undefined when none fits. Checks the
 * block's CRC.
 * A bucket's minT/maxT are [s, s + r − 1] clipped to the block's [minT, maxT] (bounds, not its first/last point), and
 * first/last are NaN: the query asks for rollups only for count, sum, min, max, avg — and, with `sketches` (only
 * resolutions whose buckets carry sketches), for percentiles, each summary with its bucket's sketch.
 */
function rollupParts(block: Uint8Array, h: BlockHeader, start: number, end: number, step: number | undefined, sketches: boolean): BlockSummary[] | undefined {
  const rollups = decodeBlockRollups(block).filter((r) => (step === undefined || step % r.resolution === 0) && (!sketches || r.buckets[0]!.sketch !== undefined));
  next: for (let k = rollups.length - 1; k >= 0; k--) {
    const { resolution: r, buckets } = rollups[k]!;
    const out: BlockSummary[] = [];
    for (const b of buckets) {
      const lo = Math.max(b.start, h.minT);
      const hi = Math.min(b.start + r - 1, h.maxT);
      if (hi < start || lo >= end) continue;
      if (lo < start || hi >= end) continue next;
      const summary: BlockSummary = { count: b.count, minT: lo, maxT: hi, min: b.min, max: b.max, sum: b.sum, first: NaN, last: NaN };
      if (sketches) summary.sketch = b.sketch;
      out.push(summary);
    }
    return out;
  }
  return undefined;
}

/** Runs concatenated in one call (arguments of Array.prototype.concat); longer reads take the general merge. */
const MAX_CONCAT_RUNS = 4096;

/** First index of ascending `ts` with ts[i] >= t. */
function lowerBound(ts: readonly number[], t: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * What mergeLogOrdered returns for runs that are strictly increasing and ascending one after another: each run's
 * points in [start, end), concatenated. Copies (runs may be cached decodes), but with array copies, not pushes.
 */
function concatClipped(runs: readonly PointColumns[], start: number, end: number): PointColumns {
  const ts: number[][] = [];
  const vs: number[][] = [];
  for (const run of runs) {
    const n = run.ts.length;
    const lo = n > 0 && run.ts[0]! >= start ? 0 : lowerBound(run.ts, start);
    const hi = n > 0 && run.ts[n - 1]! < end ? n : lowerBound(run.ts, end);
    if (hi <= lo) continue;
    ts.push(lo === 0 && hi === n ? run.ts : run.ts.slice(lo, hi));
    vs.push(lo === 0 && hi === n ? run.vs : run.vs.slice(lo, hi));
  }
  return { ts: ([] as number[]).concat(...ts), vs: ([] as number[]).concat(...vs) };
}
