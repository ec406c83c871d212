import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;

describe('GET /api/v1/query with fn, step, by and fill (over HTTP, head and blocks)', () => {
  let node: Node;
  const T = 1_700_000_000_000; // aligned to 10 s
  let token = '';
  before(async () => {
    node = await testNode();
    const points = [];
    for (const host of ['a', 'b', 'c']) {
      for (let i = 0; i < 6; i++) points.push({ metric: 'agg_m', tags: { host, dc: host === 'c' ? 'us' : 'eu' }, timestamp: T + i * 5000, value: i + (host === 'b' ? 10 : 0) });
    }
    const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points } });
    assert.equal(res.statusCode, 200);
    token = res.json().token;
    // Half the data in blocks, half in the head: flush, then overwrite one point (last write wins).
    await node.app.inject({ url: `/api/v1/query?selector=agg_m&start=0&end=${T + 1e6}&after=${encodeURIComponent(token)}` });
    await node.materializer!.flushAll('test');
    const again = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points: [{ metric: 'agg_m', tags: { host: 'a', dc: 'eu' }, timestamp: T, value: 100 }] } });
    token = again.json().token;
  });
  after(async () => node.dispose());

  const q = async (params: Record<string, string | number>) => {
    const qs = new URLSearchParams({ selector: 'agg_m', start: String(T), end: String(T + 30_000), after: token });
    for (const [k, v] of Object.entries(params)) qs.set(k, String(v));
    const res = await node.app.inject({ url: `/api/v1/query?${qs}` });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { series: Array<{ metric: string; tags: Record<string, string>; points: Array<[number, number | null]> }>; partial: boolean };
  };

  it('sums per dc in 10 s windows aligned to the epoch', async () => {
    const ans = await q({ fn: 'sum', step: '10s', by: 'dc' });
    // eu: host a (100,1,2,3,4,5 after the overwrite) + host b (10..15); us: host c (0..5)
    assert.deepEqual(ans.series, [
      { metric: 'agg_m', tags: { dc: 'eu' }, points: [[T, 100 + 1 + 10 + 11], [T + 10000, 2 + 3 + 12 + 13], [T + 20000, 4 + 5 + 14 + 15]] },
      { metric: 'agg_m', tags: { dc: 'us' }, points: [[T, 1], [T + 10000, 5], [T + 20000, 9]] },
    ]);
  });

  it('counts per series over the whole range, with limit', async () => {
    const ans = await q({ fn: 'count', limit: 2 });
    assert.deepEqual(ans.series.map((s) => [s.tags.host, s.points]), [['a', [[T, 6]]], ['b', [[T, 6]]]]);
  });

  it('fills empty windows with null', async () => {
    const ans = await q({ selector: 'agg_m{host="c"}', fn: 'max', step: '10s', fill: 'null', end: T + 50_000 });
    assert.deepEqual(ans.series[0]!.points, [[T, 1], [T + 10000, 3], [T + 20000, 5], [T + 30000, null], [T + 40000, null]]);
  });

  it('rejects step without fn, and too many windows, before reading data', async () => {
    const bad = await node.app.inject({ url: `/api/v1/query?selector=agg_m&start=${T}&end=${T + 1000}&step=1s` });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.code, 'TSDB_ERR_QUERY_INVALID');
    const huge = await node.app.inject({ url: `/api/v1/query?selector=agg_m&start=0&end=${T}&step=1&fn=sum` });
    assert.equal(huge.statusCode, 422);
    assert.equal(huge.json().error.code, 'TSDB_ERR_QUERY_LIMIT');
  });
});
