import type { SeriesPoints } from '../query-service.js';
import { denseGroup, releaseAccumulators } from './dense-group.js';
import { applyFill, filledCount } from './fill.js';
import { groupSeries } from './group-series.js';
import { outputLimitError, sortOutput } from './output.js';
import { releasePercentileScratch } from './percentile.js';
import { lowerBound, plan, windowStart, type Plan } from './plan.js';
import { DEFAULT_AGGREGATE_LIMITS, type AggregateLimits, type AggregateQuery, type AggregatedSeries } from './types.js';
import { heapGroup, releaseRanges, reserveRanges, singleSeriesGroup } from './window-ranges.js';

export { windowStart } from './plan.js';

/**
 * The aggregation engine: pure, no I/O. Semantics are API.md `GET /api/v1/query`; every rule API.md leaves open is
 * decided in docs/query-semantics.md (the comments below only point at those decisions).
 *
 * Shape of the computation, per group (see evalGroup for the three strategies):
 *  - a member series' points in one window are always a contiguous range of its (ascending, one-per-timestamp)
 *    columns, so a (group, window) is described by a few (member, from, to) ranges and nothing is copied;
 *  - the window's value is computed straight from those ranges, or folded range by range into per-window
 *    accumulators; percentiles copy the values into one reusable scratch buffer and quickselect the rank, or, for a
 *    window over limits.exactPercentileMax values, add them to one reusable DDSketch (sketch.ts);
 *  - fill turns the sparse (window index, value) list into the output points.
 * Each series' columns are thus walked once per query (twice for stddev: mean, then squared deviations; twice for
 * percentiles of multi-series groups: count, then scatter) and there is no allocation per point; allocations are per
 * window that has a value, plus per output point.
 */

/**
 * Strategy for groups of several series; 'auto' except in tests, which force each strategy in turn to check that
 * all of them agree with the reference implementation.
 */
export const strategy: { multiSeries: 'auto' | 'dense' | 'heap' } = { multiSeries: 'auto' };

/** Drops buffers a big query grew, so one such query does not pin their memory for the life of the process. */
function releaseBuffers(): void {
  const BIG = 1 << 20;
  releasePercentileScratch(BIG);
  releaseAccumulators(BIG);
  releaseRanges(BIG);
}

/**
 * Evaluates one group: pushes (window index, value) for every window with a value into ks/vals, ascending.
 * Returns false when no member has a point in [start, end).
 *
 * Three strategies, equal in result (same summation order: member order, then time):
 *  - one member: walk its points window by window;
 *  - several members whose windows are dense (the windows they span are not many more than their points): fold
 *    each member's windows into per-window accumulators (O(points + windows), no heap);
 *  - several members, sparse: merge the members' windows with a heap (O(ranges × log members)).
 */
function evalGroup(members: SeriesPoints[], p: Plan, ks: number[], vals: number[]): boolean {
  const m = members.length;
  reserveRanges(m);
  const tss: number[][] = new Array(m);
  const vss: number[][] = new Array(m);
  const { w0, len } = p;
  const single = p.nW === 1;
  const windowOf = (t: number): number => (single ? 0 : (windowStart(t, len) - w0) / len);

  if (m === 1) {
    const { ts, vs } = members[0]!.points;
    tss[0] = ts;
    vss[0] = vs;
    const lo = lowerBound(ts, p.start, 0, ts.length);
    const hi = lowerBound(ts, p.end, lo, ts.length);
    if (lo >= hi) return false;
    singleSeriesGroup(p, tss, vss, lo, hi, ks, vals);
    return true;
  }

  // Input is already restricted to [start, end) by contract; the bounds are re-derived so stray points never count.
  const los = new Int32Array(m);
  const his = new Int32Array(m);
  let points = 0;
  let kMin = Infinity;
  let kMax = -Infinity;
  for (let j = 0; j < m; j++) {
    const { ts, vs } = members[j]!.points;
    tss[j] = ts;
    vss[j] = vs;
    const lo = lowerBound(ts, p.start, 0, ts.length);
    const hi = lowerBound(ts, p.end, lo, ts.length);
    los[j] = lo;
    his[j] = hi;
    if (lo < hi) {
      points += hi - lo;
      kMin = Math.min(kMin, windowOf(ts[lo]!));
      kMax = Math.max(kMax, windowOf(ts[hi - 1]!));
    }
  }
  if (points === 0) return false;
  const span = kMax - kMin + 1;
  const dense = strategy.multiSeries === 'auto' ? span <= 2 * points + 64 : strategy.multiSeries === 'dense';
  if (dense) denseGroup(p, m, tss, vss, los, his, kMin, span, ks, vals);
  else heapGroup(p, m, tss, vss, los, his, ks, vals);
  return true;
}

/**
 * Aggregates raw points per series (ascending, one per timestamp, restricted to [start, end)) into one value per
 * group per window, as API.md `GET /api/v1/query` defines `fn`, `step`, `by` and `fill`.
 * A group appears in the answer only when it has at least one point in [start, end) and its filled point list is
 * not empty. Throws TsdbError TSDB_ERR_QUERY_INVALID / _RANGE for a malformed query and TSDB_ERR_QUERY_LIMIT when
 * the windows per series or the output points exceed `limits`.
 */
export function aggregate(input: SeriesPoints[], q: AggregateQuery, limits: AggregateLimits = DEFAULT_AGGREGATE_LIMITS): AggregatedSeries[] {
  const p = plan(q, limits);
  const groups = groupSeries(input, q.by);
  const out: AggregatedSeries[] = [];
  let total = 0;
  const ks: number[] = [];
  const vals: number[] = [];
  try {
    for (const g of groups) {
      ks.length = 0;
      vals.length = 0;
      if (!evalGroup(g.members, p, ks, vals)) continue;
      const n = filledCount(ks, p.nW, p.fill);
      if (n === 0) continue;
      total += n;
      if (total > limits.maxOutputPoints) {
        throw outputLimitError(groups.length, p, limits);
      }
      out.push({ metric: g.metric, tags: g.tags, points: applyFill(ks, vals, p.w0, p.len, p.nW, p.fill) });
    }
  } finally {
    releaseBuffers();
  }
  return sortOutput(out);
}
