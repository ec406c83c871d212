/**
 * Nodes holding old (cold-window) data sealed with or without rollups, for the rollup HTTP tests
 * (test/http/query-rollups.test.ts, query-rollup-sketches.test.ts): the same points written to each node, flushed,
 * and waited for until the storage jobs have sealed every (series, 2 h window) into one cold block.
 */
import assert from 'node:assert/strict';
import { testNode } from './test-node.js';

export type Node = Awaited<ReturnType<typeof testNode>>;

export const HOUR = 3_600_000;
/** A block-window start, years in the past. */
export const T0 = 1_600_000_000_000 - (1_600_000_000_000 % (2 * HOUR));

/** Sum of a metric's values whose labels include `labels`. */
export async function counter(node: Node, read: (m: Node['metrics']) => Promise<{ values: Array<{ labels: Record<string, string | number>; value: number }> }>, labels: Record<string, string>): Promise<number> {
  let n = 0;
  for (const v of (await read(node.metrics)).values) if (Object.entries(labels).every(([k, x]) => v.labels[k] === x)) n += v.value;
  return n;
}

/** Blocks answered from rollups so far (tsdb_query_blocks_total{source="rollup"}). */
export const rollupBlocks = (node: Node): Promise<number> => counter(node, (m) => m.queryBlocks.get(), { source: 'rollup' });

/** Blocks the node's aggregate queries read so far, by source (tsdb_query_blocks_total). */
export async function blockSources(node: Node): Promise<{ rollup: number; header: number; decoded: number }> {
  return {
    rollup: await rollupBlocks(node),
    header: await counter(node, (m) => m.queryBlocks.get(), { source: 'header' }),
    decoded: await counter(node, (m) => m.queryBlocks.get(), { source: 'decoded' }),
  };
}

/** What `after` minus `before` read, by source. */
export const sourcesSince = (before: { rollup: number; header: number; decoded: number }, after: { rollup: number; header: number; decoded: number }) => ({
  rollup: after.rollup - before.rollup,
  header: after.header - before.header,
  decoded: after.decoded - before.decoded,
});

/** Waits until storage passes that started after the flush have sealed the cold windows. */
async function waitForSeals(node: Node, windows: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const sealed = await counter(node, (m) => m.compactions.get(), { tier: 'cold' });
    if (sealed >= windows) return;
    assert.ok(Date.now() < deadline, `only ${sealed} of ${windows} cold windows sealed`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Writes `span` (a multiple of 2 h) of 10 s points from T0 for `series` cpu series (integers and one-decimal values,
 * as TSBS and gauges have; series h7 has a gap in every second hour), waits until they are queryable, flushes and
 * waits for every (series, 2 h window) to be sealed.
 */
export async function loadColdCpu(node: Node, series: number, span: number): Promise<void> {
  let token = '';
  for (let from = T0; from < T0 + span; from += 2 * HOUR) {
    const points = [];
    for (let t = from; t < from + 2 * HOUR; t += 10_000) {
      for (let s = 0; s < series; s++) {
        if (s === 7 && Math.floor(t / HOUR) % 2 === 1) continue;
        const v = s % 2 === 0 ? Math.round(50 + 40 * Math.sin(t / 7e5 + s)) : Math.round(Math.cos(t / 3e5 + s) * 1000) / 10;
        points.push({ metric: 'cpu', tags: { host: `h${s}`, rack: `r${s % 3}` }, timestamp: t, value: v });
      }
    }
    const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points } });
    assert.equal(res.statusCode, 200, res.body);
    token = res.json().token;
  }
  const q = await node.app.inject({ url: `/api/v1/query?selector=cpu&start=0&end=1&after=${encodeURIComponent(token)}` });
  assert.equal(q.statusCode, 200, q.body);
  await node.materializer!.flushAll('test');
  // every (series, 2 h window) is one cold fragment, sealed into one block each
  await waitForSeals(node, series * (span / (2 * HOUR)));
}

/** The series of a 200 query answer. */
export async function querySeries(node: Node, qs: URLSearchParams): Promise<Array<{ tags: Record<string, string>; points: Array<[number, number]> }>> {
  const res = await node.app.inject({ url: `/api/v1/query?${qs}` });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().series;
}

/**
 * Nodes that differ only in `--rollups` (one per entry), each loaded with the same cold cpu data (loadColdCpu) and
 * sealed; no query cache, so every query does its reads.
 */
export async function coldNodes(rollups: string[][], series: number, span: number): Promise<Node[]> {
  const common = { partitions: 2, flushInterval: 3_600_000, compactionInterval: 20, queryCacheBytes: 0 };
  const nodes: Node[] = [];
  for (const r of rollups) nodes.push(await testNode({ ...common, rollups: r }));
  for (const node of nodes) await loadColdCpu(node, series, span);
  return nodes;
}
