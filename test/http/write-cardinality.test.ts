import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodePointBatch, encodeSeriesBatch, pointsToSeriesBatch } from '../../src/codec/avro-record.js';
import { encodeWriteToken } from '../../src/codec/write-token.js';
import { logSize, testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;
const NOW = Date.now();
const pt = (metric: string, host: string, dt = 0) => ({ metric, tags: { host }, timestamp: NOW + dt, value: 1 });
const hosts = (metric: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => pt(metric, `h${from + i}`));

describe('per-metric series limit (--max-series-per-metric): precise 422, nothing written', () => {
  let node: Node;
  before(async () => {
    node = await testNode({ partitions: 4, maxSeriesPerMetric: 5, maxSeriesPerMetricOverrides: ['roomy=1000', 'free=0'] });
  });
  after(async () => node.dispose());

  const write = (points: unknown[]) => node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points } });
  async function writeOk(points: unknown[]): Promise<string> {
    const res = await write(points);
    assert.equal(res.statusCode, 200, res.body);
    return res.json().token as string;
  }
  const seriesCount = async (metric: string, token: string): Promise<number> => {
    const r = await node.app.inject({ url: `/api/v1/series?selector=${metric}&after=${token}` });
    assert.equal(r.statusCode, 200, r.body);
    return (r.json().series as unknown[]).length;
  };

  it('accepts up to the limit, then rejects the request that would create one more, naming metric, limit, count and point', async () => {
    const token = await writeOk(hosts('capped', 0, 4));
    assert.equal(await seriesCount('capped', token), 4);
    const before = await logSize(node);
    // Point 0 is an existing series, point 1 the fifth (allowed), point 2 a repeat of it, point 3 the sixth.
    const res = await write([pt('capped', 'h0', 1), pt('capped', 'h4'), pt('capped', 'h4', 1), pt('capped', 'h5'), pt('other', 'x')]);
    assert.equal(res.statusCode, 422, res.body);
    const err = res.json().error;
    assert.equal(err.code, 'TSDB_ERR_WRITE_CARDINALITY');
    assert.equal(err.retriable, false);
    assert.match(err.message, /^cannot write points \(point 3\): metric capped has 4 series and 1 more would be created before this point; new series capped\{host="h5"\} would exceed its limit of 5 series \(--max-series-per-metric\)/);
    assert.deepEqual(err.details.map((d: { index: number; field: string }) => [d.index, d.field]), [[3, 'metric']]);
    assert.equal(await logSize(node), before, 'a rejected request must write nothing');
    const metrics = (await node.app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /^tsdb_write_rejects_total\{reason="TSDB_ERR_WRITE_CARDINALITY"\} 1$/m);
    assert.match(metrics, /^tsdb_write_requests_total\{format="json",outcome="rejected"\} 1$/m);
  });

  it('counts the metric over every partition, not per partition', async () => {
    const token = await writeOk([pt('capped', 'h4')]);
    assert.equal(await seriesCount('capped', token), 5);
    for (const host of ['h5', 'h6', 'h7', 'zz', 'q1']) {
      const res = await write([pt('capped', host)]);
      assert.equal(res.statusCode, 422, `${host}: ${res.body}`);
      assert.match(res.json().error.message, /metric capped has 5 series; new series capped\{host="[a-z0-9]+"\} would exceed its limit of 5/);
    }
    // Existing series and other metrics still write.
    await writeOk([pt('capped', 'h0', 5), pt('capped', 'h4', 5), pt('other', 'y')]);
  });

  it('applies per-metric overrides (a higher limit, 0 = unlimited), to Avro bodies too', async () => {
    await writeOk(hosts('roomy', 0, 50));
    await writeOk(hosts('free', 0, 50));
    const before = await logSize(node);
    const avro = encodePointBatch(hosts('capped', 100, 102) as never);
    const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: avro, headers: { 'content-type': 'application/avro' } });
    assert.equal(res.statusCode, 422, res.body);
    assert.match(res.json().error.message, /\(point 0\): metric capped has 5 series;/);
    assert.equal(await logSize(node), before);
  });

  it('a SeriesBatch body prepared by a write worker is checked with the same keys (the request thread prepares it again near a limit)', async () => {
    const before = await logSize(node);
    // Series 0 and 1 exist; series 2 (first used by point 3) would be the sixth of `capped`.
    const body = encodeSeriesBatch(pointsToSeriesBatch([pt('capped', 'h0', 2), pt('capped', 'h4', 2), pt('capped', 'h0', 3), pt('capped', 'h7'), pt('roomy', 'h999')] as never));
    const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: body, headers: { 'content-type': 'application/avro' } });
    assert.equal(res.statusCode, 422, res.body);
    assert.match(res.json().error.message, /\(point 3\): metric capped has 5 series; new series capped\{host="h7"\}/);
    assert.equal(await logSize(node), before);
  });

});

describe('a record that bypasses the write path (external producer) and would exceed the cap is set aside whole', () => {
  let node: Node;
  before(async () => {
    node = await testNode({ partitions: 1, maxSeriesPerMetric: 2 });
  });
  after(async () => node.dispose());

  it('applies the records under the cap and dead-letters the one over it with TSDB_ERR_WRITE_CARDINALITY', async () => {
    const rec = (...pts: Array<[string, number]>) => encodePointBatch(pts.map(([h, dt]) => pt('ext', h, dt)) as never);
    // r1 creates a and b (at the cap); r2 would create c: set aside whole, its point for a included; r3 is fine.
    const [res] = await node.log.append([{ partition: 0, values: [rec(['a', 1], ['b', 1]), rec(['a', 2], ['c', 2]), rec(['b', 3])] }]);
    const token = encodeWriteToken({ 0: res!.lastOffset });
    const q = await node.app.inject({ url: `/api/v1/query?selector=ext&start=${NOW}&end=${NOW + 10}&after=${token}` });
    assert.equal(q.statusCode, 200, q.body);
    const got = (q.json().series as Array<{ tags: { host: string }; points: Array<[number, number]> }>).map((s) => [s.tags.host, s.points.map((p) => p[0] - NOW)]);
    assert.deepEqual(got.sort(), [['a', [1]], ['b', [1, 3]]]);
    const metrics = (await node.app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /^tsdb_materializer_records_rejected_total\{reason="TSDB_ERR_WRITE_CARDINALITY"\} 1$/m);
  });
});
