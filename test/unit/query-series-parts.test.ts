/**
 * Block-header answers (src/materializer/series-parts.ts, docs/query-semantics.md "Block summaries"): random series
 * histories — blocks in log order (in-order runs that stand alone, runs that overlap others, duplicates, out-of-order
 * points) plus head runs — split into summaries and points, checked against the plain merged read
 * (mergeLogOrdered over every run, what PartitionState.read returns):
 *  - every summary is exactly the merged points of its [minT, maxT]: count, sum (same order), min, max, first, last;
 *  - it lies in [start, end) and in one window; summaries are disjoint;
 *  - the returned points are exactly the merged points outside the summaries.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBlock } from '../../src/codec/block.js';
import { mergeLogOrdered } from '../../src/materializer/merge-points.js';
import { seriesParts } from '../../src/materializer/series-parts.js';
import type { PointColumns } from '../../src/store/read-model.js';
import { seededRandom } from '../helpers/seeded-random.js';

const floorTo = (t: number, step: number): number => Math.floor(t / step) * step;

describe('series parts: whole blocks from headers, the rest merged', () => {
  it('random histories: summaries and points together equal the merged read', () => {
    const r = seededRandom('query-series-parts');
    const CASES = 3000;
    let summaries = 0;
    let decoded = 0;
    for (let c = 0; c < CASES; c++) {
      const runs: PointColumns[] = [];
      let clock = 10_000 + r.int(0, 1000);
      const nRuns = r.int(1, 8);
      for (let k = 0; k < nRuns; k++) {
        const n = r.int(1, 25);
        const ts: number[] = [];
        const vs: number[] = [];
        const kind = r.int(0, 5);
        if (kind <= 2) {
          // in order, after everything so far: stands alone unless a later run overlaps it
          for (let i = 0; i < n; i++) ts.push((clock += r.int(1, 50)));
        } else if (kind === 3) {
          // overlaps the past
          for (let i = 0; i < n; i++) ts.push(clock - r.int(0, 600));
        } else if (kind === 4) {
          // in order but with a duplicate timestamp
          for (let i = 0; i < n; i++) ts.push((clock += r.int(0, 1) * 10));
        } else {
          // out of order, in the future
          for (let i = 0; i < n; i++) ts.push(clock + r.int(1, 300));
          clock += 300;
        }
        for (let i = 0; i < n; i++) vs.push(r.next() < 0.3 ? r.int(-3, 3) : (r.next() - 0.5) * 100);
        runs.push({ ts, vs });
      }
      const nHeads = r.int(0, 2);
      const blocks = runs.slice(0, runs.length - Math.min(nHeads, runs.length - 1));
      const heads = runs.slice(blocks.length);
      const lo = 9_000;
      const hi = clock + 700;
      let start = r.int(lo, hi);
      let end = r.int(lo, hi);
      if (start > end) [start, end] = [end, start];
      if (r.next() < 0.3) [start, end] = [lo, hi];
      end += 1;
      const step = r.next() < 0.3 ? undefined : [50, 200, 1000, 5000][r.int(0, 3)]!;
      const encoded = blocks.map((b) => encodeBlock(b.ts, b.vs));
      const full = mergeLogOrdered(runs, start, end);

      const off = seriesParts(encoded, heads, start, end, { step, summaries: false });
      assert.deepEqual(off.points, full, `case ${c}: without summaries the points are the merged read`);
      assert.equal(off.summaries.length, 0);

      const parts = seriesParts(encoded, heads, start, end, { step, summaries: true });
      summaries += parts.summaries.length;
      decoded += parts.decodedBlocks;
      const covered = new Set<number>();
      let prevMax = -Infinity;
      for (const s of parts.summaries) {
        const where = `case ${c}: summary ${JSON.stringify(s)}`;
        assert.ok(s.minT > prevMax, `${where}: summaries are disjoint and sorted`);
        prevMax = s.maxT;
        assert.ok(s.minT >= start && s.maxT < end, `${where}: inside [${start}, ${end})`);
        if (step !== undefined) assert.equal(floorTo(s.minT, step), floorTo(s.maxT, step), `${where}: inside one window`);
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
        assert.deepEqual([sum, min, max, full.vs[idx[0]!], full.vs[idx[idx.length - 1]!]], [s.sum, s.min, s.max, s.first, s.last], `${where}: sum min max first last`);
        for (const i of idx) covered.add(full.ts[i]!);
      }
      const rest = { ts: [] as number[], vs: [] as number[] };
      for (let i = 0; i < full.ts.length; i++) {
        if (covered.has(full.ts[i]!)) continue;
        rest.ts.push(full.ts[i]!);
        rest.vs.push(full.vs[i]!);
      }
      assert.deepEqual(parts.points, rest, `case ${c}: the points are the merged read minus the summarized blocks`);
    }
    console.log(`# query-series-parts: ${CASES} histories, ${summaries} blocks from headers, ${decoded} decoded`);
    assert.ok(summaries > 500 && decoded > 500, 'both paths were taken often');
  });

  it('a damaged block fails loudly even when only its header is needed or it is skipped', () => {
    const b = encodeBlock([100, 200, 300], [1, 2, 3]);
    b.writeUInt8(b.readUInt8(b.length - 1) ^ 1, b.length - 1);
    assert.throws(() => seriesParts([b], [], 0, 1000, { summaries: true }), /crc mismatch/);
    // skipped on its header (outside the range): the header is still checked, with or without summaries
    assert.throws(() => seriesParts([b], [], 1000, 2000, { summaries: true }), /crc mismatch/);
    assert.throws(() => seriesParts([b], [], 1000, 2000, { summaries: false }), /crc mismatch/);
  });
});
