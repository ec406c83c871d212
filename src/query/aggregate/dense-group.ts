/**
 * The dense strategy for groups of several series (see evalGroup in aggregate.ts): each member's windows are folded,
 * member by member, into per-window accumulators, in O(points + windows) and with no heap.
 */
import { increaseOf, Kind, lowerBound, windowStart, type Plan } from './plan.js';
import { percentileRank, percentileScratch, percentileSketch, selectKth } from './percentile.js';

/** Reusable; the engine is synchronous, so one set per process is enough. */
let accN = new Float64Array(1024);
let accA = new Float64Array(1024);
let accB = new Float64Array(1024);

export function releaseAccumulators(maxKept: number): void {
  if (accN.length > maxKept) {
    accN = new Float64Array(1024);
    accA = new Float64Array(1024);
    accB = new Float64Array(1024);
  }
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

/** Percentile of window k (c values, over exactMax) from the engine's sketch, members in order. */
function sketchWindow(p: Plan, m: number, tss: number[][], vss: number[][], los: Int32Array, his: Int32Array, k: number, c: number): number {
  const single = p.nW === 1;
  const wStart = single ? p.start : p.w0 + k * p.len;
  const wEnd = single ? p.end : wStart + p.len;
  const sk = percentileSketch();
  for (let j = 0; j < m; j++) {
    const ts = tss[j]!;
    const from = lowerBound(ts, wStart, los[j]!, his[j]!);
    const to = lowerBound(ts, wEnd, from, his[j]!);
    sk.addRange(vss[j]!, from, to);
  }
  return sk.valueAtRank(percentileRank(p.pct, c));
}

export function denseGroup(p: Plan, m: number, tss: number[][], vss: number[][], los: Int32Array, his: Int32Array, kMin: number, span: number, ks: number[], vals: number[]): void {
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
        // per series, then summed over the group (windowValue in window-ranges.ts adds the per-series sums in the same order)
        a[x] = a[x]! + increaseOf(vs, from, to);
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
    // counting sort of the values of exact windows: b[x] = next write offset of window x, values land in scratch;
    // windows over exactMax (b[x] = -1) are sketched afterwards, one at a time, straight from the members' columns
    let total = 0;
    for (let x = 0; x < span; x++) {
      if (n[x]! > p.exactMax) {
        b[x] = -1;
        continue;
      }
      b[x] = total;
      total += n[x]!;
    }
    const buf = percentileScratch(total);
    forEachRange(p, m, tss, los, his, (j, k, from, to) => {
      const x = k - kMin;
      let o = b[x]!;
      if (o < 0) return;
      const vs = vss[j]!;
      for (let i = from; i < to; i++) buf[o++] = vs[i]!;
      b[x] = o;
    });
    for (let x = 0; x < span; x++) {
      const c = n[x]!;
      if (c === 0) continue;
      const end = b[x]!;
      ks.push(kMin + x);
      vals.push(end < 0 ? sketchWindow(p, m, tss, vss, los, his, kMin + x, c) : selectKth(buf, end - c, end - 1, end - c + percentileRank(p.pct, c) - 1));
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
