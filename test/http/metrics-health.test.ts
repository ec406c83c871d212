import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;

function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  assert.ok(line, `metric ${name}{${labels}} missing`);
  return Number(line.split(' ')[1]);
}

describe('health, readiness and Prometheus metrics', () => {
  let node: Node;
  before(async () => {
    node = await testNode({ partitions: 2 });
  });
  after(async () => node.dispose());

  it('/health and /ready answer 200 on a caught-up node', async () => {
    assert.equal((await node.app.inject({ url: '/health' })).statusCode, 200);
    const ready = await node.app.inject({ url: '/ready' });
    assert.equal(ready.statusCode, 200, ready.body);
    assert.equal(ready.json().status, 'ready');
  });

  it('/metrics counts writes, points, rejects by reason, flushes, applied offsets and lag', async () => {
    const now = Date.now();
    const ok = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points: [{ metric: 'm', tags: { a: 'x' }, timestamp: now, value: 1 }, { metric: 'm', tags: { a: 'y' }, timestamp: now, value: 2 }] } });
    assert.equal(ok.statusCode, 200);
    const bad = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points: [{ metric: 'm', timestamp: now, value: 'NaN' }] } });
    assert.equal(bad.statusCode, 400);
    await node.app.inject({ url: `/api/v1/query?selector=m&start=0&end=${now + 1}&after=${encodeURIComponent(ok.json().token)}` });
    await node.materializer!.flushAll('test');
    const res = await node.app.inject({ url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /text\/plain/);
    const text = res.body;
    assert.equal(metricValue(text, 'tsdb_write_points_total'), 2);
    assert.equal(metricValue(text, 'tsdb_write_requests_total', 'format="json",outcome="ok"'), 1);
    assert.equal(metricValue(text, 'tsdb_write_rejects_total', 'reason="bad_type"'), 1);
    assert.equal(metricValue(text, 'tsdb_materializer_flushes_total', 'reason="test"') >= 1, true);
    const applied = metricValue(text, 'tsdb_materializer_applied_offset', 'partition="0"') + metricValue(text, 'tsdb_materializer_applied_offset', 'partition="1"');
    assert.equal(applied >= 1, true, 'applied offsets advanced');
    assert.match(text, /^tsdb_materializer_lag_records\{partition="0"\} \d+$/m);
    assert.match(text, /^tsdb_query_requests_total\{endpoint="query",outcome="ok"\} 1$/m);
    assert.match(text, /^tsdb_process_resident_memory_bytes \d+/m);
  });
});
