/**
 * Partial aggregates (docs/query-semantics.md, "Partial aggregates"): a mergeable state per (group, window), so a
 * query is answered by computing partials per partition (later: per node), merging them in any order, then
 * finalizing and filling. Merging is associative and commutative up to floating-point summation order: count, min,
 * max, first, last and percentiles give the same answer as the single-pass engine (aggregate.ts); sum, avg, stddev,
 * rate and increase may differ in the last bits (rule 34).
 *
 * Columns used by function (GroupPartial; one row per window):
 *   count                  n
 *   sum avg                n, a = sum
 *   min / max              n, a = min / max
 *   first / last           n, a = timestamp, b = value, s = series key (ties: smallest / largest key wins)
 *   stddev                 n, a = mean, b = M2 (Σ(v−mean)²); parts merge with Chan et al.'s formula
 *   pNN                    n, vals (raw values) while n <= exactPercentileMax and no rollup sketch came in, else
 *                          sk (DDSketch, α = 0.01; a rollup bucket's sketch merges in, rule 48)
 *   increase rate          n, a = Σ of per-series increases (a series never spans two partitions)
 */
import type { BlockSummary, PointColumns, SeriesInfo } from '../../store/read-model.js';
import { applyFill, filledCount } from './fill.js';
import { outputLimitError, sortOutput } from './output.js';
import { percentileRank, percentileScratch, PERCENTILE_SKETCH_ALPHA, PERCENTILE_SKETCH_MAX_BUCKETS, releasePercentileScratch, selectKth } from './percentile.js';
import { increaseOf, Kind, lowerBound, windowStart, type Plan } from './plan.js';
import { DDSketch } from './sketch.js';
import type { AggregateLimits, AggregatedSeries } from './types.js';

/**
 * The partial of one group: its windows as columns (no object per window, so a query over many windows makes little
 * garbage). Row i is window ks[i] (window start = plan.w0 + ks[i]·plan.len); ks ascending. Which columns are used
 * depends on the function (file comment); the others stay empty.
 */
export interface GroupPartial {
  /** The members' metric while they all share one, else "" (rule 9). */
  metric: string;
  tags: Record<string, string>;
  ks: number[];
  n: number[];
  a: number[];
  b: number[];
  /** first/last only: the series key of the chosen point. */
  s: string[];
  /** pNN only: raw values (n <= exactMax) or null, and the sketch (n > exactMax) or null. */
  vals: Array<number[] | null>;
  sk: Array<DDSketch | null>;
}

export function emptyGroup(metric: string, tags: Record<string, string>): GroupPartial {
  return { metric, tags, ks: [], n: [], a: [], b: [], s: [], vals: [], sk: [] };
}

/** Appends an empty window k (n = 0) to g's columns; returns its row. */
export function pushWindow(g: GroupPartial, kind: Kind, k: number): number {
  g.ks.push(k);
  g.n.push(0);
  g.a.push(0);
  g.b.push(0);
  if (kind === Kind.First || kind === Kind.Last) g.s.push('');
  else if (kind === Kind.Percentile) {
    g.vals.push(null);
    g.sk.push(null);
  }
  return g.ks.length - 1;
}

/** Copies row j of `from` to the end of `to`. */
function copyRow(to: GroupPartial, from: GroupPartial, j: number, kind: Kind): void {
  to.ks.push(from.ks[j]!);
  to.n.push(from.n[j]!);
  to.a.push(from.a[j]!);
  to.b.push(from.b[j]!);
  if (kind === Kind.First || kind === Kind.Last) to.s.push(from.s[j]!);
  else if (kind === Kind.Percentile) {
    to.vals.push(from.vals[j]!);
    to.sk.push(from.sk[j]!);
  }
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

/**
 * Finds or makes the rows of one series' windows in its group, for ascending window indexes: a cursor walks the
 * group's sorted windows, a window past the end is appended, one in between goes to a pending group merged in by
 * flush(). So folding a member into its group is linear in their windows, and adds nothing for windows the group
 * already has (members of a group mostly share windows).
 */
class RowCursor {
  private c = 0;
  private pending: GroupPartial | null = null;
  constructor(
    private readonly g: GroupPartial,
    private readonly p: Plan,
  ) {}

  /** Row of the window the last at() returned, in the group it returned. */
  row = 0;

  /** The group holding window k's row (the series' group, or the pending one); the row is in `row`. */
  at(k: number): GroupPartial {
    const ks = this.g.ks;
    let c = this.c;
    while (c < ks.length && ks[c]! < k) c++;
    this.c = c;
    this.row = c;
    if (c < ks.length && ks[c] === k) return this.g;
    const pend = this.pending;
    if (c === ks.length && (pend === null || pend.ks.length === 0)) {
      pushWindow(this.g, this.p.kind, k);
      return this.g;
    }
    const q = (this.pending ??= emptyGroup('', {}));
    const last = q.ks.length - 1;
    this.row = last >= 0 && q.ks[last] === k ? last : pushWindow(q, this.p.kind, k);
    return q;
  }

  /** Merges the pending windows in and restarts the cursor (the next calls may start from a lower window). */
  flush(): void {
    if (this.pending !== null && this.pending.ks.length > 0) {
      mergeGroup(this.g, this.pending, this.p);
      this.pending = null;
    }
    this.c = 0;
  }
}

/** Merges the windows of `from` into `into`'s, merging the states of windows both have (from's columns may be reused). */
function mergeGroup(into: GroupPartial, from: GroupPartial, p: Plan): void {
  const ak = into.ks;
  const bk = from.ks;
  const kind = p.kind;
  if (ak.length === 0 || bk[0]! > ak[ak.length - 1]!) {
    for (let j = 0; j < bk.length; j++) copyRow(into, from, j, kind);
    return;
  }
  const out = emptyGroup(into.metric, into.tags);
  let i = 0;
  let j = 0;
  while (i < ak.length || j < bk.length) {
    if (j >= bk.length || (i < ak.length && ak[i]! < bk[j]!)) copyRow(out, into, i++, kind);
    else if (i >= ak.length || bk[j]! < ak[i]!) copyRow(out, from, j++, kind);
    else {
      mergeRow(p, into, i, from, j++);
      copyRow(out, into, i++, kind);
    }
  }
  into.ks = out.ks;
  into.n = out.n;
  into.a = out.a;
  into.b = out.b;
  into.s = out.s;
  into.vals = out.vals;
  into.sk = out.sk;
}

/** Folds one series' points vs[from..to) (all in one window, ascending) into row i of g. */
function foldRange(p: Plan, g: GroupPartial, i: number, key: string, ts: number[], vs: number[], from: number, to: number): void {
  const c = to - from;
  const had = g.n[i]! > 0;
  switch (p.kind) {
    case Kind.Count:
      break;
    case Kind.Sum:
    case Kind.Avg: {
      let s = g.a[i]!;
      for (let j = from; j < to; j++) s += vs[j]!;
      g.a[i] = s;
      break;
    }
    case Kind.Min: {
      let x = had ? g.a[i]! : Infinity;
      for (let j = from; j < to; j++) if (vs[j]! < x) x = vs[j]!;
      g.a[i] = x;
      break;
    }
    case Kind.Max: {
      let x = had ? g.a[i]! : -Infinity;
      for (let j = from; j < to; j++) if (vs[j]! > x) x = vs[j]!;
      g.a[i] = x;
      break;
    }
    case Kind.First:
      foldFirst(g, i, had, ts[from]!, vs[from]!, key);
      break;
    case Kind.Last:
      foldLast(g, i, had, ts[to - 1]!, vs[to - 1]!, key);
      break;
    case Kind.Stddev: {
      // two passes over the part (as the single-pass engine does per window), then Chan's merge
      let s = 0;
      for (let j = from; j < to; j++) s += vs[j]!;
      const mean = s / c;
      let m2 = 0;
      for (let j = from; j < to; j++) {
        const d = vs[j]! - mean;
        m2 += d * d;
      }
      foldMoments(g, i, c, mean, m2);
      return; // foldMoments updated n
    }
    case Kind.Percentile:
      foldValues(p, g, i, vs, from, to);
      break;
    case Kind.Increase:
    case Kind.Rate:
      // per series: pairs never cross series or windows (rule 20)
      g.a[i] = g.a[i]! + increaseOf(vs, from, to);
      break;
  }
  g.n[i] = g.n[i]! + c;
}

function foldFirst(g: GroupPartial, i: number, had: boolean, t: number, v: number, key: string): void {
  if (!had || t < g.a[i]! || (t === g.a[i] && key < g.s[i]!)) {
    g.a[i] = t;
    g.b[i] = v;
    g.s[i] = key;
  }
}

function foldLast(g: GroupPartial, i: number, had: boolean, t: number, v: number, key: string): void {
  if (!had || t > g.a[i]! || (t === g.a[i] && key > g.s[i]!)) {
    g.a[i] = t;
    g.b[i] = v;
    g.s[i] = key;
  }
}

/** Chan, Golub, LeVeque: the moments of a union from the moments of its two parts (a = mean, b = M2). */
function foldMoments(g: GroupPartial, i: number, n: number, mean: number, m2: number): void {
  const n0 = g.n[i]!;
  if (n0 === 0) {
    g.n[i] = n;
    g.a[i] = mean;
    g.b[i] = m2;
    return;
  }
  const total = n0 + n;
  const delta = mean - g.a[i]!;
  g.a[i] = g.a[i]! + (delta * n) / total;
  g.b[i] = g.b[i]! + m2 + ((delta * delta * n0) / total) * n;
  g.n[i] = total;
}

/** Keeps the invariant: raw values while n <= exactMax, a sketch once over it (n is updated by the caller). */
function foldValues(p: Plan, g: GroupPartial, i: number, vs: ArrayLike<number>, from: number, to: number): void {
  if (g.sk[i] === null && g.n[i]! + (to - from) <= p.exactMax) {
    let vals = g.vals[i]!;
    if (vals === null) g.vals[i] = vals = [];
    for (let j = from; j < to; j++) vals.push(vs[j]!);
    return;
  }
  toSketch(g, i).addRange(vs, from, to);
}

function toSketch(g: GroupPartial, i: number): DDSketch {
  let sk = g.sk[i]!;
  if (sk === null) {
    g.sk[i] = sk = new DDSketch(PERCENTILE_SKETCH_ALPHA, PERCENTILE_SKETCH_MAX_BUCKETS);
    const vals = g.vals[i]!;
    if (vals !== null) sk.addRange(vals, 0, vals.length);
    g.vals[i] = null;
  }
  return sk;
}

/** Folds a block summary (only for functions summariesAnswer accepts) into row i of g. */
function foldSummary(p: Plan, g: GroupPartial, i: number, key: string, b: BlockSummary): void {
  const had = g.n[i]! > 0;
  switch (p.kind) {
    case Kind.Sum:
    case Kind.Avg:
      g.a[i] = g.a[i]! + b.sum;
      break;
    case Kind.Min:
      if (!had || b.min < g.a[i]!) g.a[i] = b.min;
      break;
    case Kind.Max:
      if (!had || b.max > g.a[i]!) g.a[i] = b.max;
      break;
    case Kind.First:
      foldFirst(g, i, had, b.minT, b.first, key);
      break;
    case Kind.Last:
      foldLast(g, i, had, b.maxT, b.last, key);
      break;
    case Kind.Count:
      break;
    case Kind.Percentile:
      // rule 48: a window with a rollup sketch is answered from the merged sketch, even when small
      if (b.sketch === undefined) throw new Error('cannot fold a block summary without a sketch into a percentile partial');
      toSketch(g, i).merge(b.sketch);
      break;
    default:
      throw new Error(`cannot fold a block summary into a partial aggregate of kind ${p.kind}: the header cannot answer it`);
  }
  g.n[i] = g.n[i]! + b.count;
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
  if (g === undefined) acc.set(id.key, (g = emptyGroup(series.metric, id.tags)));
  else if (g.metric !== series.metric) g.metric = '';
  const { w0, len } = p;
  const single = p.nW === 1;
  const cursor = new RowCursor(g, p);
  let i = lo;
  while (i < hi) {
    const k = single ? 0 : (windowStart(ts[i]!, len) - w0) / len;
    const wEnd = single ? p.end : w0 + k * len + len;
    let to = i + 1;
    while (to < hi && ts[to]! < wEnd) to++;
    const rows = cursor.at(k);
    foldRange(p, rows, cursor.row, series.key, ts, vs, i, to);
    i = to;
  }
  cursor.flush();
  let n = hi - lo;
  // the reader only summarizes blocks inside [start, end) and inside one window, disjoint; the cursor needs them
  // ascending (as readSeriesParts returns them)
  let sorted = true;
  for (let j = 1; j < summaries.length && sorted; j++) sorted = summaries[j - 1]!.minT < summaries[j]!.minT;
  for (const b of sorted ? summaries : [...summaries].sort((x, y) => x.minT - y.minT)) {
    const rows = cursor.at(single ? 0 : (windowStart(b.minT, len) - w0) / len);
    foldSummary(p, rows, cursor.row, series.key, b);
    n += b.count;
  }
  cursor.flush();
  return n;
}

/** Merges row j of `from` into row i of `into` (same window of the same group). */
function mergeRow(p: Plan, into: GroupPartial, i: number, from: GroupPartial, j: number): void {
  const n = from.n[j]!;
  if (n === 0) return;
  if (into.n[i] === 0) {
    into.n[i] = n;
    into.a[i] = from.a[j]!;
    into.b[i] = from.b[j]!;
    if (p.kind === Kind.First || p.kind === Kind.Last) into.s[i] = from.s[j]!;
    if (p.kind === Kind.Percentile) {
      into.vals[i] = from.vals[j]!;
      into.sk[i] = from.sk[j]!;
    }
    return;
  }
  switch (p.kind) {
    case Kind.Sum:
    case Kind.Avg:
    case Kind.Increase:
    case Kind.Rate:
      into.a[i] = into.a[i]! + from.a[j]!;
      break;
    case Kind.Min:
      if (from.a[j]! < into.a[i]!) into.a[i] = from.a[j]!;
      break;
    case Kind.Max:
      if (from.a[j]! > into.a[i]!) into.a[i] = from.a[j]!;
      break;
    case Kind.First:
      foldFirst(into, i, true, from.a[j]!, from.b[j]!, from.s[j]!);
      break;
    case Kind.Last:
      foldLast(into, i, true, from.a[j]!, from.b[j]!, from.s[j]!);
      break;
    case Kind.Stddev:
      foldMoments(into, i, n, from.a[j]!, from.b[j]!);
      return; // foldMoments updated n
    case Kind.Percentile: {
      const fv = from.vals[j]!;
      const fs = from.sk[j]!;
      if (into.sk[i] === null && fs === null && into.n[i]! + n <= p.exactMax) {
        const vals = into.vals[i]!;
        for (const v of fv!) vals!.push(v);
      } else if (fs !== null) toSketch(into, i).merge(fs);
      else toSketch(into, i).addRange(fv!, 0, fv!.length);
      break;
    }
    case Kind.Count:
      break;
  }
  into.n[i] = into.n[i]! + n;
}

/** Merges `from` into `into` (from must not be used afterwards: its columns may be moved, not copied). */
export function mergePartials(into: PartialAggregate, from: PartialAggregate, p: Plan): void {
  for (const [key, g] of from) {
    const mine = into.get(key);
    if (mine === undefined) {
      into.set(key, g);
      continue;
    }
    if (mine.metric !== g.metric) mine.metric = '';
    if (g.ks.length > 0) mergeGroup(mine, g, p);
  }
}

/** The value of row i; NaN = no value (stddev of fewer than 2 points). */
function finalValue(p: Plan, g: GroupPartial, i: number): number {
  const n = g.n[i]!;
  switch (p.kind) {
    case Kind.Count:
      return n;
    case Kind.Sum:
    case Kind.Min:
    case Kind.Max:
    case Kind.Increase:
      return g.a[i]!;
    case Kind.Avg:
      return g.a[i]! / n;
    case Kind.First:
    case Kind.Last:
      return g.b[i]!;
    case Kind.Stddev:
      return n < 2 ? NaN : Math.sqrt(g.b[i]! / (n - 1));
    case Kind.Rate:
      return g.a[i]! / p.rateDiv;
    case Kind.Percentile: {
      const rank = percentileRank(p.pct, n);
      const sk = g.sk[i]!;
      if (sk !== null) return sk.valueAtRank(rank);
      const vals = g.vals[i]!;
      const buf = percentileScratch(n);
      for (let j = 0; j < n; j++) buf[j] = vals![j]!;
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
      for (let i = 0; i < g.ks.length; i++) {
        const v = finalValue(p, g, i);
        if (Number.isNaN(v)) continue;
        ks.push(g.ks[i]!);
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
