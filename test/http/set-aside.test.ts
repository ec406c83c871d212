import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodePointBatch } from '../../src/codec/avro-record.js';
import { encodeWriteToken } from '../../src/codec/write-token.js';
import { testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;

describe('records in the log that cannot be materialized are set aside; the partition keeps moving', () => {
  let node: Node;
  before(async () => {
    node = await testNode({ partitions: 1 });
  });
  after(async () => node.dispose());

  it('skips garbage, unknown fingerprints and invalid points, applies the rest exactly', async () => {
    const now = Date.now();
    const good = (v: number) => encodePointBatch([{ metric: 'sa_m', tags: { k: 'v' }, timestamp: now + v, value: v }]);
    const unknownFp = Buffer.from(good(0));
    unknownFp[5] = unknownFp[5]! ^ 0x55;
    const nanPoint = encodePointBatch([{ metric: 'sa_m', tags: { k: 'v' }, timestamp: now + 50, value: 1 }, { metric: 'sa_m', tags: { k: 'v' }, timestamp: now + 51, value: Number.NaN }]);
    const badName = encodePointBatch([{ metric: 'sa m', tags: {}, timestamp: now, value: 1 }]);
    const [res] = await node.log.append([{ partition: 0, values: [good(1), Buffer.from('garbage'), unknownFp, nanPoint, badName, good(2)] }]);
    const token = encodeWriteToken({ 0: res!.lastOffset });
    const q = await node.app.inject({ url: `/api/v1/query?selector=sa_m&start=${now - 1}&end=${now + 100}&after=${token}` });
    assert.equal(q.statusCode, 200, q.body);
    // The NaN record is set aside whole: its valid first point (t+50) must not appear either.
    assert.deepEqual(q.json().series[0].points, [[now + 1, 1], [now + 2, 2]]);
    const metrics = (await node.app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /^tsdb_materializer_records_rejected_total\{reason="TSDB_ERR_AVRO_FINGERPRINT"\} 2$/m);
    assert.match(metrics, /^tsdb_materializer_records_rejected_total\{reason="TSDB_ERR_WRITE_INVALID"\} 2$/m);
    const names = await node.app.inject({ url: '/api/v1/tags/__name__/values' });
    assert.deepEqual(names.json().values, ['sa_m']);
  });
});
