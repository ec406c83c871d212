/**
 * Rollups over HTTP (docs/query-semantics.md "Rollups", docs/format/block.md §9): two nodes get the same old data (12 h
 * of 10 s points for 8 series, all in cold windows), one with --rollups 5m,1h, one with --rollups none; their
 * storage jobs seal the cold windows (2 h blocks). Aggregates with 5 min and 1 h steps (and 15 min, 2 h, 45 s, no
 * step) over aligned and unaligned ranges answer the same on both — count, min, max exactly, sum and avg within 1e-9
 * relative — and on the rollup node tsdb_query_blocks_total{source="rollup"} grows, on the other it stays 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HOUR, T0, blockSources, coldNodes, sourcesSince, querySeries as query, rollupBlocks, type Node } from '../helpers/cold-nodes.js';

const MIN = 60_000;
const SERIES = 8;
const SPAN = 12 * HOUR;

describe('aggregates from rollups of sealed cold blocks (over HTTP)', () => {
  let withRollups: Node;
  let without: Node;

  before(async () => {
    [withRollups, without] = (await coldNodes([['5m', '1h'], ['none']], SERIES, SPAN)) as [Node, Node];
  });
  after(async () => {
    await withRollups?.dispose();
    await without?.dispose();
  });

  it('avg, max, min, count and sum with 5 min and 1 h steps equal the decoded answers, and rollups are used', async () => {
    const before = { rollup: await rollupBlocks(withRollups), none: await rollupBlocks(without) };
    const ranges: Array<[number, number]> = [
      [T0, T0 + SPAN],
      [T0 + HOUR, T0 + SPAN - HOUR], // cuts blocks at hour boundaries: buckets outside are left out
      [T0 + 25 * MIN, T0 + 7 * HOUR + 35 * MIN], // cuts at 5 min boundaries: 1 h buckets straddle there
      [T0 + 17_000, T0 + 5 * HOUR - 3_000], // cuts inside buckets: the cut blocks are decoded
      [T0 - HOUR, T0 + SPAN + HOUR],
    ];
    let compared = 0;
    for (const fn of ['avg', 'max', 'min', 'count', 'sum']) {
      for (const [start, end] of ranges) {
        for (const step of [5 * MIN, HOUR, 15 * MIN, 2 * HOUR, 45_000, undefined]) {
          for (const by of [undefined, 'rack']) {
            const qs = new URLSearchParams({ selector: 'cpu', fn, start: String(start), end: String(end) });
            if (step !== undefined) qs.set('step', String(step));
            if (by !== undefined) qs.set('by', by);
            const ctx = `${fn} [${start - T0}, ${end - T0}) step ${step} by ${by}`;
            const got = await query(withRollups, qs);
            const want = await query(without, qs);
            assert.deepEqual(got.map((s) => s.tags), want.map((s) => s.tags), ctx);
            for (let s = 0; s < want.length; s++) {
              assert.deepEqual(got[s]!.points.map((p) => p[0]), want[s]!.points.map((p) => p[0]), `${ctx}: timestamps`);
              for (let i = 0; i < want[s]!.points.length; i++) {
                const a = got[s]!.points[i]![1];
                const b = want[s]!.points[i]![1];
                if (fn === 'sum' || fn === 'avg') assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)), `${ctx}: ${a} != ${b}`);
                else assert.equal(a, b, `${ctx} @${got[s]!.points[i]![0]}`);
                compared++;
              }
            }
          }
        }
      }
    }
    const used = { rollup: (await rollupBlocks(withRollups)) - before.rollup, none: (await rollupBlocks(without)) - before.none };
    console.log(`# query-rollups: ${compared} values compared, ${used.rollup} blocks answered from rollups`);
    assert.equal(used.none, 0, 'no rollups without --rollups');
    // 5 fns × (aligned 12 h: 48 blocks per step of 5 min, 1 h, 15 min) at least
    assert.ok(used.rollup > 5 * 48 * 3, `blocks answered from rollups: ${used.rollup}`);
  });

  it('an aligned 1 h query over 2 h blocks reads them from rollups (headers only for blocks inside one hour), none decoded', async () => {
    const all = () => blockSources(withRollups);
    const before = await all();
    await query(withRollups, new URLSearchParams({ selector: 'cpu', fn: 'avg', by: 'rack', start: String(T0), end: String(T0 + SPAN), step: '1h' }));
    const now = await all();
    // Series h7 has points in every other hour only: its blocks lie inside one 1 h bucket, carry no rollup (version 2)
    // and fit one window, so their headers answer.
    const blocks = SPAN / (2 * HOUR);
    assert.deepEqual(
      sourcesSince(before, now),
      { rollup: (SERIES - 1) * blocks, header: blocks, decoded: 0 },
    );
  });

  it('first, last, stddev and percentiles never use rollups', async () => {
    const before = await rollupBlocks(withRollups);
    for (const fn of ['first', 'last', 'stddev', 'p90']) {
      const qs = new URLSearchParams({ selector: 'cpu', fn, start: String(T0), end: String(T0 + SPAN), step: String(HOUR) });
      const got = await query(withRollups, qs);
      const want = await query(without, qs);
      assert.deepEqual(got, want, fn);
    }
    assert.equal((await rollupBlocks(withRollups)) - before, 0);
  });
});
