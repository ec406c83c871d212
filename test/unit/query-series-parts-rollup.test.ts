/**
 * Rollup answers (src/materializer/series-parts.ts, docs/query-semantics.md "Rollups"): random series histories in
 * which blocks are sealed with rollups (1 s and 5 s resolutions here, the same code as 5 m and 1 h), sealed without,
 * or hot fragments, overlapping or not, plus head runs, queried with steps that are multiples of the resolutions (or
 * not) and ranges that cut blocks anywhere. Checked against the merged read (what the decoded path aggregates):
 *  - every summary (whole block or rollup bucket) is exactly the merged points of its [minT, maxT]: count, min, max,
 *    and the sum in the same order; a bucket summary has first/last NaN, lies in [start, end) and in one window;
 *  - summaries are disjoint, the points are the merged read minus the summarized ones;
 *  - per window, count/min/max from summaries + points equal the decoded path's, sum within 1e-9 relative.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBlock } from '../../src/codec/block.js';
import { mergeLogOrdered } from '../../src/materializer/merge-points.js';
import { seriesParts } from '../../src/materializer/series-parts.js';
import type { BlockSummary, PointColumns } from '../../src/store/read-model.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { assertPartsMatch, randomRuns } from '../helpers/series-histories.js';

const floorTo = (t: number, step: number): number => Math.floor(t / step) * step;

interface Window {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** Per window of `step` (without a step: one window, key 0). */
function perWindow(points: PointColumns, summaries: readonly BlockSummary[], step: number | undefined): Map<number, Window> {
  const out = new Map<number, Window>();
  const add = (t: number, count: number, sum: number, min: number, max: number): void => {
    const w = step === undefined ? 0 : floorTo(t, step);
    const x = out.get(w);
    if (x === undefined) out.set(w, { count, sum, min, max });
    else {
      x.count += count;
      x.sum += sum;
      x.min = Math.min(x.min, min);
      x.max = Math.max(x.max, max);
    }
  };
  points.ts.forEach((t, i) => add(t, 1, points.vs[i]!, points.vs[i]!, points.vs[i]!));
  for (const s of summaries) add(s.minT, s.count, s.sum, s.min, s.max);
  return out;
}

describe('series parts with rollups: blocks spanning windows answered per bucket', () => {
  it('random histories: bucket summaries and points together equal the merged read', () => {
    const r = seededRandom('query-series-parts-rollup');
    const CASES = 3000;
    let bucketSummaries = 0;
    let rollupBlocks = 0;
    let headerSummaries = 0;
    let decoded = 0;
    for (let c = 0; c < CASES; c++) {
      const nRuns = r.int(1, 8);
      const { runs, clock } = randomRuns(r, nRuns, 100_000 + r.int(0, 20_000), { maxPoints: 60, maxGap: 800, overlap: 20_000, dupStep: 300, future: 6000, inOrder: 3 });
      const kinds = runs.map(() => ['rollup', 'rollup', 'sealed', 'hot'][r.int(0, 3)]!);
      const nHeads = r.int(0, 2);
      const blocks = runs.slice(0, runs.length - Math.min(nHeads, runs.length - 1));
      const heads = runs.slice(blocks.length);
      const lo = 90_000;
      const hi = clock + 7000;
      let start = r.int(lo, hi);
      let end = r.int(lo, hi);
      if (start > end) [start, end] = [end, start];
      if (r.next() < 0.3) [start, end] = [floorTo(start, 5000), floorTo(end, 5000) + 5000];
      if (r.next() < 0.2) [start, end] = [lo, hi];
      end += r.next() < 0.5 ? 0 : 1;
      if (end <= start) end = start + 1;
      const step = [1000, 2000, 5000, 10_000, 15_000, 3000, 700, 2500, undefined][r.int(0, 8)];
      const encoded = blocks.map((b, i) =>
        kinds[i] === 'hot' ? encodeBlock(b.ts, b.vs) : encodeBlock(b.ts, b.vs, { sealed: true, cold: true, rollups: kinds[i] === 'rollup' ? [1000, 5000] : [] }),
      );
      const full = mergeLogOrdered(runs, start, end);

      const noRollups = seriesParts(encoded, heads, start, end, { step, summaries: true });
      assert.ok(noRollups.summaries.every((s) => !Number.isNaN(s.first)) && !noRollups.rollupBlocks, `case ${c}: no rollups unless asked`);

      const parts = seriesParts(encoded, heads, start, end, { step, summaries: true, rollups: true });
      decoded += parts.decodedBlocks;
      rollupBlocks += parts.rollupBlocks ?? 0;
      bucketSummaries += parts.rollupSummaries ?? 0;
      headerSummaries += parts.summaries.length - (parts.rollupSummaries ?? 0);
      assert.equal(parts.summaries.filter((s) => Number.isNaN(s.first)).length, parts.rollupSummaries ?? 0, `case ${c}: rollupSummaries`);
      if (step !== undefined && step % 1000 !== 0) assert.ok(!parts.rollupBlocks, `case ${c}: step ${step} is no multiple of a resolution`);
      assertPartsMatch(full, parts, start, end, step, `case ${c} (step ${step}, [${start}, ${end}))`);

      const want = perWindow(full, [], step);
      const got = perWindow(parts.points, parts.summaries, step);
      assert.deepEqual([...got.keys()].sort((a, b) => a - b), [...want.keys()].sort((a, b) => a - b), `case ${c}: windows`);
      for (const [w, x] of want) {
        const y = got.get(w)!;
        assert.deepEqual([y.count, y.min, y.max], [x.count, x.min, x.max], `case ${c} window ${w}: count min max`);
        assert.ok(Math.abs(y.sum - x.sum) <= 1e-9 * Math.max(1, Math.abs(x.sum)), `case ${c} window ${w}: sum ${y.sum} vs ${x.sum}`);
      }
    }
    console.log(`# query-series-parts-rollup: ${CASES} histories, ${rollupBlocks} blocks from rollups (${bucketSummaries} buckets), ${headerSummaries} from headers, ${decoded} decoded`);
    assert.ok(rollupBlocks > 300 && headerSummaries > 100 && decoded > 300, 'every path was taken often');
  });

  it('the coarsest resolution dividing the step is used; a straddling bucket falls back to a finer one or to decoding', () => {
    const ts = Array.from({ length: 100 }, (_, i) => 100_000 + i * 200); // [100000, 119800]: 20 one-second buckets, 4 of 5 s
    const vs = ts.map((_, i) => i % 7);
    const b = encodeBlock(ts, vs, { sealed: true, rollups: [1000, 5000] });
    const at = (start: number, end: number, step: number) => seriesParts([b], [], start, end, { step, summaries: true, rollups: true });
    assert.equal(at(0, 200_000, 10_000).summaries.length, 4, 'step 10 s: the 5 s buckets');
    assert.equal(at(0, 200_000, 3000).summaries.length, 20, 'step 3 s: the 1 s buckets');
    assert.equal(at(101_000, 200_000, 10_000).summaries.length, 19, 'start inside a 5 s bucket: 1 s buckets, the one before start left out');
    const cut = at(100_500, 200_000, 10_000);
    assert.deepEqual([cut.rollupBlocks, cut.decodedBlocks], [0, 1], 'start inside a 1 s bucket too: decoded');
    assert.equal(cut.points.ts.length, 97);
    assert.equal(at(0, 200_000, 700).decodedBlocks, 1, 'step not a multiple of any resolution: decoded');
    const one = seriesParts([b], [], 105_000, 200_000, { summaries: true, rollups: true });
    assert.deepEqual([one.rollupBlocks, one.summaries.length], [1, 3], 'no step (one window), cut at 5 s: the three 5 s buckets in range');
  });

  it('a damaged rollup block fails loudly when its rollup is read', () => {
    const b = encodeBlock([1000, 2000, 3000], [1, 2, 3], { sealed: true, rollups: [1000] });
    b[b.length - 1] ^= 1;
    assert.throws(() => seriesParts([b], [], 0, 10_000, { step: 1000, summaries: true, rollups: true }), /crc mismatch/);
  });
});
