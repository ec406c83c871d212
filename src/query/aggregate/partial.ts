/**
 * Partial aggregates (docs/query-semantics.md, "Partial aggregates"): a mergeable state per (group, window), so a
 * query is answered by computing partials per partition (later: per node), merging them in any order, then
 * finalizing and filling. Merging is associative and commutative up to floating-point summation order: count, min,
 * max, first, last and percentiles give the same answer as the single-pass engine (aggregate.ts); sum, avg, stddev,
 * rate and increase may differ in the last bits (rule 34).
 *
 * State fields by function (one small class for all, so the hot paths stay monomorphic):
 *   count                  n
 *   sum avg                n, a = sum
 *   min / max              n, a = min / max
 *   first / last           n, a = timestamp, b = value, s = series key (ties: smallest / largest key wins)
 *   stddev                 n, a = mean, b = M2 (Σ(v−mean)²); parts merge with Chan et al.'s formula
 *   pNN                    n, vals (raw values) while n <= exactPercentileMax, else sketch (DDSketch, α = 0.01)
 *   increase rate          n, a = Σ of per-series increases (a series never spans two partitions)
 */
import type { BlockSummary, PointColumns, SeriesInfo } from '../../store/read-model.js';
import { applyFill, filledCount } from './fill.js';
import { outputLimitError, sortOutput } from './output.js';
import { percentileRank, percentileScratch, PERCENTILE_SKETCH_ALPHA, PERCENTILE_SKETCH_MAX_BUCKETS, releasePercentileScratch, selectKth } from './percentile.js';
import { increaseOf, Kind, lowerBound, windowStart, type Plan } from './plan.js';
import { DDSketch } from './sketch.js';
import type { AggregateLimits, AggregatedSeries } from './types.js';

export class WindowState {
  n = 0;
  a = 0;
  b = 0;
  s = '';
  vals: number[] | null = null;
  sketch: DDSketch | null = null;
}

export interface GroupPartial {
  /** The members' metric while they all share one, else "" (rule 9). */
  metric: string;
  tags: Record<string, string>;
  /** Window index (window start = plan.w0 + k·plan.len) → state. */
  windows: Map<number, WindowState>;
}

/** Partial aggregates of one query over some of its series: group key → group. */
export type PartialAggregate = Map<string, GroupPartial>;

/** Functions a block header can answer (it has count, sum, min, max, first, last; no sum of squares, no values). */
export function summariesAnswer(kind: Kind): boolean {
  return kind === Kind.Count || kind === Kind.Sum || kind === Kind.Avg || kind === Kind.Min || kind === Kind.Max || kind === Kind.First || kind === Kind.Last;
}

/** The group key and output identity of a series (rules 7–11), as groupSeries computes them. */
function groupOf(series: SeriesInfo, by: string[] | undefined): { key: string; tags: Record<string, string> } {
  if (by === undefined) return { key: series.key, tags: { ...series.tags } };
  const values: Array<string | null> = new Array(by.length);
  const tags: Record<string, string> = {};
  for (let i = 0; i < by.length; i++) {
    const k = by[i]!;
    const v = k === '__name__' ? series.metric : Object.prototype.hasOwnProperty.call(series.tags, k) ? series.tags[k]! : null;
    values[i] = v;
    if (k !== '__name__' && v !== null) tags[k] = v;
  }
  return { key: JSON.stringify(values), tags };
}

function stateAt(g: GroupPartial, k: number): WindowState {
  let st = g.windows.get(k);
  if (st === undefined) g.windows.set(k, (st = new WindowState()));
  return st;
}

/** Folds one series' points vs[from..to) (all in one window, ascending) into st. */
function foldRange(p: Plan, st: WindowState, key: string, ts: number[], vs: number[], from: number, to: number): void {
  const c = to - from;
  const had = st.n > 0;
  switch (p.kind) {
    case Kind.Count:
      break;
    case Kind.Sum:
    case Kind.Avg: {
      let s = st.a;
      for (let i = from; i < to; i++) s += vs[i]!;
      st.a = s;
      break;
    }
    case Kind.Min: {
      let x = had ? st.a : Infinity;
      for (let i = from; i < to; i++) if (vs[i]! < x) x = vs[i]!;
      st.a = x;
      break;
    }
    case Kind.Max: {
      let x = had ? st.a : -Infinity;
      for (let i = from; i < to; i++) if (vs[i]! > x) x = vs[i]!;
      st.a = x;
      break;
    }
    case Kind.First:
      foldFirst(st, had, ts[from]!, vs[from]!, key);
      break;
    case Kind.Last:
      foldLast(st, had, ts[to - 1]!, vs[to - 1]!, key);
      break;
    case Kind.Stddev: {
      // two passes over the part (as the single-pass engine does per window), then Chan's merge
      let s = 0;
      for (let i = from; i < to; i++) s += vs[i]!;
      const mean = s / c;
      let m2 = 0;
      for (let i = from; i < to; i++) {
        const d = vs[i]! - mean;
        m2 += d * d;
      }
      foldMoments(st, c, mean, m2);
      break;
    }
    case Kind.Percentile:
      foldValues(p, st, vs, from, to);
      break;
    case Kind.Increase:
    case Kind.Rate: {
      // per series: pairs never cross series or windows (rule 20)
      st.a += increaseOf(vs, from, to);
      break;
    }
  }
  if (p.kind !== Kind.Stddev) st.n += c;
}

function foldFirst(st: WindowState, had: boolean, t: number, v: number, key: string): void {
  if (!had || t < st.a || (t === st.a && key < st.s)) {
    st.a = t;
    st.b = v;
    st.s = key;
  }
}

function foldLast(st: WindowState, had: boolean, t: number, v: number, key: string): void {
  if (!had || t > st.a || (t === st.a && key > st.s)) {
    st.a = t;
    st.b = v;
    st.s = key;
  }
}

/** Chan, Golub, LeVeque: the moments of a union from the moments of its two parts. */
function foldMoments(st: WindowState, n: number, mean: number, m2: number): void {
  if (st.n === 0) {
    st.n = n;
    st.a = mean;
    st.b = m2;
    return;
  }
  const total = st.n + n;
  const delta = mean - st.a;
  st.a += (delta * n) / total;
  st.b += m2 + ((delta * delta * st.n) / total) * n;
  st.n = total;
}

function newSketch(): DDSketch {
  return new DDSketch(PERCENTILE_SKETCH_ALPHA, PERCENTILE_SKETCH_MAX_BUCKETS);
}

/** Keeps the invariant: raw values while n <= exactMax, a sketch once over it (st.n is updated by the caller). */
function foldValues(p: Plan, st: WindowState, vs: ArrayLike<number>, from: number, to: number): void {
  if (st.sketch === null && st.n + (to - from) <= p.exactMax) {
    const vals = (st.vals ??= []);
    for (let i = from; i < to; i++) vals.push(vs[i]!);
    return;
  }
  toSketch(st).addRange(vs, from, to);
}

function toSketch(st: WindowState): DDSketch {
  if (st.sketch === null) {
    st.sketch = newSketch();
    if (st.vals !== null) st.sketch.addRange(st.vals, 0, st.vals.length);
    st.vals = null;
  }
  return st.sketch;
}

/** Folds a block summary (only for functions summariesAnswer accepts) into st. */
function foldSummary(p: Plan, st: WindowState, key: string, b: BlockSummary): void {
  const had = st.n > 0;
  switch (p.kind) {
    case Kind.Sum:
    case Kind.Avg:
      st.a += b.sum;
      break;
    case Kind.Min:
      if (!had || b.min < st.a) st.a = b.min;
      break;
    case Kind.Max:
      if (!had || b.max > st.a) st.a = b.max;
      break;
    case Kind.First:
      foldFirst(st, had, b.minT, b.first, key);
      break;
    case Kind.Last:
      foldLast(st, had, b.maxT, b.last, key);
      break;
    case Kind.Count:
      break;
    default:
      throw new Error(`cannot fold a block summary into a partial aggregate of kind ${p.kind}: the header cannot answer it`);
  }
  st.n += b.count;
}

/**
 * Adds one series (its points in [start, end) and its block summaries, disjoint) to a partition's partials.
 * Returns the number of points it counted.
 */
export function addSeriesPartial(acc: PartialAggregate, p: Plan, by: string[] | undefined, series: SeriesInfo, points: PointColumns, summaries: readonly BlockSummary[]): number {
  const { ts, vs } = points;
  const lo = lowerBound(ts, p.start, 0, ts.length);
  const hi = lowerBound(ts, p.end, lo, ts.length);
  if (lo >= hi && summaries.length === 0) return 0;
  const id = groupOf(series, by);
  let g = acc.get(id.key);
  if (g === undefined) acc.set(id.key, (g = { metric: series.metric, tags: id.tags, windows: new Map() }));
  else if (g.metric !== series.metric) g.metric = '';
  const { w0, len } = p;
  const single = p.nW === 1;
  let i = lo;
  while (i < hi) {
    const k = single ? 0 : (windowStart(ts[i]!, len) - w0) / len;
    const wEnd = single ? p.end : w0 + k * len + len;
    let to = i + 1;
    while (to < hi && ts[to]! < wEnd) to++;
    foldRange(p, stateAt(g, k), series.key, ts, vs, i, to);
    i = to;
  }
  let n = hi - lo;
  for (const b of summaries) {
    // the reader only summarizes blocks inside [start, end) and inside one window
    foldSummary(p, stateAt(g, single ? 0 : (windowStart(b.minT, len) - w0) / len), series.key, b);
    n += b.count;
  }
  return n;
}

/** Merges `from`'s state into `into` (same window of the same group). */
function mergeState(p: Plan, into: WindowState, from: WindowState): void {
  if (from.n === 0) return;
  if (into.n === 0) {
    into.n = from.n;
    into.a = from.a;
    into.b = from.b;
    into.s = from.s;
    into.vals = from.vals;
    into.sketch = from.sketch;
    return;
  }
  switch (p.kind) {
    case Kind.Sum:
    case Kind.Avg:
    case Kind.Increase:
    case Kind.Rate:
      into.a += from.a;
      break;
    case Kind.Min:
      if (from.a < into.a) into.a = from.a;
      break;
    case Kind.Max:
      if (from.a > into.a) into.a = from.a;
      break;
    case Kind.First:
      foldFirst(into, true, from.a, from.b, from.s);
      break;
    case Kind.Last:
      foldLast(into, true, from.a, from.b, from.s);
      break;
    case Kind.Stddev:
      foldMoments(into, from.n, from.a, from.b);
      return; // foldMoments updated n
    case Kind.Percentile:
      if (into.sketch === null && from.sketch === null && into.n + from.n <= p.exactMax) {
        for (const v of from.vals!) into.vals!.push(v);
      } else if (from.sketch !== null) toSketch(into).merge(from.sketch);
      else toSketch(into).addRange(from.vals!, 0, from.vals!.length);
      break;
    case Kind.Count:
      break;
  }
  into.n += from.n;
}

/** Merges `from` into `into` (from must not be used afterwards: its states may be moved, not copied). */
export function mergePartials(into: PartialAggregate, from: PartialAggregate, p: Plan): void {
  for (const [key, g] of from) {
    const mine = into.get(key);
    if (mine === undefined) {
      into.set(key, g);
      continue;
    }
    if (mine.metric !== g.metric) mine.metric = '';
    for (const [k, st] of g.windows) {
      const dst = mine.windows.get(k);
      if (dst === undefined) mine.windows.set(k, st);
      else mergeState(p, dst, st);
    }
  }
}

/** The window's value; NaN = no value (stddev of fewer than 2 points). */
function finalValue(p: Plan, st: WindowState): number {
  const n = st.n;
  switch (p.kind) {
    case Kind.Count:
      return n;
    case Kind.Sum:
    case Kind.Min:
    case Kind.Max:
    case Kind.Increase:
      return st.a;
    case Kind.Avg:
      return st.a / n;
    case Kind.First:
    case Kind.Last:
      return st.b;
    case Kind.Stddev:
      return n < 2 ? NaN : Math.sqrt(st.b / (n - 1));
    case Kind.Rate:
      return st.a / p.rateDiv;
    case Kind.Percentile: {
      const rank = percentileRank(p.pct, n);
      if (st.sketch !== null) return st.sketch.valueAtRank(rank);
      const vals = st.vals!;
      const buf = percentileScratch(n);
      for (let i = 0; i < n; i++) buf[i] = vals[i]!;
      return selectKth(buf, 0, n - 1, rank - 1);
    }
  }
}

/** Finalizes merged partials into the answer: values per window, fill, output limit, output order (as aggregate). */
export function finalizePartials(acc: PartialAggregate, p: Plan, limits: AggregateLimits): AggregatedSeries[] {
  const out: AggregatedSeries[] = [];
  let total = 0;
  const ks: number[] = [];
  const vals: number[] = [];
  try {
    for (const g of acc.values()) {
      ks.length = 0;
      vals.length = 0;
      const keys = [...g.windows.keys()].sort((x, y) => x - y);
      for (const k of keys) {
        const v = finalValue(p, g.windows.get(k)!);
        if (Number.isNaN(v)) continue;
        ks.push(k);
        vals.push(v);
      }
      const n = filledCount(ks, p.nW, p.fill);
      if (n === 0) continue;
      total += n;
      if (total > limits.maxOutputPoints) throw outputLimitError(acc.size, p, limits);
      out.push({ metric: g.metric, tags: g.tags, points: applyFill(ks, vals, p.w0, p.len, p.nW, p.fill) });
    }
  } finally {
    releasePercentileScratch(1 << 20);
  }
  return sortOutput(out);
}
