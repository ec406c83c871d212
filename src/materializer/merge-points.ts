import type { PointColumns } from '../store/read-model.js';

/**
 * Merges point runs given in log order into one ascending run with one point per timestamp: the last one in log
 * order wins (API.md "Duplicates"). Only points with start <= t < end are kept.
 */
export function mergeLogOrdered(runs: PointColumns[], start: number, end: number): PointColumns {
  const ts: number[] = [];
  const vs: number[] = [];
  let sorted = true;
  let prev = Number.NEGATIVE_INFINITY;
  for (const run of runs) {
    for (let i = 0; i < run.ts.length; i++) {
      const t = run.ts[i]!;
      if (t < start || t >= end) continue;
      if (t <= prev) sorted = false;
      prev = t;
      ts.push(t);
      vs.push(run.vs[i]!);
    }
  }
  if (sorted) return { ts, vs };
  // Stable by construction: ties break on log position, and the last of each run of equal timestamps is kept.
  const order = Array.from({ length: ts.length }, (_, i) => i);
  order.sort((a, b) => ts[a]! - ts[b]! || a - b);
  const outT: number[] = [];
  const outV: number[] = [];
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const next = order[k + 1];
    if (next !== undefined && ts[next] === ts[i]) continue;
    outT.push(ts[i]!);
    outV.push(vs[i]!);
  }
  return { ts: outT, vs: outV };
}
