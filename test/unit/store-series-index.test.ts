import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SeriesIndex } from '../../src/store/series-index.js';
import { parseSelector } from '../../src/query/selector.js';
import { canonicalSeriesKey, parseSeriesKey } from '../../src/common/series-key.js';
import { mergeLogOrdered } from '../../src/materializer/merge-points.js';
import { blockKey, decodeBlockKey, partitionRanges } from '../../src/store/row-keys.js';

function build(): SeriesIndex {
  const idx = new SeriesIndex(0);
  const series: Array<[string, Record<string, string>]> = [
    ['cpu', { host: 'a', dc: 'eu' }],
    ['cpu', { host: 'b', dc: 'us' }],
    ['cpu', { host: 'c' }],
    ['mem', { host: 'a', dc: 'eu' }],
  ];
  series.forEach(([m, t], i) => idx.add(i, canonicalSeriesKey(m, t), m, t));
  return idx;
}

const ids = (idx: SeriesIndex, sel: string): number[] => idx.select(parseSelector(sel)).map((s) => s.id);

describe('SeriesIndex', () => {
  it('selects with = != =~ !~, absent tags as empty', () => {
    const idx = build();
    assert.deepEqual(ids(idx, 'cpu'), [0, 1, 2]);
    assert.deepEqual(ids(idx, 'cpu{host="a"}'), [0]);
    assert.deepEqual(ids(idx, 'cpu{dc!="eu"}'), [1, 2]);
    assert.deepEqual(ids(idx, '{dc=~"e.|u."}'), [0, 1, 3]);
    assert.deepEqual(ids(idx, 'cpu{dc!~".+"}'), [2]);
    assert.deepEqual(ids(idx, '{host="a",dc="eu"}'), [0, 3]);
    assert.deepEqual(ids(idx, 'cpu{host="zzz"}'), []);
    assert.deepEqual(ids(idx, 'cpu{dc=""}'), [2]);
  });

  it('lists tag keys and values, and truncates series created by a discarded head', () => {
    const idx = build();
    assert.deepEqual(idx.tagKeys().sort(), ['dc', 'host']);
    assert.deepEqual(idx.tagValues('__name__').sort(), ['cpu', 'mem']);
    idx.truncate(2);
    assert.equal(idx.size, 2);
    assert.deepEqual(idx.tagValues('__name__'), ['cpu']);
    assert.equal(idx.idOf(canonicalSeriesKey('mem', { host: 'a', dc: 'eu' })), undefined);
  });

  it('rejects ids that go backwards and keys added twice; accepts gaps (ids of removed series)', () => {
    const idx = new SeriesIndex(3);
    idx.add(2, 'x', 'x', {});
    assert.throws(() => idx.add(1, 'y', 'y', {}), /expected id 3 or above/);
    assert.throws(() => idx.add(3, 'x', 'x', {}), /already has id 2/);
    assert.equal(idx.size, 3);
    assert.equal(idx.live, 1);
    assert.equal(idx.get(0), undefined);
    assert.deepEqual(idx.select(parseSelector('{__name__=~".+"}')).map((s) => s.id), [2]);
    idx.reserve(10);
    assert.equal(idx.size, 10);
    assert.throws(() => idx.reserve(9), /10 already assigned/);
  });

  it('removes series: ids stay assigned, postings, tag values and metric counts follow', () => {
    const idx = build();
    assert.equal(idx.metricCount('cpu'), 3);
    const removed = idx.remove([0, 2, 2, 99]);
    assert.deepEqual(removed.map((s) => s.id), [0, 2]);
    assert.equal(idx.size, 4);
    assert.equal(idx.live, 2);
    assert.equal(idx.metricCount('cpu'), 1);
    assert.equal(idx.idOf(canonicalSeriesKey('cpu', { host: 'a', dc: 'eu' })), undefined);
    assert.deepEqual(ids(idx, 'cpu'), [1]);
    assert.deepEqual(ids(idx, '{host="a"}'), [3]);
    assert.deepEqual(ids(idx, '{dc=~".*"}'), [1, 3]);
    assert.deepEqual(idx.tagValues('host').sort(), ['a', 'b']);
    assert.deepEqual(idx.tagValues('dc').sort(), ['eu', 'us']);
    idx.remove([1, 3]);
    assert.deepEqual(idx.tagKeys(), []);
    assert.deepEqual(idx.tagValues('__name__'), []);
    // A removed series' key comes back under a new id; old ids are never reused.
    assert.equal(idx.add(idx.size, canonicalSeriesKey('cpu', { host: 'a', dc: 'eu' }), 'cpu', { host: 'a', dc: 'eu' }).id, 4);
    assert.deepEqual(ids(idx, 'cpu{host="a"}'), [4]);
    assert.equal(idx.metricCount('cpu'), 1);
  });
});

describe('series keys', () => {
  it('are canonical (sorted, escaped) and parse back', () => {
    const key = canonicalSeriesKey('m', { z: '1', a: 'q"u\\o\nte' });
    assert.equal(key, 'm{a="q\\"u\\\\o\\nte",z="1"}');
    assert.deepEqual(parseSeriesKey(key), { metric: 'm', tags: { a: 'q"u\\o\nte', z: '1' } });
    assert.equal(canonicalSeriesKey('up', {}), 'up');
    assert.deepEqual(parseSeriesKey('up'), { metric: 'up', tags: {} });
  });
});

describe('mergeLogOrdered', () => {
  it('sorts by time and keeps the last write for each timestamp', () => {
    const out = mergeLogOrdered([{ ts: [5, 1, 3], vs: [50, 10, 30] }, { ts: [3, 7, 1], vs: [31, 70, 11] }, { ts: [3], vs: [32] }], 0, 100);
    assert.deepEqual(out, { ts: [1, 3, 5, 7], vs: [11, 32, 50, 70] });
  });
  it('filters to [start, end)', () => {
    assert.deepEqual(mergeLogOrdered([{ ts: [1, 2, 3, 4], vs: [1, 2, 3, 4] }], 2, 4), { ts: [2, 3], vs: [2, 3] });
  });
});

describe('row keys', () => {
  it('block keys sort by series, then window (negative first), then flush sequence', () => {
    const keys = [blockKey(1, 2, 7200000, 1), blockKey(1, 2, -7200000, 9), blockKey(1, 2, 0, 3), blockKey(1, 2, 0, 2), blockKey(1, 1, 99e12, 0)];
    const sorted = [...keys].sort(Buffer.compare).map(decodeBlockKey);
    assert.deepEqual(sorted.map((k) => [k.seriesId, k.windowStart, k.flushSeq]), [[1, 99e12, 0], [2, -7200000, 9], [2, 0, 2], [2, 0, 3], [2, 7200000, 1]]);
  });
  it('partition ranges cover exactly one partition', () => {
    const blocks = partitionRanges(5).find((r) => r.gte[0] === 0x42)!;
    const inside = (k: Buffer): boolean => Buffer.compare(k, blocks.gte) >= 0 && Buffer.compare(k, blocks.lt) < 0;
    assert.equal(inside(blockKey(5, 0, Number.MIN_SAFE_INTEGER, 0)), true);
    assert.equal(inside(blockKey(5, 0xffffffff, Number.MAX_SAFE_INTEGER, 0xffffffff)), true);
    assert.equal(inside(blockKey(4, 0xffffffff, Number.MAX_SAFE_INTEGER, 0xffffffff)), false);
    assert.equal(inside(blockKey(6, 0, Number.MIN_SAFE_INTEGER, 0)), false);
    assert.equal(partitionRanges(0xffff).length, 3);
  });
});
