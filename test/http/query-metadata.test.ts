import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;

const T = 1_700_000_000_000;

describe('metadata filtered by selector and time (/api/v1/series, /api/v1/tags, /api/v1/tags/:key/values)', () => {
  let node: Node;
  let token = '';
  before(async () => {
    node = await testNode();
    const points = [
      { metric: 'cpu', tags: { host: 'a', dc: 'eu' }, timestamp: T, value: 1 },
      { metric: 'cpu', tags: { host: 'b', dc: 'us' }, timestamp: T + 60_000, value: 1 },
      { metric: 'mem', tags: { host: 'c', rack: 'r1' }, timestamp: T + 120_000, value: 1 },
      { metric: 'disk', tags: { host: 'a', mount: '/' }, timestamp: T + 120_000, value: 1 },
    ];
    const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points } });
    assert.equal(res.statusCode, 200);
    token = res.json().token;
    await node.app.inject({ url: `/api/v1/tags?after=${encodeURIComponent(token)}` });
    await node.materializer!.flushAll('test');
  });
  after(async () => node.dispose());

  const get = async (url: string): Promise<Record<string, unknown>> => {
    const res = await node.app.inject({ url });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return res.json() as Record<string, unknown>;
  };
  const enc = encodeURIComponent;

  it('without filters: every tag key and value, as before', async () => {
    assert.deepEqual(await get('/api/v1/tags'), { tags: ['dc', 'host', 'mount', 'rack'], partial: false });
    assert.deepEqual(await get('/api/v1/tags/host/values'), { values: ['a', 'b', 'c'], partial: false });
    assert.deepEqual(await get('/api/v1/tags/__name__/values'), { values: ['cpu', 'disk', 'mem'], partial: false });
    assert.deepEqual(await get('/api/v1/tags/nope/values'), { values: [], partial: false });
  });

  it('filters by selector', async () => {
    assert.deepEqual(await get(`/api/v1/tags?selector=cpu`), { tags: ['dc', 'host'], partial: false });
    assert.deepEqual(await get(`/api/v1/tags?selector=${enc('{host="a"}')}`), { tags: ['dc', 'host', 'mount'], partial: false });
    assert.deepEqual(await get(`/api/v1/tags/host/values?selector=${enc('cpu{dc!="us"}')}`), { values: ['a'], partial: false });
    assert.deepEqual(await get(`/api/v1/tags/__name__/values?selector=${enc('{host=~"a|c"}')}`), { values: ['cpu', 'disk', 'mem'], partial: false });
    assert.deepEqual(await get(`/api/v1/tags/__name__/values?selector=${enc('{host="c"}')}`), { values: ['mem'], partial: false });
    assert.deepEqual(await get(`/api/v1/tags/dc/values?selector=mem`), { values: [], partial: false });
  });

  it('filters by time: only series with a point in [start, end); a missing bound is open', async () => {
    assert.deepEqual(await get(`/api/v1/tags?start=${T + 60_000}`), { tags: ['dc', 'host', 'mount', 'rack'], partial: false });
    assert.deepEqual(await get(`/api/v1/tags?start=${T + 100_000}`), { tags: ['host', 'mount', 'rack'], partial: false });
    assert.deepEqual(await get(`/api/v1/tags?end=${T + 60_000}`), { tags: ['dc', 'host'], partial: false });
    assert.deepEqual(await get(`/api/v1/tags/host/values?start=${T + 60_000}&end=${T + 120_000}`), { values: ['b'], partial: false });
    assert.deepEqual(await get(`/api/v1/tags/host/values?start=${new Date(T + 100_000).toISOString()}`), { values: ['a', 'c'], partial: false });
  });

  it('filters by selector and time together, and series takes both as before', async () => {
    assert.deepEqual(await get(`/api/v1/tags/host/values?selector=cpu&start=${T + 1}`), { values: ['b'], partial: false });
    assert.deepEqual(await get(`/api/v1/tags?selector=${enc('{host="a"}')}&start=${T + 1}`), { tags: ['host', 'mount'], partial: false });
    assert.deepEqual(await get(`/api/v1/series?selector=cpu&start=${T + 1}&end=${T + 1e6}`), { series: [{ metric: 'cpu', tags: { dc: 'us', host: 'b' } }], partial: false });
    assert.deepEqual(await get(`/api/v1/series?selector=${enc('{host="a"}')}`), {
      series: [
        { metric: 'cpu', tags: { dc: 'eu', host: 'a' } },
        { metric: 'disk', tags: { host: 'a', mount: '/' } },
      ],
      partial: false,
    });
  });

  it('rejects a bad selector or range with the usual errors', async () => {
    const bad = await node.app.inject({ url: `/api/v1/tags?selector=${enc('cpu{')}` });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.code, 'TSDB_ERR_QUERY_SELECTOR');
    const range = await node.app.inject({ url: `/api/v1/tags/host/values?start=${T}&end=${T}` });
    assert.equal(range.statusCode, 400);
    assert.equal(range.json().error.code, 'TSDB_ERR_QUERY_RANGE');
  });

  it('takes after= (read your writes) on metadata too', async () => {
    const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points: [{ metric: 'net', tags: { iface: 'eth0' }, timestamp: T, value: 1 }] } });
    const tags = await get(`/api/v1/tags?after=${enc(res.json().token)}`);
    assert.deepEqual(tags.tags, ['dc', 'host', 'iface', 'mount', 'rack']);
  });
});
