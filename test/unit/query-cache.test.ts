import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from '../../src/common/metrics.js';
import { AnswerCache, matchersKey, offsetsKey } from '../../src/query/query-cache.js';
import { parseSelector } from '../../src/query/selector.js';

describe('AnswerCache (LRU by bytes)', () => {
  const entry = (n: number): string => 'x'.repeat(n);

  it('evicts the least recently used entries to stay within its bytes', () => {
    const c = new AnswerCache('query', 4000);
    assert.equal(c.set('a', entry(800)), true);
    assert.equal(c.set('b', entry(800)), true);
    assert.equal(c.set('c', entry(800)), true);
    assert.equal(c.get('a')?.body.length, 800); // a is now the most recently used
    assert.equal(c.set('d', entry(800)), true);
    assert.equal(c.set('e', entry(800)), true);
    assert.ok(c.bytes <= 4000, `${c.bytes} bytes`);
    assert.equal(c.get('b'), undefined, 'b was the least recently used');
    assert.notEqual(c.get('a'), undefined);
    assert.notEqual(c.get('e'), undefined);
  });

  it('does not keep an answer larger than a quarter of the cache, and replaces an entry in place', () => {
    const c = new AnswerCache('query', 4000);
    assert.equal(c.set('big', entry(1000)), false);
    assert.equal(c.get('big'), undefined);
    c.set('k', entry(10), 3);
    c.set('k', entry(20), 4);
    assert.equal(c.size, 1);
    assert.deepEqual(c.get('k'), { body: entry(20), points: 4, bytes: 1 + 20 + 64 });
  });

  it('is off at 0 bytes, and counts hits and misses per cache', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const off = new AnswerCache('metadata', 0, metrics);
    assert.equal(off.set('k', 'v'), false);
    assert.equal(off.get('k'), undefined);
    const on = new AnswerCache('query', 1 << 20, metrics);
    on.set('k', 'v');
    on.get('k');
    on.get('nope');
    const text = await metrics.registry.metrics();
    assert.match(text, /^tsdb_query_cache_requests_total\{cache="query",result="hit"\} 1$/m);
    assert.match(text, /^tsdb_query_cache_requests_total\{cache="query",result="miss"\} 1$/m);
    assert.doesNotMatch(text, /cache="metadata",result=/);
    assert.match(text, /^tsdb_query_cache_entries\{cache="query"\} 1$/m);
  });
});

describe('cache keys', () => {
  it('normalize matcher order and repeats, but keep every matcher', () => {
    const k = (s: string): string => matchersKey(parseSelector(s));
    assert.equal(k('m{a="1",b!~"x|y"}'), k('{b!~"x|y",__name__="m",a="1",a="1"}'));
    assert.notEqual(k('m{a="1"}'), k('m{a!="1"}'));
    assert.notEqual(k('m{a=~"1"}'), k('m{a="1"}'));
    assert.notEqual(k('m{a="1,b"}'), k('m{a="1",b=""}'));
  });

  it('list partition offsets ascending', () => {
    assert.equal(offsetsKey(new Map([[3, 10], [0, 7], [12, 0]])), '0:7,3:10,12:0');
    assert.equal(offsetsKey(new Map()), '');
  });
});
