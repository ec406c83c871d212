/**
 * Random series histories for the series-parts property tests (query-series-parts*.test.ts): runs in log order —
 * in-order runs that stand alone, runs that overlap the past, runs with duplicate timestamps, out-of-order runs —
 * and the check that summaries and points together are the merged read.
 */
import assert from 'node:assert/strict';
import type { PointColumns, SeriesParts } from '../../src/store/read-model.js';

export interface HistoryShape {
  /** Points per run: 1 … maxPoints. */
  maxPoints: number;
  /** In-order runs advance 1 … maxGap per point. */
  maxGap: number;
  /** Overlapping runs reach back up to this far. */
  overlap: number;
  /** Runs with duplicates advance 0 or this per point. */
  dupStep: number;
  /** Out-of-order runs land up to this far ahead. */
  future: number;
  /** Of shapes 0 … inOrder + 2, shapes 0 … inOrder are in order (the rest: overlap, duplicates, out of order). */
  inOrder: number;
}

type Random = { next: () => number; int: (lo: number, hi: number) => number };

/** Runs in log order, and the clock after the last (every timestamp is below clock + future). */
export function randomRuns(r: Random, nRuns: number, clock: number, s: HistoryShape): { runs: PointColumns[]; clock: number } {
  const runs: PointColumns[] = [];
  for (let k = 0; k < nRuns; k++) {
    const n = r.int(1, s.maxPoints);
    const ts: number[] = [];
    const vs: number[] = [];
    const kind = r.int(0, s.inOrder + 3);
    if (kind <= s.inOrder) {
      for (let i = 0; i < n; i++) ts.push((clock += r.int(1, s.maxGap)));
    } else if (kind === s.inOrder + 1) {
      for (let i = 0; i < n; i++) ts.push(clock - r.int(0, s.overlap));
    } else if (kind === s.inOrder + 2) {
      for (let i = 0; i < n; i++) ts.push((clock += r.int(0, 1) * s.dupStep));
    } else {
      for (let i = 0; i < n; i++) ts.push(clock + r.int(1, s.future));
      clock += s.future;
    }
    for (let i = 0; i < n; i++) vs.push(r.next() < 0.3 ? r.int(-3, 3) : Number(((r.next() - 0.5) * 100).toFixed(r.int(0, 3))));
    runs.push({ ts, vs });
  }
  return { runs, clock };
}

/**
 * Every summary is exactly the merged points of its [minT, maxT] (count, min, max, sum in the same order; first/last
 * unless NaN, which only rollup buckets have), inside [start, end) and one window, disjoint; the points are the
 * merged read minus the summarized points.
 */
export function assertPartsMatch(full: PointColumns, parts: SeriesParts, start: number, end: number, step: number | undefined, what: string): void {
  const covered = new Set<number>();
  let prevMax = -Infinity;
  for (const s of parts.summaries) {
    const where = `${what}: summary ${JSON.stringify(s)}`;
    assert.ok(s.minT > prevMax, `${where}: summaries are disjoint and sorted`);
    prevMax = s.maxT;
    assert.ok(s.minT >= start && s.maxT < end, `${where}: inside [${start}, ${end})`);
    if (step !== undefined) assert.equal(Math.floor(s.minT / step), Math.floor(s.maxT / step), `${where}: inside one window`);
    const idx: number[] = [];
    for (let i = 0; i < full.ts.length; i++) if (full.ts[i]! >= s.minT && full.ts[i]! <= s.maxT) idx.push(i);
    assert.equal(idx.length, s.count, `${where}: count`);
    let sum = full.vs[idx[0]!]!;
    let min = sum;
    let max = sum;
    for (const i of idx.slice(1)) {
      sum += full.vs[i]!;
      min = Math.min(min, full.vs[i]!);
      max = Math.max(max, full.vs[i]!);
    }
    assert.deepEqual([sum, min, max], [s.sum, s.min, s.max], `${where}: sum min max`);
    if (Number.isNaN(s.first)) assert.ok(Number.isNaN(s.last), `${where}: a rollup bucket has neither first nor last`);
    else assert.deepEqual([full.vs[idx[0]!], full.vs[idx[idx.length - 1]!]], [s.first, s.last], `${where}: first last`);
    for (const i of idx) covered.add(full.ts[i]!);
  }
  const rest = { ts: [] as number[], vs: [] as number[] };
  for (let i = 0; i < full.ts.length; i++) {
    if (covered.has(full.ts[i]!)) continue;
    rest.ts.push(full.ts[i]!);
    rest.vs.push(full.vs[i]!);
  }
  assert.deepEqual(parts.points, rest, `${what}: the points are the merged read minus the summarized ones`);
}
