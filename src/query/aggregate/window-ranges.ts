/**
 * Windows evaluated from ranges: a (group, window) is the few (member, from, to) ranges of the members' columns that
 * fall in it, held in rm/r0/r1, and windowValue computes its value from them without copying. Two strategies fill the
 * ranges (see evalGroup in aggregate.ts): one series walked window by window, and several merged with a heap.
 */
import { increaseOf, Kind, windowStart, type Plan } from './plan.js';
import { percentileRank, percentileScratch, percentileSketch, selectKth } from './percentile.js';

/** Reusable; the engine is synchronous, so one set per process is enough. */
let rm = new Int32Array(16);
let r0 = new Int32Array(16);
let r1 = new Int32Array(16);

/** Room for one range per member of an m-member group. */
export function reserveRanges(m: number): void {
  if (rm.length < m) {
    rm = new Int32Array(m);
    r0 = new Int32Array(m);
    r1 = new Int32Array(m);
  }
}

export function releaseRanges(maxKept: number): void {
  if (rm.length > maxKept) {
    rm = new Int32Array(16);
    r0 = new Int32Array(16);
    r1 = new Int32Array(16);
  }
}

/** A group of one series, whose points in [start, end) are ts[lo..hi) with hi > lo. */
export function singleSeriesGroup(p: Plan, tss: number[][], vss: number[][], lo: number, hi: number, ks: number[], vals: number[]): void {
  const { w0, len } = p;
  const single = p.nW === 1;
  const windowOf = (t: number): number => (single ? 0 : (windowStart(t, len) - w0) / len);
  const ts = tss[0]!;
  let i = lo;
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
}

export function heapGroup(p: Plan, m: number, tss: number[][], vss: number[][], los: Int32Array, his: Int32Array, ks: number[], vals: number[]): void {
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
      if (n > p.exactMax) {
        const sk = percentileSketch();
        for (let r = 0; r < nr; r++) sk.addRange(vss[rm[r]!]!, r0[r]!, r1[r]!);
        return sk.valueAtRank(percentileRank(p.pct, n));
      }
      const buf = percentileScratch(n);
      let o = 0;
      for (let r = 0; r < nr; r++) {
        const vs = vss[rm[r]!]!;
        for (let i = r0[r]!, e = r1[r]!; i < e; i++) buf[o++] = vs[i]!;
      }
      return selectKth(buf, 0, n - 1, percentileRank(p.pct, n) - 1);
    }
    case Kind.Increase:
    case Kind.Rate: {
      // Per series (pairs never cross series or windows), summed over the group. One point → 0.
      let inc = 0;
      for (let r = 0; r < nr; r++) {
        inc += increaseOf(vss[rm[r]!]!, r0[r]!, r1[r]!);
      }
      return p.kind === Kind.Increase ? inc : inc / p.rateDiv;
    }
  }
}
