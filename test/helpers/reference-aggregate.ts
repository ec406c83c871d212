/**
 * Reference implementation of API.md `GET /api/v1/query` fn/step/by/fill, for differential tests only.
 * Deliberately naive and written straight from API.md (plus the decisions in docs/query-semantics.md): list every
 * window, list every group, and for each (group, window) filter all the group's points and compute the value from
 * scratch. Shares nothing with src/query/aggregate but the types. Quadratic; only for small inputs.
 *
 * Percentiles are always exact here. referenceAggregateWithBounds also says, per output point, how far the engine
 * may be from that exact value: a window with more than `exactPercentileMax` values may be answered by a sketch
 * within `alpha`·|v| (docs/query-semantics.md), and fill carries that bound along (previous copies it, linear
 * interpolates it); every other point must be exact (bound 0).
 */
import type { AggFn, AggregatedSeries, FillPolicy } from '../../src/query/aggregate/index.js';
import type { SeriesPoints } from '../../src/query/query-service.js';

export interface ReferenceQuery {
  fn: AggFn;
  start: number;
  end: number;
  step?: number;
  by?: string[];
  fill?: FillPolicy;
}

interface Pt {
  t: number;
  v: number;
  key: string;
  /** Input position, to keep distinct series apart even if they had equal keys. */
  series: number;
}

interface Win {
  stamp: number;
  lo: number;
  hi: number;
}

function windowsOf(q: ReferenceQuery): Win[] {
  if (q.step === undefined) return [{ stamp: q.start, lo: q.start, hi: q.end }];
  const step = q.step;
  const floorTo = (t: number): number => Math.floor(t / step) * step;
  const out: Win[] = [];
  for (let w = floorTo(q.start); w <= floorTo(q.end - 1); w += step) {
    out.push({ stamp: w, lo: Math.max(w, q.start), hi: Math.min(w + step, q.end) });
  }
  return out;
}

function increaseOf(pts: Pt[]): number {
  const sorted = [...pts].sort((a, b) => a.t - b.t);
  let total = 0;
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!.v;
    const cur = sorted[i]!.v;
    total += cur - prev >= 0 ? cur - prev : cur;
  }
  return total;
}

export interface SketchRule {
  /** Windows with more values than this may be sketched. */
  exactPercentileMax: number;
  /** Relative error a sketched percentile may have. */
  alpha: number;
}

/** Value of fn over the points of one group in one window; undefined = no value. */
function valueOf(fn: AggFn, pts: Pt[], seconds: number): number | undefined {
  if (pts.length === 0) return undefined;
  const vs = pts.map((p) => p.v);
  const n = vs.length;
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  // Points ordered by timestamp, ties by series key (then input position).
  const byTime = [...pts].sort((a, b) => a.t - b.t || (a.key < b.key ? -1 : a.key > b.key ? 1 : a.series - b.series));
  switch (fn) {
    case 'count':
      return n;
    case 'sum':
      return sum(vs);
    case 'min':
      return Math.min(...vs);
    case 'max':
      return Math.max(...vs);
    case 'avg':
      return sum(vs) / n;
    case 'first':
      return byTime[0]!.v;
    case 'last':
      return byTime[n - 1]!.v;
    case 'stddev': {
      if (n < 2) return undefined;
      const mean = sum(vs) / n;
      return Math.sqrt(sum(vs.map((v) => (v - mean) ** 2)) / (n - 1));
    }
    case 'increase':
    case 'rate': {
      // per series, then summed over the group
      const perSeries = new Map<number, Pt[]>();
      for (const p of pts) perSeries.set(p.series, [...(perSeries.get(p.series) ?? []), p]);
      let total = 0;
      for (const sp of perSeries.values()) total += fn === 'increase' ? increaseOf(sp) : increaseOf(sp) / seconds;
      return total;
    }
    default: {
      const nn = Number(fn.slice(1));
      const sorted = [...vs].sort((a, b) => a - b);
      // nearest rank: smallest 1-based rank r with r >= nn/100 * n, at least 1
      let r = 1;
      while (r * 100 < nn * n) r++;
      return sorted[r - 1]!;
    }
  }
}

/** Fills the windows; bounds (parallel to the output) receive each point's allowed error. */
function fill(policy: FillPolicy, wins: Win[], vals: Array<number | undefined>, errs: number[], bounds: number[]): Array<[number, number | null]> {
  const out: Array<[number, number | null]> = [];
  let prev: number | undefined;
  let prevErr = 0;
  for (let i = 0; i < wins.length; i++) {
    const stamp = wins[i]!.stamp;
    const v = vals[i];
    if (v !== undefined) {
      out.push([stamp, v]);
      bounds.push(errs[i]!);
      prev = v;
      prevErr = errs[i]!;
      continue;
    }
    if (policy === 'null') {
      out.push([stamp, null]);
      bounds.push(0);
    } else if (policy === 'zero') {
      out.push([stamp, 0]);
      bounds.push(0);
    } else if (policy === 'previous') {
      if (prev !== undefined) {
        out.push([stamp, prev]);
        bounds.push(prevErr);
      }
    } else if (policy === 'linear') {
      let a = i - 1;
      while (a >= 0 && vals[a] === undefined) a--;
      let b = i + 1;
      while (b < wins.length && vals[b] === undefined) b++;
      if (a >= 0 && b < wins.length) {
        const ta = wins[a]!.stamp;
        const tb = wins[b]!.stamp;
        const va = vals[a]!;
        const vb = vals[b]!;
        const f = (stamp - ta) / (tb - ta);
        out.push([stamp, va + (vb - va) * f]);
        bounds.push((1 - f) * errs[a]! + f * errs[b]!);
      }
    }
  }
  return out;
}

function tagString(tags: Record<string, string>): string {
  const keys = Object.keys(tags).sort();
  if (keys.length === 0) return '';
  return '{' + keys.map((k) => `${k}="${tags[k]}"`).join(',') + '}';
}

export function referenceAggregate(input: SeriesPoints[], q: ReferenceQuery): AggregatedSeries[] {
  return referenceAggregateWithBounds(input, q, { exactPercentileMax: Infinity, alpha: 0 }).map(({ metric, tags, points }) => ({ metric, tags, points }));
}

/** The exact answer, plus per output point the error the engine may make (bounds[i] for points[i]). */
export function referenceAggregateWithBounds(
  input: SeriesPoints[],
  q: ReferenceQuery,
  rule: SketchRule,
): Array<AggregatedSeries & { bounds: number[]; sketchedWindows: number }> {
  const wins = windowsOf(q);
  const seconds = (q.step ?? q.end - q.start) / 1000;
  const groups = new Map<string, number[]>();
  input.forEach((sp, i) => {
    const gk =
      q.by === undefined
        ? `series#${i}`
        : JSON.stringify(q.by.map((k) => (k === '__name__' ? ['name', sp.series.metric] : Object.hasOwn(sp.series.tags, k) ? ['tag', sp.series.tags[k]] : ['absent'])));
    groups.set(gk, [...(groups.get(gk) ?? []), i]);
  });

  const out: Array<AggregatedSeries & { bounds: number[]; sketchedWindows: number }> = [];
  const isPercentile = /^p\d+$/.test(q.fn);
  for (const members of groups.values()) {
    const pts: Pt[] = [];
    for (const i of members) {
      const { series, points } = input[i]!;
      for (let j = 0; j < points.ts.length; j++) {
        const t = points.ts[j]!;
        if (t >= q.start && t < q.end) pts.push({ t, v: points.vs[j]!, key: series.key, series: i });
      }
    }
    if (pts.length === 0) continue;
    const inWin = wins.map((w) => pts.filter((p) => p.t >= w.lo && p.t < w.hi));
    const vals = inWin.map((wp) => valueOf(q.fn, wp, seconds));
    const sketched = inWin.map((wp) => isPercentile && wp.length > rule.exactPercentileMax);
    const errs = vals.map((v, i) => (v !== undefined && sketched[i] ? rule.alpha * Math.abs(v) : 0));
    const bounds: number[] = [];
    const points = fill(q.fill ?? 'none', wins, vals, errs, bounds);
    if (points.length === 0) continue;

    const first = input[members[0]!]!.series;
    const metrics = new Set(members.map((i) => input[i]!.series.metric));
    let metric = first.metric;
    let tags: Record<string, string> = { ...first.tags };
    if (q.by !== undefined) {
      metric = metrics.size === 1 ? first.metric : '';
      tags = {};
      for (const k of q.by) if (k !== '__name__' && Object.hasOwn(first.tags, k)) tags[k] = first.tags[k]!;
    }
    out.push({ metric, tags, points, bounds, sketchedWindows: sketched.filter(Boolean).length });
  }
  return out.sort((a, b) => {
    if (a.metric !== b.metric) return a.metric < b.metric ? -1 : 1;
    const ta = tagString(a.tags);
    const tb = tagString(b.tags);
    return ta < tb ? -1 : ta > tb ? 1 : 0;
  });
}
