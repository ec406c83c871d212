/**
 * Percentiles from rollup sketches over HTTP (docs/query-semantics.md rule 48, docs/format/block.md §9.6): three nodes
 * get the same old data (6 h of 10 s points for 8 series, all in cold windows, sealed into 2 h blocks): one with
 * --rollups 1h,sketch, one with --rollups 1h, one with --rollups none. p50/p90/p95/p99 with 1 h, 2 h and 3 h steps (and
 * 15 min, 45 s, no step) over aligned and unaligned ranges: on the sketch node every answer is within α = 0.01
 * relative of the exact one from the none node (each window there holds at most 6,480 values, below
 * exactPercentileMax, so it is exact), tsdb_query_blocks_total{source="rollup"} grows on it and stays 0 on the others,
 * and the 1h node (rollups without sketches) answers exactly as the none node.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HOUR, T0, blockSources, coldNodes, sourcesSince, querySeries as query, rollupBlocks, type Node } from '../helpers/cold-nodes.js';

const MIN = 60_000;
const SERIES = 8;
const SPAN = 6 * HOUR;
const ALPHA = 0.01;

describe('percentiles from rollup sketches of sealed cold blocks (over HTTP)', () => {
  let sketch: Node;
  let plain: Node;
  let none: Node;

  before(async () => {
    [sketch, plain, none] = (await coldNodes([['1h', 'sketch'], ['1h'], ['none']], SERIES, SPAN)) as [Node, Node, Node];
  });
  after(async () => {
    await sketch?.dispose();
    await plain?.dispose();
    await none?.dispose();
  });

  it('p50, p90, p95, p99 are within α of the exact answers, and sketch buckets are used', async () => {
    const before = { sketch: await rollupBlocks(sketch), plain: await rollupBlocks(plain), none: await rollupBlocks(none) };
    const ranges: Array<[number, number]> = [
      [T0, T0 + SPAN],
      [T0 + HOUR, T0 + SPAN - HOUR],
      [T0 + 25 * MIN, T0 + 5 * HOUR + 35 * MIN], // 1 h buckets straddle the cuts: those blocks are decoded
      [T0 - HOUR, T0 + SPAN + HOUR],
    ];
    let compared = 0;
    let differed = 0;
    for (const fn of ['p50', 'p90', 'p95', 'p99']) {
      for (const [start, end] of ranges) {
        for (const step of [HOUR, 2 * HOUR, 3 * HOUR, 15 * MIN, 45_000, undefined]) {
          for (const by of [undefined, 'rack']) {
            const qs = new URLSearchParams({ selector: 'cpu', fn, start: String(start), end: String(end) });
            if (step !== undefined) qs.set('step', String(step));
            if (by !== undefined) qs.set('by', by);
            const ctx = `${fn} [${start - T0}, ${end - T0}) step ${step} by ${by}`;
            const got = await query(sketch, qs);
            const want = await query(none, qs);
            assert.deepEqual(await query(plain, qs), want, `${ctx}: rollups without sketches answer exactly`);
            assert.deepEqual(got.map((s) => s.tags), want.map((s) => s.tags), ctx);
            for (let s = 0; s < want.length; s++) {
              assert.deepEqual(got[s]!.points.map((p) => p[0]), want[s]!.points.map((p) => p[0]), `${ctx}: timestamps`);
              for (let i = 0; i < want[s]!.points.length; i++) {
                const a = got[s]!.points[i]![1];
                const b = want[s]!.points[i]![1];
                assert.ok(Math.abs(a - b) <= ALPHA * Math.abs(b), `${ctx} @${want[s]!.points[i]![0]}: ${a} vs exact ${b}`);
                if (a !== b) differed++;
                compared++;
              }
            }
          }
        }
      }
    }
    const used = { sketch: (await rollupBlocks(sketch)) - before.sketch, plain: (await rollupBlocks(plain)) - before.plain, none: (await rollupBlocks(none)) - before.none };
    console.log(`# query-rollup-sketches: ${compared} values compared (${differed} differ from exact, all within α), ${used.sketch} blocks answered from sketches`);
    assert.deepEqual([used.plain, used.none], [0, 0], 'no rollup answers for percentiles without sketches');
    // 4 fns × 2 groupings × (aligned 6 h, 1 h steps: 24 blocks) at least
    assert.ok(used.sketch > 4 * 2 * 24, `blocks answered from sketches: ${used.sketch}`);
  });

  it('an aligned p90 with a 1 h step reads every 2 h block from its sketches (h7 lies inside one hour per block: decoded)', async () => {
    const all = () => blockSources(sketch);
    const qs = new URLSearchParams({ selector: 'cpu', fn: 'p90', by: 'rack', start: String(T0), end: String(T0 + SPAN), step: '1h' });
    const before = await all();
    await query(sketch, qs);
    const now = await all();
    const blocks = SPAN / (2 * HOUR);
    assert.deepEqual(
      sourcesSince(before, now),
      { rollup: (SERIES - 1) * blocks, header: 0, decoded: blocks },
    );
    // informational only (no goal in a test): median of 15 runs of this query on the sketch node and the 1h node
    const median = async (node: Node) => {
      const ms: number[] = [];
      for (let i = 0; i < 15; i++) {
        const t = performance.now();
        await query(node, qs);
        ms.push(performance.now() - t);
      }
      return ms.sort((a, b) => a - b)[7]!.toFixed(2);
    };
    console.log(`# query-rollup-sketches: p90 by rack, 1 h step over 6 h of 8 series: sketch node ${await median(sketch)} ms, 1h node ${await median(plain)} ms (median of 15)`);
  });
});
