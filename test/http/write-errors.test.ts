import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodePointBatch } from '../../src/codec/avro-record.js';
import { logSize, testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;
const NOW = Date.now();
const pt = (over: Record<string, unknown> = {}) => ({ metric: 'cpu_usage', tags: { host: 'a' }, timestamp: NOW, value: 1, ...over });

describe('POST /api/v1/write rejects bad input precisely and writes nothing', () => {
  let node: Node;
  before(async () => {
    node = await testNode({ maxBodyBytes: 64 * 1024, maxPointsPerRequest: 100, maxTagsPerPoint: 4, maxPast: 86_400_000 });
  });
  after(async () => node.dispose());

  async function expectRejected(req: { payload: string | Buffer; contentType?: string }, status: number, code: string, check?: (body: { error: { message: string; details: Array<{ index?: number; field?: string; reason: string }> } }) => void) {
    const before = await logSize(node);
    const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: req.payload, headers: { 'content-type': req.contentType ?? 'application/json' } });
    assert.equal(res.statusCode, status, res.body);
    const body = res.json();
    assert.equal(body.error.code, code, res.body);
    assert.match(body.error.message, /^cannot /);
    check?.(body);
    assert.equal(await logSize(node), before, 'a rejected request must write nothing');
  }

  it('malformed JSON', () => expectRejected({ payload: '{"points": [' }, 400, 'TSDB_ERR_WRITE_MALFORMED', (b) => assert.match(b.error.message, /JSON/)));
  it('JSON without a points array', () => expectRejected({ payload: '[1,2]' }, 400, 'TSDB_ERR_WRITE_MALFORMED', (b) => assert.equal(b.error.details[0]!.field, 'points')));
  it('empty body', () => expectRejected({ payload: '' }, 400, 'TSDB_ERR_WRITE_MALFORMED'));
  it('wrong content type', () => expectRejected({ payload: 'cpu value=1', contentType: 'text/plain' }, 415, 'TSDB_ERR_WRITE_CONTENT_TYPE', (b) => assert.match(b.error.message, /text\/plain/)));
  it('body over the limit', () => expectRejected({ payload: JSON.stringify({ points: [pt({ tags: { host: 'x'.repeat(70 * 1024) } })] }) }, 413, 'TSDB_ERR_WRITE_TOO_LARGE'));
  it('Avro that does not decode', () => {
    const good = encodePointBatch([pt() as never]);
    return expectRejected({ payload: good.subarray(0, good.length - 3), contentType: 'application/avro' }, 400, 'TSDB_ERR_AVRO_DECODE');
  });
  it('Avro with an unknown fingerprint', () => {
    const rec = Buffer.from(encodePointBatch([pt() as never]));
    rec[2] = rec[2]! ^ 0xff;
    return expectRejected({ payload: rec, contentType: 'application/avro' }, 400, 'TSDB_ERR_AVRO_FINGERPRINT', (b) => assert.match(b.error.message, /[0-9a-f]{16}/));
  });
  it('Avro carrying non-finite values and bad names lists each point', () =>
    expectRejected({ payload: encodePointBatch([pt() as never, pt({ value: NaN }) as never, pt({ metric: 'bad-name' }) as never]), contentType: 'application/avro' }, 400, 'TSDB_ERR_WRITE_INVALID', (b) => {
      assert.deepEqual(b.error.details.map((d) => [d.index, d.field]), [[1, 'value'], [2, 'metric']]);
    }));
  it('invalid metric and tag names, missing fields, out-of-window timestamps — every bad point listed', () =>
    expectRejected(
      { payload: JSON.stringify({ points: [pt(), pt({ metric: '1x' }), pt({ tags: { 'bad key': 'v' } }), { metric: 'm', value: 1 }, pt({ timestamp: NOW + 2 * 3_600_000 }), pt({ timestamp: NOW - 2 * 86_400_000 })] }) },
      400,
      'TSDB_ERR_WRITE_INVALID',
      (b) => {
        assert.deepEqual(b.error.details.map((d) => [d.index, d.field]), [[1, 'metric'], [2, 'tags.bad key'], [3, 'timestamp'], [4, 'timestamp'], [5, 'timestamp']]);
        assert.match(b.error.message, /5 of 6 points/);
      },
    ));
  it('more points than the limit', () => expectRejected({ payload: JSON.stringify({ points: Array.from({ length: 101 }, () => pt()) }) }, 400, 'TSDB_ERR_WRITE_INVALID', (b) => assert.match(b.error.details[0]!.reason, /101 points, over the limit of 100/)));
  it('more tags than the limit', () => expectRejected({ payload: JSON.stringify({ points: [pt({ tags: { a: '1', b: '2', c: '3', d: '4', e: '5' } })] }) }, 400, 'TSDB_ERR_WRITE_INVALID', (b) => assert.equal(b.error.details[0]!.field, 'tags')));

  it('still serves good writes after all that', async () => {
    const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points: [pt(), pt({ tags: { host: 'b' } })] } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().accepted, 2);
    assert.match(res.json().token, /^w1\./);
  });
});

describe('query input errors', () => {
  let node: Node;
  before(async () => {
    node = await testNode();
  });
  after(async () => node.dispose());

  const cases: Array<[string, number, string, string]> = [
    ['/api/v1/query?selector=cpu{host=&start=0&end=10', 400, 'TSDB_ERR_QUERY_SELECTOR', 'position 9'],
    ['/api/v1/query?selector=cpu&start=10&end=10', 400, 'TSDB_ERR_QUERY_RANGE', 'end must be after start'],
    ['/api/v1/query?selector=cpu&start=yesterday&end=10', 400, 'TSDB_ERR_QUERY_RANGE', 'start'],
    ['/api/v1/query?selector=cpu&end=10', 400, 'TSDB_ERR_HTTP_BAD_REQUEST', 'start'],
    ['/api/v1/query?selector=cpu&start=0&end=10&fn=median', 400, 'TSDB_ERR_HTTP_BAD_REQUEST', 'fn'],
    ['/api/v1/query?selector=cpu&start=0&end=10&after=garbage', 400, 'TSDB_ERR_QUERY_INVALID', 'write token'],
    ['/api/v1/nope', 404, 'TSDB_ERR_HTTP_NOT_FOUND', '/api/v1/nope'],
  ];
  for (const [url, status, code, text] of cases) {
    it(`${url} → ${status} ${code}`, async () => {
      const res = await node.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, status, res.body);
      assert.equal(res.json().error.code, code);
      assert.ok(res.body.includes(text), res.body);
    });
  }
});
