/**
 * Percentiles from rollup sketches (src/materializer/series-parts.ts with rollupSketches, src/query/aggregate/partial.ts,
 * docs/query-semantics.md rule 48): random histories of two series in one group, blocks sealed with bucket sketches
 * (resolutions 1 s and 5 s here, sketches on 5 s, the same code as `5m,1h,sketch`), sealed without, or hot, plus head
 * runs, queried with steps that are multiples of 5 s (or not) and ranges that cut blocks anywhere. Checked:
 *  - summaries are only sketch-carrying rollup buckets, each the sketch of exactly its merged points;
 *  - per window, p50/p90/p95/p99 are within α = 0.01 relative of the exact nearest-rank answer over the merged read;
 *    a window with a sketch bucket equals the percentile of the sketch of all its raw values (the defined result),
 *    a window without one equals today's answer (exact here: its values are below exactPercentileMax).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBlock } from '../../src/codec/block.js';
import { ROLLUP_SKETCH } from '../../src/codec/block-rollup.js';
import { rollupSketch } from '../../src/codec/rollup-sketch.js';
import { mergeLogOrdered } from '../../src/materializer/merge-points.js';
import { seriesParts } from '../../src/materializer/series-parts.js';
import { addSeriesPartial, finalizePartials, planAggregate, windowStart, type AggFn, type PartialAggregate } from '../../src/query/aggregate/index.js';
import type { PointColumns, SeriesParts } from '../../src/store/read-model.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { assertPartsMatch, randomRuns } from '../helpers/series-histories.js';

const ALPHA = 0.01;
const LIMITS = { maxWindows: 1_000_000, maxOutputPoints: 10_000_000, exactPercentileMax: 10_000 };

function nearestRank(sorted: readonly number[], pct: number): number {
  return sorted[Math.max(1, Math.ceil((pct * sorted.length) / 100)) - 1]!;
}

describe('percentiles from rollup sketches', () => {
  it('random histories: answers within α of the exact ones, equal to the sketch of the raw values where a sketch bucket is in the window', () => {
    const r = seededRandom('query-rollup-sketch');
    const CASES = 1500;
    let sketchBuckets = 0;
    let sketchWindows = 0;
    let exactWindows = 0;
    for (let c = 0; c < CASES; c++) {
      const lo = 90_000;
      let hi = 0;
      const series: Array<{ full: PointColumns; parts: SeriesParts }> = [];
      let start = 0;
      let end = 0;
      const step = [5000, 10_000, 15_000, 3000, 7000, undefined][r.int(0, 5)];
      const histories = [0, 1].map(() => {
        const { runs, clock } = randomRuns(r, r.int(1, 6), 100_000 + r.int(0, 20_000), { maxPoints: 60, maxGap: 800, overlap: 20_000, dupStep: 300, future: 6000, inOrder: 3 });
        hi = Math.max(hi, clock + 7000);
        return runs;
      });
      start = r.int(lo, hi);
      end = r.int(lo, hi);
      if (start > end) [start, end] = [end, start];
      if (r.next() < 0.4) [start, end] = [Math.floor(start / 5000) * 5000, Math.floor(end / 5000) * 5000 + 5000];
      if (r.next() < 0.2) [start, end] = [lo, hi];
      if (end <= start) end = start + 1;
      for (const runs of histories) {
        const nHeads = r.int(0, 1);
        const blocks = runs.slice(0, runs.length - Math.min(nHeads, runs.length - 1));
        const heads = runs.slice(blocks.length);
        const encoded = blocks.map((b) => {
          const kind = ['sketch', 'sketch', 'sketch', 'rollup', 'hot'][r.int(0, 4)]!;
          if (kind === 'hot') return encodeBlock(b.ts, b.vs);
          return encodeBlock(b.ts, b.vs, { sealed: true, cold: true, rollups: kind === 'sketch' ? [ROLLUP_SKETCH, 1000, 5000] : [1000, 5000] });
        });
        const full = mergeLogOrdered(runs, start, end);
        const parts = seriesParts(encoded, heads, start, end, { step, summaries: true, rollupSketches: true });
        const what = `case ${c} (step ${step}, [${start}, ${end}))`;
        assert.ok(parts.summaries.every((s) => s.sketch !== undefined && s.sketch.count === s.count), `${what}: only sketch buckets`);
        assert.equal(parts.rollupSummaries ?? 0, parts.summaries.length, `${what}: no header summaries`);
        if (step !== undefined && step % 5000 !== 0) assert.equal(parts.summaries.length, 0, `${what}: step is no multiple of 5 s`);
        assertPartsMatch(full, parts, start, end, step, what);
        for (const s of parts.summaries) {
          const inside = full.vs.filter((_, i) => full.ts[i]! >= s.minT && full.ts[i]! <= s.maxT);
          const want = rollupSketch();
          for (const v of inside) want.add(v);
          assert.deepEqual(s.sketch!.buckets(), want.buckets(), `${what}: bucket [${s.minT}, ${s.maxT}] sketch`);
        }
        sketchBuckets += parts.summaries.length;
        series.push({ full, parts });
      }
      // per window: raw values of both series, and whether a sketch bucket fell in it
      const len = step ?? end - start;
      const w0 = step === undefined ? start : windowStart(start, step);
      const windows = new Map<number, { vs: number[]; sketched: boolean }>();
      const win = (t: number) => {
        const k = step === undefined ? 0 : (windowStart(t, step) - w0) / len;
        let w = windows.get(k);
        if (w === undefined) windows.set(k, (w = { vs: [], sketched: false }));
        return w;
      };
      for (const { full, parts } of series) {
        full.ts.forEach((t, i) => win(t).vs.push(full.vs[i]!));
        for (const s of parts.summaries) win(s.minT).sketched = true;
      }
      for (const fn of ['p50', 'p90', 'p95', 'p99'] as AggFn[]) {
        const pct = Number(fn.slice(1));
        const p = planAggregate({ fn, start, end, step, by: [] }, LIMITS);
        const acc: PartialAggregate = new Map();
        series.forEach(({ parts }, i) => addSeriesPartial(acc, p, [], { partition: 0, id: i, metric: 'm', tags: {}, key: `m{s=${i}}` }, parts.points, parts.summaries));
        const out = finalizePartials(acc, p, LIMITS);
        const got = new Map((out[0]?.points ?? []).map(([t, v]) => [t, v!]));
        assert.equal(got.size, windows.size, `case ${c} ${fn}: windows`);
        for (const [k, w] of windows) {
          const t = w0 + k * len;
          const v = got.get(t)!;
          const sorted = [...w.vs].sort((a, b) => a - b);
          const exact = nearestRank(sorted, pct);
          const where = `case ${c} ${fn} window ${t} (${w.vs.length} values, sketched ${w.sketched})`;
          assert.ok(Math.abs(v - exact) <= ALPHA * Math.abs(exact), `${where}: ${v} vs exact ${exact}`);
          if (w.sketched) {
            const all = rollupSketch();
            for (const x of w.vs) all.add(x);
            assert.ok(v == all.percentile(pct), `${where}: ${v} is not the sketch of the raw values (${all.percentile(pct)})`); // == : −0 and 0 are one value
            if (fn === 'p50') sketchWindows++;
          } else {
            assert.ok(v == exact, `${where}: ${v}, not exact ${exact} without sketch buckets`);
            if (fn === 'p50') exactWindows++;
          }
        }
      }
    }
    console.log(`# query-rollup-sketch: ${CASES} cases, ${sketchBuckets} sketch buckets, ${sketchWindows} windows from sketches, ${exactWindows} exact`);
    assert.ok(sketchBuckets > 500 && sketchWindows > 200 && exactWindows > 200, 'both paths taken often');
  });

  it('without sketches in the blocks, rollupSketches summarizes nothing (rollups without sketches and headers are not used)', () => {
    const ts = Array.from({ length: 100 }, (_, i) => 100_000 + i * 200);
    const vs = ts.map((_, i) => i % 7);
    const plain = encodeBlock(ts, vs, { sealed: true, rollups: [1000, 5000] });
    const parts = seriesParts([plain], [], 0, 200_000, { step: 10_000, summaries: true, rollupSketches: true });
    assert.deepEqual([parts.summaries.length, parts.decodedBlocks], [0, 1]);
    const one = seriesParts([plain], [], 0, 200_000, { summaries: true, rollupSketches: true });
    assert.deepEqual([one.summaries.length, one.decodedBlocks], [0, 1], 'a block inside one window is not answered from its header');
    const sk = encodeBlock(ts, vs, { sealed: true, rollups: [ROLLUP_SKETCH, 1000, 5000] });
    const s = seriesParts([sk], [], 0, 200_000, { step: 10_000, summaries: true, rollupSketches: true });
    assert.deepEqual([s.summaries.length, s.decodedBlocks, s.rollupBlocks], [4, 0, 1], 'the 5 s sketch buckets');
    assert.equal(seriesParts([sk], [], 0, 200_000, { step: 3000, summaries: true, rollupSketches: true }).decodedBlocks, 1, 'step 3 s: the 1 s rollup has no sketches');
  });
});
