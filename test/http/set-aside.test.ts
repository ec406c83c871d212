import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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
    // Each set-aside record is in the embedded log's dead-letter file with its reason and original bytes.
    // (Written right after the records are applied, so wait for it.)
    const file = join(node.dataDir, 'log', 'dead-letters', 'p-00000.ndjson');
    const read = (): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');
    for (let i = 0; i < 100 && read().split('\n').length < 5; i++) await new Promise((r) => setTimeout(r, 50));
    const lines = read().trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => [l.offset, l.reason]), [[res!.baseOffset + 1, 'TSDB_ERR_AVRO_FINGERPRINT'], [res!.baseOffset + 2, 'TSDB_ERR_AVRO_FINGERPRINT'], [res!.baseOffset + 3, 'TSDB_ERR_WRITE_INVALID'], [res!.baseOffset + 4, 'TSDB_ERR_WRITE_INVALID']]);
    assert.equal(Buffer.from(lines[0].value, 'base64').toString(), 'garbage');
    assert.match(lines[2].message, /point 1: value NaN is not finite/);
    const names = await node.app.inject({ url: '/api/v1/tags/__name__/values' });
    assert.deepEqual(names.json().values, ['sa_m']);
  });
});
