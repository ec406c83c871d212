import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { partitionOf } from '../../src/codec/partitioning.js';
import { canonicalSeriesKey } from '../../src/common/series-key.js';
import { testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;

const T = 1_700_000_000_000;
const P = 4;

/** Two hosts whose `cache_m` series live in different partitions. */
function hostsInDifferentPartitions(): { a: string; b: string; pa: number; pb: number } {
  const part = (h: string): number => partitionOf(canonicalSeriesKey('cache_m', { host: h }), P);
  const a = 'h0';
  for (let i = 1; ; i++) {
    const b = `h${i}`;
    if (part(b) !== part(a)) return { a, b, pa: part(a), pb: part(b) };
  }
}

describe('query-result and metadata caches', () => {
  let node: Node;
  const { a, b, pa, pb } = hostsInDifferentPartitions();
  let token = '';

  const write = async (pts: Array<{ host: string; t: number; v: number; metric?: string }>): Promise<string> => {
    const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points: pts.map((p) => ({ metric: p.metric ?? 'cache_m', tags: { host: p.host }, timestamp: p.t, value: p.v })) } });
    assert.equal(res.statusCode, 200, res.body);
    return (token = res.json().token as string);
  };

  const counts = async (cache: 'query' | 'metadata'): Promise<{ hit: number; miss: number }> => {
    const text = (await node.app.inject({ url: '/metrics' })).body;
    const get = (result: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`tsdb_query_cache_requests_total{cache="${cache}",result="${result}"} `));
      return line ? Number(line.split(' ')[1]) : 0;
    };
    return { hit: get('hit'), miss: get('miss') };
  };

  /** Runs a request (waiting for the last write token) and says whether the cache answered it. */
  const ask = async (url: string, cache: 'query' | 'metadata' = 'query'): Promise<{ body: string; hit: boolean }> => {
    const before = await counts(cache);
    const res = await node.app.inject({ url: url + (url.includes('?') ? '&' : '?') + `after=${encodeURIComponent(token)}` });
    assert.equal(res.statusCode, 200, res.body);
    const now = await counts(cache);
    assert.equal(now.hit + now.miss, before.hit + before.miss + 1, 'exactly one cache look-up');
    return { body: res.body, hit: now.hit === before.hit + 1 };
  };

  before(async () => {
    assert.notEqual(pa, pb);
    node = await testNode({ partitions: P });
    await write([
      { host: a, t: T, v: 1 },
      { host: a, t: T + 1000, v: -0 },
      { host: b, t: T, v: 2 },
    ]);
  });
  after(async () => node.dispose());

  const qa = `/api/v1/query?selector=${encodeURIComponent(`cache_m{host="${'A'}"}`)}`;
  const rawA = (): string => qa.replace('A', a) + `&start=${T}&end=${T + 60_000}`;

  it('hits after an identical query, byte-identical to the miss', async () => {
    const first = await ask(rawA());
    assert.equal(first.hit, false);
    const second = await ask(rawA());
    assert.equal(second.hit, true);
    assert.equal(second.body, first.body);
    // The same query written differently is the same entry: RFC 3339 times, matcher order, repeats.
    const iso = new Date(T).toISOString();
    const same = await ask(`/api/v1/query?selector=${encodeURIComponent(`{host="${a}",__name__="cache_m",host="${a}"}`)}&start=${iso}&end=${T + 60_000}`);
    assert.equal(same.hit, true);
    assert.equal(same.body, first.body);
    // A different query is not.
    assert.equal((await ask(rawA() + '&limit=1')).hit, false);
    // Aggregates are cached too.
    const agg1 = await ask(rawA() + '&fn=sum&step=10s');
    const agg2 = await ask(rawA() + '&fn=sum&step=10s');
    assert.deepEqual([agg1.hit, agg2.hit], [false, true]);
    assert.equal(agg2.body, agg1.body);
  });

  it('misses after a write to a partition the query read, and answers with the new point', async () => {
    const before = await ask(rawA());
    assert.equal(before.hit, true);
    await write([{ host: a, t: T + 2000, v: 7 }]);
    const after = await ask(rawA());
    assert.equal(after.hit, false, `a write to partition ${pa} invalidates the entry`);
    assert.deepEqual(JSON.parse(after.body).series[0].points.at(-1), [T + 2000, 7]);
    const again = await ask(rawA());
    assert.equal(again.hit, true);
    assert.equal(again.body, after.body);
  });

  it('still hits after a write to a partition the query does not read (even a new series there)', async () => {
    assert.equal((await ask(rawA())).hit, true);
    await write([{ host: b, t: T + 5000, v: 3 }]);
    assert.equal((await ask(rawA())).hit, true, `a write to partition ${pb} leaves partition ${pa}'s entries alone`);
    // A new series that does not match the selector does not change the answer either.
    let o = 0;
    while (partitionOf(canonicalSeriesKey('cache_other', { host: `o${o}` }), P) === pa) o++;
    await write([{ host: `o${o}`, t: T, v: 1, metric: 'cache_other' }]);
    assert.equal((await ask(rawA())).hit, true);
  });

  it('misses when a write creates a new matching series, wherever it lands', async () => {
    const sel = `/api/v1/query?selector=${encodeURIComponent('cache_m{host=~"h.*"}')}&start=${T}&end=${T + 60_000}`;
    const first = await ask(sel);
    assert.equal((await ask(sel)).hit, true);
    // A host in a partition the selection has not read yet.
    let c = 100;
    const parts = new Set([pa, pb]);
    while (parts.has(partitionOf(canonicalSeriesKey('cache_m', { host: `h${c}` }), P))) c++;
    await write([{ host: `h${c}`, t: T, v: 9 }]);
    const after = await ask(sel);
    assert.equal(after.hit, false);
    assert.notEqual(after.body, first.body);
    assert.equal(JSON.parse(after.body).series.length, 3);
  });

  it('caches series, tag keys and tag values the same way', async () => {
    const urls = [
      `/api/v1/series?selector=cache_m&start=${T}&end=${T + 60_000}`,
      `/api/v1/tags?selector=${encodeURIComponent(`cache_m{host="${a}"}`)}`,
      `/api/v1/tags/host/values?start=${T}&end=${T + 60_000}`,
      `/api/v1/tags`,
    ];
    for (const url of urls) {
      const first = await ask(url, 'metadata');
      const second = await ask(url, 'metadata');
      assert.equal(second.hit, true, url);
      assert.equal(second.body, first.body, url);
    }
    await write([{ host: a, t: T + 3000, v: 1 }]);
    // Every one of these read partition pa (the last one reads every partition).
    for (const url of urls) assert.equal((await ask(url, 'metadata')).hit, false, `${url} after a write to partition ${pa}`);
    // A write to a partition holding no cache_m{host=a} series leaves the filtered tag keys cached.
    await write([{ host: b, t: T + 4000, v: 1 }]);
    assert.equal((await ask(urls[1]!, 'metadata')).hit, true);
  });

  it('with after=, waits for the token before looking up the cache', async () => {
    await ask(rawA());
    assert.equal((await ask(rawA())).hit, true);
    // The write is acknowledged (in the log) before it is applied; the query with its token must see it.
    const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points: [{ metric: 'cache_m', tags: { host: a }, timestamp: T + 9000, value: 11 }] } });
    const q = await node.app.inject({ url: `${rawA()}&after=${encodeURIComponent(res.json().token)}` });
    assert.equal(q.statusCode, 200);
    assert.deepEqual(q.json().series[0].points.at(-1), [T + 9000, 11]);
  });
});

describe('caches off (--query-cache-bytes 0, --metadata-cache-bytes 0)', () => {
  it('looks nothing up and answers the same', async () => {
    const node = await testNode({ queryCacheBytes: 0, metadataCacheBytes: 0 });
    try {
      const w = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points: [{ metric: 'off_m', tags: { k: 'v' }, timestamp: T, value: 1 }] } });
      const url = `/api/v1/query?selector=off_m&start=${T}&end=${T + 1}&after=${encodeURIComponent(w.json().token)}`;
      const one = await node.app.inject({ url });
      const two = await node.app.inject({ url });
      assert.equal(one.body, two.body);
      assert.equal(one.json().series[0].points[0][1], 1);
      await node.app.inject({ url: '/api/v1/tags' });
      const text = (await node.app.inject({ url: '/metrics' })).body;
      assert.doesNotMatch(text, /^tsdb_query_cache_requests_total\{/m);
    } finally {
      await node.dispose();
    }
  });
});
