import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSeriesBatch, type SeriesBatch, type SeriesRef } from '../../src/codec/avro-record.js';
import { encodeWriteToken } from '../../src/codec/write-token.js';
import { logSize, testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;
const NOW = Date.now();

function batch(series: SeriesRef[], rows: Array<[number, number, number]>): Buffer {
  const b: SeriesBatch = {
    series,
    seriesIndex: Int32Array.from(rows.map((r) => r[0])),
    timestamps: Float64Array.from(rows.map((r) => r[1])),
    values: Float64Array.from(rows.map((r) => r[2])),
  };
  return encodeSeriesBatch(b);
}

// Avro bodies are prepared in worker threads by default (--ingest-workers 1); 0 prepares them on the request thread.
for (const ingestWorkers of [1, 0]) describe(`POST /api/v1/write with an Avro SeriesBatch body (--ingest-workers ${ingestWorkers})`, () => {
  let node: Node;
  before(async () => {
    node = await testNode({ partitions: 4, maxPointsPerRequest: 100, maxTagsPerPoint: 4, ingestWorkers });
  });
  after(async () => node.dispose());

  const post = (payload: Buffer) => node.app.inject({ method: 'POST', url: '/api/v1/write', payload, headers: { 'content-type': 'application/avro' } });

  it('writes every point to its series (spread over partitions) and they read back', async () => {
    const series = Array.from({ length: 12 }, (_, i): SeriesRef => ({ metric: i % 2 ? 'sb_a' : 'sb_b', tags: { host: `h${i}` } }));
    const rows: Array<[number, number, number]> = [];
    for (let t = 0; t < 5; t++) for (let s = 0; s < series.length; s++) rows.push([s, NOW - 10_000 + t * 1000, s * 100 + t]);
    const res = await post(batch(series, rows));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().accepted, 60);
    const token = res.json().token as string;
    assert.ok(token.split('.').length > 2, `${token}: 12 series should land in more than one of 4 partitions`);
    const q = await node.app.inject({ url: `/api/v1/query?selector=sb_a{host="h3"}&start=${NOW - 20_000}&end=${NOW}&after=${token}` });
    assert.equal(q.statusCode, 200, q.body);
    assert.deepEqual(q.json().series[0].points, [0, 1, 2, 3, 4].map((t) => [NOW - 10_000 + t * 1000, 300 + t]));
    const n = await node.app.inject({ url: `/api/v1/query?selector={__name__=~"sb_.*"}&start=${NOW - 20_000}&end=${NOW}&fn=count&step=60000&after=${token}` });
    const total = (n.json().series as Array<{ points: Array<[number, number]> }>).reduce((a, s) => a + s.points.reduce((b, p) => b + p[1], 0), 0);
    assert.equal(total, 60);
  });

  async function expectRejected(payload: Buffer, code: string, check: (b: { error: { message: string; details: Array<{ index?: number; field?: string; reason: string }> } }) => void) {
    const before = await logSize(node);
    const res = await post(payload);
    assert.equal(res.statusCode, 400, res.body);
    const body = res.json();
    assert.equal(body.error.code, code, res.body);
    check(body);
    assert.equal(await logSize(node), before, 'a rejected request must write nothing');
  }

  it('a bad series and bad points: every problem listed, nothing written', () =>
    expectRejected(
      batch([{ metric: 'ok', tags: {} }, { metric: 'bad name', tags: { a: 'b' } }], [[0, NOW, 1], [1, NOW, 2], [0, NOW, Number.POSITIVE_INFINITY], [0, NOW + 7_200_000, 4]]),
      'TSDB_ERR_WRITE_INVALID',
      (b) => {
        assert.deepEqual(b.error.details.map((d) => [d.index, d.field]), [[undefined, 'series[1].metric'], [1, 'series'], [2, 'value'], [3, 'timestamp']]);
        assert.match(b.error.message, /3 of 4 points are invalid; nothing was written/);
      },
    ));

  it('too many points and too many tags', async () => {
    await expectRejected(batch([{ metric: 'm', tags: {} }], Array.from({ length: 101 }, (_, i): [number, number, number] => [0, NOW - i, i])), 'TSDB_ERR_WRITE_INVALID', (b) =>
      assert.match(b.error.details[0]!.reason, /101 points, over the limit of 100/),
    );
    await expectRejected(batch([{ metric: 'm', tags: { a: '1', b: '2', c: '3', d: '4', e: '5' } }], [[0, NOW, 1]]), 'TSDB_ERR_WRITE_INVALID', (b) => assert.equal(b.error.details[0]!.field, 'series[0].tags'));
  });

  it('a series index out of range is TSDB_ERR_AVRO_DECODE with its offset', async () => {
    const good = batch([{ metric: 'm', tags: {} }], [[0, NOW, 1]]);
    const hex = good.toString('hex');
    // series table "02 02 6d 00 00" is at 10..14; seriesIndex "02 00 00" at 15..17, timestamps from 18: make the index 1.
    assert.equal(hex.slice(30, 38), '02000002');
    const bad = Buffer.from(hex.slice(0, 32) + '02' + hex.slice(34), 'hex');
    await expectRejected(bad, 'TSDB_ERR_AVRO_DECODE', (b) => assert.match(b.error.message, /offset=16\): series index 1 of point 0 outside \[0, 1\)/));
  });
});

describe('SeriesBatch records in the log that cannot be materialized are set aside whole', () => {
  let node: Node;
  before(async () => {
    node = await testNode({ partitions: 1 });
  });
  after(async () => node.dispose());

  it('NaN, bad names and bad indices are set aside; good records around them apply exactly', async () => {
    const now = Date.now();
    const s = [{ metric: 'sbsa_m', tags: { k: 'v' } }];
    const good = (v: number) => batch(s, [[0, now + v, v]]);
    const nan = batch(s, [[0, now + 50, 1], [0, now + 51, Number.NaN]]);
    const badName = batch([{ metric: 'sbsa_m', tags: { k: 'v' } }, { metric: 'bad m', tags: {} }], [[0, now + 60, 1], [1, now, 1]]);
    const badIndex = Buffer.from(good(70));
    // header 10, table: 02 | 0c sbsa_m | 02 02 6b 02 76 00 | 00 = 10..24; seriesIndex: 02 at 25, item 0 at 26.
    assert.deepEqual([badIndex[24], badIndex[25], badIndex[26]], [0, 2, 0]);
    badIndex[26] = 0x02; // item 0 → 1, outside the one-entry table
    const [res] = await node.log.append([{ partition: 0, values: [good(1), nan, badName, badIndex, good(2)] }]);
    const token = encodeWriteToken({ 0: res!.lastOffset });
    const q = await node.app.inject({ url: `/api/v1/query?selector=sbsa_m&start=${now - 1}&end=${now + 100}&after=${token}` });
    assert.equal(q.statusCode, 200, q.body);
    assert.deepEqual(q.json().series[0].points, [[now + 1, 1], [now + 2, 2]]);
    const file = join(node.dataDir, 'log', 'dead-letters', 'p-00000.ndjson');
    const read = (): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');
    for (let i = 0; i < 100 && read().trim().split('\n').length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    const lines = read().trim().split('\n').map((l) => JSON.parse(l) as { offset: number; reason: string; message: string });
    assert.deepEqual(lines.map((l) => [l.offset - res!.baseOffset, l.reason]), [[1, 'TSDB_ERR_WRITE_INVALID'], [2, 'TSDB_ERR_WRITE_INVALID'], [3, 'TSDB_ERR_AVRO_DECODE']]);
    assert.match(lines[0]!.message, /point 1: value NaN is not finite/);
    assert.match(lines[1]!.message, /series 1: metric "bad m" is not a valid name/);
    const names = await node.app.inject({ url: '/api/v1/tags/__name__/values' });
    assert.deepEqual(names.json().values, ['sbsa_m']);
  });
});
