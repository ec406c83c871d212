import { TsdbError } from '../../common/errors.js';
import { canonicalSeriesKey } from '../../common/series-key.js';
import type { SeriesPoints } from '../query-service.js';
import { applyFill, filledCount } from './fill.js';
import { AGG_FNS, DEFAULT_AGGREGATE_LIMITS, FILL_POLICIES, type AggFn, type AggregateLimits, type AggregateQuery, type AggregatedSeries, type FillPolicy } from './types.js';

/**
 * The aggregation engine: pure, no I/O. Semantics are API.md `GET /api/v1/query`; every rule API.md leaves open is
 * decided in docs/query-semantics.md (the comments below only point at those decisions).
 *
 * Shape of the computation, per group (see evalGroup for the three strategies):
 *  - a member series' points in one window are always a contiguous range of its (ascending, one-per-timestamp)
 *    columns, so a (group, window) is described by a few (member, from, to) ranges and nothing is copied;
 *  - the window's value is computed straight from those ranges, or folded range by range into per-window
 *    accumulators; percentiles copy the values into one reusable scratch buffer and quickselect the rank;
 *  - fill turns the sparse (window index, value) list into the output points.
 * Each series' columns are thus walked once per query (twice for stddev: mean, then squared deviations; twice for
 * percentiles of multi-series groups: count, then scatter) and there is no allocation per point; allocations are per
 * window that has a value, plus per output point.
 */

const TAG_KEY_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const enum Kind {
  Count,
  Sum,
  Min,
  Max,
  Avg,
  First,
  Last,
  Stddev,
  Percentile,
  Increase,
  Rate,
}

interface Plan {
  kind: Kind;
  /** Percentile NN for `pNN`. */
  pct: number;
  start: number;
  end: number;
  /** Start of window 0 (floor(start/step)*step, or start without step). */
  w0: number;
  /** Window length; `end - start` without step (there is then exactly one window). */
  len: number;
  /** Number of windows. */
  nW: number;
  /** Seconds `rate` divides by: step, or the range without step. */
  rateDiv: number;
  fill: FillPolicy;
}

/** `floor(t/step)*step`, exactly, with a true floor for negative t (integer remainders never round). */
export function windowStart(t: number, step: number): number {
  const r = t % step;
  return r < 0 ? t - r - step : t - r;
}

/** First index in [lo, hi) whose ts is >= x (hi when none). */
function lowerBound(ts: number[], x: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function kindOf(fn: AggFn): Kind {
  switch (fn) {
    case 'count':
      return Kind.Count;
    case 'sum':
      return Kind.Sum;
    case 'min':
      return Kind.Min;
    case 'max':
      return Kind.Max;
    case 'avg':
      return Kind.Avg;
    case 'first':
      return Kind.First;
    case 'last':
      return Kind.Last;
    case 'stddev':
      return Kind.Stddev;
    case 'increase':
      return Kind.Increase;
    case 'rate':
      return Kind.Rate;
    default:
      return Kind.Percentile;
  }
}

function plan(q: AggregateQuery, limits: AggregateLimits): Plan {
  if (!(AGG_FNS as readonly string[]).includes(q.fn)) {
    throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot run query (fn=${JSON.stringify(q.fn)}): unknown function; expected one of ${AGG_FNS.join(' ')}`, {
      details: [{ field: 'fn', reason: `expected one of ${AGG_FNS.join(' ')}` }],
    });
  }
  const fill = q.fill ?? 'none';
  if (!(FILL_POLICIES as readonly string[]).includes(fill)) {
    throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot run query (fill=${JSON.stringify(fill)}): unknown fill policy; expected one of ${FILL_POLICIES.join(' ')}`, {
      details: [{ field: 'fill', reason: `expected one of ${FILL_POLICIES.join(' ')}` }],
    });
  }
  const { start, end, step } = q;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) {
    throw new TsdbError('TSDB_ERR_QUERY_RANGE', `cannot run query (start ${start}, end ${end}): start and end must be integer milliseconds with end > start (ranges are [start, end))`, {
      details: [{ field: Number.isSafeInteger(start) ? 'end' : 'start', reason: 'must be integer milliseconds, end greater than start' }],
    });
  }
  if (step !== undefined && (!Number.isSafeInteger(step) || step < 1)) {
    throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot run query (step ${step}): step must be a positive integer number of milliseconds`, {
      details: [{ field: 'step', reason: 'must be a positive integer number of milliseconds' }],
    });
  }
  if (q.by !== undefined) {
    for (const k of q.by) {
      if (typeof k !== 'string' || !TAG_KEY_RE.test(k)) {
        throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot run query (by key ${JSON.stringify(k)}): not a tag key ([a-zA-Z_][a-zA-Z0-9_]* or __name__)`, {
          details: [{ field: 'by', reason: `${JSON.stringify(k)} is not a tag key` }],
        });
      }
    }
  }
  let w0 = start;
  let len = end - start;
  let nW = 1;
  if (step !== undefined) {
    w0 = windowStart(start, step);
    const wLast = windowStart(end - 1, step);
    if (!Number.isSafeInteger(w0) || !Number.isSafeInteger(wLast + step)) {
      throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot run query (start ${start}, end ${end}, step ${step} ms): the windows reach beyond ±2^53 ms; use a smaller step`, {
        details: [{ field: 'step', reason: 'windows reach beyond the representable time range' }],
      });
    }
    len = step;
    nW = (wLast - w0) / step + 1;
  }
  if (nW > limits.maxWindows) {
    throw new TsdbError('TSDB_ERR_QUERY_LIMIT', `cannot run query (start ${start}, end ${end}, step ${step} ms: ${nW} windows): over the limit of ${limits.maxWindows} windows per series; use a larger step or a shorter range`, {
      details: [{ field: 'step', reason: `${nW} windows, over the limit of ${limits.maxWindows}` }],
    });
  }
  return {
    kind: kindOf(q.fn),
    pct: q.fn.startsWith('p') ? Number(q.fn.slice(1)) : 0,
    start,
    end,
    w0,
    len,
    nW,
    rateDiv: len / 1000,
    fill,
  };
}

interface Group {
  /** Sort keys of the output (see sortOutput). */
  metric: string;
  tags: Record<string, string>;
  members: SeriesPoints[];
}

/**
 * Groups series. Without `by`: one group per input series (output keeps metric and tags). With `by`: series with
 * equal values for every by key (absent = its own value, "absent"); output tags = the by keys the group has;
 * `__name__` groups by metric name and never appears in tags. Output metric = the members' metric when they all
 * share one, else "" (decision, docs/query-semantics.md). Members are ordered by series key (then input order):
 * that order breaks first/last timestamp ties.
 */
function groupSeries(input: SeriesPoints[], by: string[] | undefined): Group[] {
  if (by === undefined) return input.map((sp) => ({ metric: sp.series.metric, tags: { ...sp.series.tags }, members: [sp] }));
  const groups = new Map<string, Group>();
  const values: Array<string | null> = new Array(by.length);
  for (const sp of input) {
    const { metric, tags } = sp.series;
    for (let i = 0; i < by.length; i++) {
      const k = by[i]!;
      values[i] = k === '__name__' ? metric : Object.prototype.hasOwnProperty.call(tags, k) ? tags[k]! : null;
    }
    const gk = JSON.stringify(values);
    let g = groups.get(gk);
    if (g === undefined) {
      const gt: Record<string, string> = {};
      for (let i = 0; i < by.length; i++) if (by[i] !== '__name__' && values[i] !== null) gt[by[i]!] = values[i]!;
      g = { metric, tags: gt, members: [] };
      groups.set(gk, g);
    } else if (g.metric !== metric) {
      g.metric = '';
    }
    g.members.push(sp);
  }
  const out = [...groups.values()];
  for (const g of out) if (g.members.length > 1) g.members.sort((a, b) => (a.series.key < b.series.key ? -1 : a.series.key > b.series.key ? 1 : 0));
  return out;
}

/**
 * Strategy for groups of several series; 'auto' except in tests, which force each strategy in turn to check that
 * all of them agree with the reference implementation.
 */
export const strategy: { multiSeries: 'auto' | 'dense' | 'heap' } = { multiSeries: 'auto' };

/** Reusable buffers; the engine is synchronous, so one set per process is enough. */
let scratch = new Float64Array(1024);
let rm = new Int32Array(16);
let r0 = new Int32Array(16);
let r1 = new Int32Array(16);
let accN = new Float64Array(1024);
let accA = new Float64Array(1024);
let accB = new Float64Array(1024);

/** Drops buffers a big query grew, so one such query does not pin their memory for the life of the process. */
function releaseBuffers(): void {
  const BIG = 1 << 20;
  if (scratch.length > BIG) scratch = new Float64Array(1024);
  if (accN.length > BIG) {
    accN = new Float64Array(1024);
    accA = new Float64Array(1024);
    accB = new Float64Array(1024);
  }
  if (rm.length > BIG) {
    rm = new Int32Array(16);
    r0 = new Int32Array(16);
    r1 = new Int32Array(16);
  }
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
  if (rm.length < m) {
    rm = new Int32Array(m);
    r0 = new Int32Array(m);
    r1 = new Int32Array(m);
  }
  const tss: number[][] = new Array(m);
  const vss: number[][] = new Array(m);
  const { w0, len } = p;
  const single = p.nW === 1;
  const windowOf = (t: number): number => (single ? 0 : (windowStart(t, len) - w0) / len);

  if (m === 1) {
    const { ts, vs } = members[0]!.points;
    tss[0] = ts;
    vss[0] = vs;
    let i = lowerBound(ts, p.start, 0, ts.length);
    const hi = lowerBound(ts, p.end, i, ts.length);
    if (i >= hi) return false;
    rm[0] = 0;
    while (i < hi) {
      const k = windowOf(ts[i]!);
      const wEnd = single ? p.end : w0 + k * len + len;
      let to = i + 1;
      while (to < hi && ts[to]! < wEnd) to++;
      r0[0] = i;
      r1[0] = to;
      const v = windowValue(p, 1, tss, vss);
      if (!Number.isNaN(v)) {
        ks.push(k);
        vals.push(v);
      }
      i = to;
    }
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

/** Calls visit(member, k, from, to) for every window of every member, members in order, windows ascending. */
function forEachRange(p: Plan, m: number, tss: number[][], los: Int32Array, his: Int32Array, visit: (j: number, k: number, from: number, to: number) => void): void {
  const { w0, len } = p;
  const single = p.nW === 1;
  for (let j = 0; j < m; j++) {
    const ts = tss[j]!;
    const hi = his[j]!;
    let i = los[j]!;
    while (i < hi) {
      const k = single ? 0 : (windowStart(ts[i]!, len) - w0) / len;
      const wEnd = single ? p.end : w0 + k * len + len;
      let to = i + 1;
      while (to < hi && ts[to]! < wEnd) to++;
      visit(j, k, i, to);
      i = to;
    }
  }
}

function denseGroup(p: Plan, m: number, tss: number[][], vss: number[][], los: Int32Array, his: Int32Array, kMin: number, span: number, ks: number[], vals: number[]): void {
  if (accN.length < span) {
    const size = Math.max(span, accN.length * 2);
    accN = new Float64Array(size);
    accA = new Float64Array(size);
    accB = new Float64Array(size);
  }
  const n = accN;
  const a = accA;
  const b = accB;
  n.fill(0, 0, span);
  a.fill(0, 0, span);
  b.fill(0, 0, span);
  const kind = p.kind;
  forEachRange(p, m, tss, los, his, (j, k, from, to) => {
    const x = k - kMin;
    const vs = vss[j]!;
    const had = n[x]! > 0;
    n[x] = n[x]! + (to - from);
    switch (kind) {
      case Kind.Sum:
      case Kind.Avg:
      case Kind.Stddev: {
        let s = a[x]!;
        for (let i = from; i < to; i++) s += vs[i]!;
        a[x] = s;
        break;
      }
      case Kind.Min: {
        let v = had ? a[x]! : Infinity;
        for (let i = from; i < to; i++) if (vs[i]! < v) v = vs[i]!;
        a[x] = v;
        break;
      }
      case Kind.Max: {
        let v = had ? a[x]! : -Infinity;
        for (let i = from; i < to; i++) if (vs[i]! > v) v = vs[i]!;
        a[x] = v;
        break;
      }
      case Kind.First: {
        // members come in series-key order: strict < keeps the smallest key on a timestamp tie
        const t = tss[j]![from]!;
        if (!had || t < a[x]!) {
          a[x] = t;
          b[x] = vs[from]!;
        }
        break;
      }
      case Kind.Last: {
        // >= lets the largest series key win a timestamp tie
        const t = tss[j]![to - 1]!;
        if (!had || t >= a[x]!) {
          a[x] = t;
          b[x] = vs[to - 1]!;
        }
        break;
      }
      case Kind.Increase:
      case Kind.Rate: {
        // per series, then summed over the group (windowValue adds the per-series sums in the same order)
        let seg = 0;
        for (let i = from + 1; i < to; i++) {
          const d = vs[i]! - vs[i - 1]!;
          seg += d >= 0 ? d : vs[i]!;
        }
        a[x] = a[x]! + seg;
        break;
      }
      default:
        break; // Count; Percentile is handled below
    }
  });

  if (kind === Kind.Stddev) {
    // second pass: squared deviations from each window's mean
    forEachRange(p, m, tss, los, his, (j, k, from, to) => {
      const x = k - kMin;
      const mean = a[x]! / n[x]!;
      const vs = vss[j]!;
      let m2 = b[x]!;
      for (let i = from; i < to; i++) {
        const d = vs[i]! - mean;
        m2 += d * d;
      }
      b[x] = m2;
    });
  }

  if (kind === Kind.Percentile) {
    // counting sort of the values by window: b[x] = next write offset of window x, values land in scratch
    let total = 0;
    for (let x = 0; x < span; x++) {
      b[x] = total;
      total += n[x]!;
    }
    if (scratch.length < total) scratch = new Float64Array(Math.max(total, scratch.length * 2));
    const buf = scratch;
    forEachRange(p, m, tss, los, his, (j, k, from, to) => {
      const x = k - kMin;
      const vs = vss[j]!;
      let o = b[x]!;
      for (let i = from; i < to; i++) buf[o++] = vs[i]!;
      b[x] = o;
    });
    for (let x = 0; x < span; x++) {
      const c = n[x]!;
      if (c === 0) continue;
      const end = b[x]!;
      ks.push(kMin + x);
      vals.push(selectKth(buf, end - c, end - 1, end - c + percentileRank(p.pct, c) - 1));
    }
    return;
  }

  for (let x = 0; x < span; x++) {
    const c = n[x]!;
    if (c === 0) continue;
    let v: number;
    switch (kind) {
      case Kind.Count:
        v = c;
        break;
      case Kind.Avg:
        v = a[x]! / c;
        break;
      case Kind.Stddev:
        if (c < 2) continue;
        v = Math.sqrt(b[x]! / (c - 1));
        break;
      case Kind.First:
      case Kind.Last:
        v = b[x]!;
        break;
      case Kind.Rate:
        v = a[x]! / p.rateDiv;
        break;
      default:
        v = a[x]!; // Sum Min Max Increase
    }
    ks.push(kMin + x);
    vals.push(v);
  }
}

function heapGroup(p: Plan, m: number, tss: number[][], vss: number[][], los: Int32Array, his: Int32Array, ks: number[], vals: number[]): void {
  const { w0, len } = p;
  const single = p.nW === 1;
  const windowOf = (t: number): number => (single ? 0 : (windowStart(t, len) - w0) / len);
  const cur = los.slice();
  // Heap of members ordered by (window index of their next point, member order).
  const hm = new Int32Array(m);
  const hk = new Float64Array(m);
  let hn = 0;
  const less = (x: number, y: number): boolean => hk[x]! < hk[y]! || (hk[x] === hk[y] && hm[x]! < hm[y]!);
  const swap = (x: number, y: number): void => {
    const tm = hm[x]!;
    hm[x] = hm[y]!;
    hm[y] = tm;
    const tk = hk[x]!;
    hk[x] = hk[y]!;
    hk[y] = tk;
  };
  const push = (member: number, k: number): void => {
    let i = hn++;
    hm[i] = member;
    hk[i] = k;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(i, parent)) break;
      swap(i, parent);
      i = parent;
    }
  };
  const pop = (): void => {
    hn--;
    if (hn === 0) return;
    hm[0] = hm[hn]!;
    hk[0] = hk[hn]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= hn) break;
      const c = l + 1 < hn && less(l + 1, l) ? l + 1 : l;
      if (!less(c, i)) break;
      swap(c, i);
      i = c;
    }
  };
  for (let j = 0; j < m; j++) if (cur[j]! < his[j]!) push(j, windowOf(tss[j]![cur[j]!]!));

  while (hn > 0) {
    const k = hk[0]!;
    const wEnd = single ? p.end : w0 + k * len + len;
    let nr = 0;
    while (hn > 0 && hk[0] === k) {
      const j = hm[0]!;
      pop();
      const ts = tss[j]!;
      const hi = his[j]!;
      const from = cur[j]!;
      let to = from + 1;
      while (to < hi && ts[to]! < wEnd) to++;
      rm[nr] = j;
      r0[nr] = from;
      r1[nr] = to;
      nr++;
      cur[j] = to;
      if (to < hi) push(j, windowOf(ts[to]!));
    }
    const v = windowValue(p, nr, tss, vss);
    if (!Number.isNaN(v)) {
      ks.push(k);
      vals.push(v);
    }
  }
}

/** 1-based nearest rank ceil(pct/100 × n), at least 1; pct × n is an exact integer, so no 0.07×100 drift. */
function percentileRank(pct: number, n: number): number {
  return Math.max(1, Math.ceil((pct * n) / 100));
}

/**
 * The k-th smallest of a[lo..hi] (inclusive; k absolute), reordering that slice. Quickselect with a median-of-three
 * pivot and a three-way partition (many equal values are common); falls back to sorting after too many rounds, so
 * the worst case stays O(n log n).
 */
function selectKth(a: Float64Array, lo: number, hi: number, k: number): number {
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

/** The value of one window from its nr ranges (in member order); NaN = the window has no value. */
function windowValue(p: Plan, nr: number, tss: number[][], vss: number[][]): number {
  switch (p.kind) {
    case Kind.Count: {
      let n = 0;
      for (let r = 0; r < nr; r++) n += r1[r]! - r0[r]!;
      return n;
    }
    case Kind.Sum:
    case Kind.Avg:
    case Kind.Stddev: {
      let n = 0;
      let s = 0;
      for (let r = 0; r < nr; r++) {
        const vs = vss[rm[r]!]!;
        const b = r0[r]!;
        const e = r1[r]!;
        for (let i = b; i < e; i++) s += vs[i]!;
        n += e - b;
      }
      if (p.kind === Kind.Sum) return s;
      if (p.kind === Kind.Avg) return s / n;
      if (n < 2) return NaN;
      // Two-pass (mean, then squared deviations): no catastrophic cancellation for large, close values.
      const mean = s / n;
      let m2 = 0;
      for (let r = 0; r < nr; r++) {
        const vs = vss[rm[r]!]!;
        for (let i = r0[r]!, e = r1[r]!; i < e; i++) {
          const d = vs[i]! - mean;
          m2 += d * d;
        }
      }
      return Math.sqrt(m2 / (n - 1));
    }
    case Kind.Min: {
      let x = Infinity;
      for (let r = 0; r < nr; r++) {
        const vs = vss[rm[r]!]!;
        for (let i = r0[r]!, e = r1[r]!; i < e; i++) if (vs[i]! < x) x = vs[i]!;
      }
      return x;
    }
    case Kind.Max: {
      let x = -Infinity;
      for (let r = 0; r < nr; r++) {
        const vs = vss[rm[r]!]!;
        for (let i = r0[r]!, e = r1[r]!; i < e; i++) if (vs[i]! > x) x = vs[i]!;
      }
      return x;
    }
    case Kind.First: {
      // Ranges come in member order (series key): strict < keeps the smallest key on a timestamp tie.
      let bt = Infinity;
      let bv = NaN;
      for (let r = 0; r < nr; r++) {
        const t = tss[rm[r]!]![r0[r]!]!;
        if (t < bt) {
          bt = t;
          bv = vss[rm[r]!]![r0[r]!]!;
        }
      }
      return bv;
    }
    case Kind.Last: {
      // >= lets the largest series key win a timestamp tie: points ordered by (timestamp, series key), last one.
      let bt = -Infinity;
      let bv = NaN;
      for (let r = 0; r < nr; r++) {
        const i = r1[r]! - 1;
        const t = tss[rm[r]!]![i]!;
        if (t >= bt) {
          bt = t;
          bv = vss[rm[r]!]![i]!;
        }
      }
      return bv;
    }
    case Kind.Percentile: {
      let n = 0;
      for (let r = 0; r < nr; r++) n += r1[r]! - r0[r]!;
      if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
      let o = 0;
      for (let r = 0; r < nr; r++) {
        const vs = vss[rm[r]!]!;
        for (let i = r0[r]!, e = r1[r]!; i < e; i++) scratch[o++] = vs[i]!;
      }
      return selectKth(scratch, 0, n - 1, percentileRank(p.pct, n) - 1);
    }
    case Kind.Increase:
    case Kind.Rate: {
      // Per series (pairs never cross series or windows), summed over the group. One point → 0.
      let inc = 0;
      for (let r = 0; r < nr; r++) {
        const vs = vss[rm[r]!]!;
        let seg = 0;
        for (let i = r0[r]! + 1, e = r1[r]!; i < e; i++) {
          const d = vs[i]! - vs[i - 1]!;
          seg += d >= 0 ? d : vs[i]!;
        }
        inc += seg;
      }
      return p.kind === Kind.Increase ? inc : inc / p.rateDiv;
    }
  }
}

/** Output order: by metric, then by the canonical tag string (`{k="v",...}`, keys sorted), UTF-16 code unit order. */
function sortOutput(out: AggregatedSeries[]): AggregatedSeries[] {
  const keyed = out.map((s) => ({ s, t: canonicalSeriesKey('', s.tags) }));
  keyed.sort((a, b) => (a.s.metric < b.s.metric ? -1 : a.s.metric > b.s.metric ? 1 : a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
  return keyed.map((x) => x.s);
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
        throw new TsdbError(
          'TSDB_ERR_QUERY_LIMIT',
          `cannot run query (${groups.length} groups, ${p.nW} windows, fill=${p.fill}): the answer would hold more than ${limits.maxOutputPoints} points; use a larger step, a shorter range, a narrower selector or fill=none`,
          { details: [{ field: 'step', reason: `more than ${limits.maxOutputPoints} output points` }] },
        );
      }
      out.push({ metric: g.metric, tags: g.tags, points: applyFill(ks, vals, p.w0, p.len, p.nW, p.fill) });
    }
  } finally {
    releaseBuffers();
  }
  return sortOutput(out);
}
