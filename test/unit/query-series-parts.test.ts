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
import { seededRandom } from '../helpers/seeded-random.js';
import { assertPartsMatch, randomRuns } from '../helpers/series-histories.js';

describe('series parts: whole blocks from headers, the rest merged', () => {
  it('random histories: summaries and points together equal the merged read', () => {
    const r = seededRandom('query-series-parts');
    const CASES = 3000;
    let summaries = 0;
    let decoded = 0;
    for (let c = 0; c < CASES; c++) {
      const { runs, clock } = randomRuns(r, r.int(1, 8), 10_000 + r.int(0, 1000), { maxPoints: 25, maxGap: 50, overlap: 600, dupStep: 10, future: 300, inOrder: 2 });
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
      assert.ok(!parts.rollupBlocks, `case ${c}: no rollups unless asked`);
      assertPartsMatch(full, parts, start, end, step, `case ${c}`);
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
