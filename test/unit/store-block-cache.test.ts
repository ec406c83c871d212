import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBlock, decodeBlock } from '../../src/codec/block.js';
import { createMetrics } from '../../src/common/metrics.js';
import { BLOCK_CACHE_ENTRY_OVERHEAD, createBlockCache, estimateDecodedBytes } from '../../src/store/block-cache.js';
import { seededRandom } from '../helpers/seeded-random.js';

const k = (...bytes: number[]): Buffer => Buffer.from(bytes);
/** Accounted size of an entry set with `bytes` decoded bytes under a key of `keyLen` bytes and no raw bytes. */
const cost = (bytes: number, keyLen = 1): number => bytes + keyLen + BLOCK_CACHE_ENTRY_OVERHEAD;

async function metricValue(metrics: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([l, lv]) => x.labels[l] === lv));
  return v?.value ?? 0;
}

describe('block cache', () => {
  it('evicts least recently used first; a get refreshes recency', () => {
    const c = createBlockCache<string>({ maxBytes: cost(100) * 4 });
    for (const i of [1, 2, 3, 4]) assert.equal(c.set(k(i), `v${i}`, 100), true);
    assert.equal(c.get(k(1)), 'v1'); // 1 is now the most recent; 2 is the oldest
    c.set(k(5), 'v5', 100);
    assert.equal(c.get(k(2)), undefined, 'the least recently used entry went first');
    assert.deepEqual([1, 3, 4, 5].map((i) => c.get(k(i))), ['v1', 'v3', 'v4', 'v5']);
    c.set(k(6), 'v6', 100); // now 1 is the oldest again (3,4,5 were read after it)
    assert.equal(c.get(k(1)), undefined);
    assert.equal(c.size, 4);
  });

  it('never holds more than maxBytes, whatever the sizes and order (seeded)', () => {
    const rnd = seededRandom('block-cache-budget');
    const maxBytes = 50_000;
    const c = createBlockCache<number>({ maxBytes });
    let peak = 0;
    for (let i = 0; i < 20_000; i++) {
      const key = Buffer.from([rnd.int(0, 255), rnd.int(0, 255)]);
      if (rnd.next() < 0.3) c.get(key);
      else if (rnd.next() < 0.05) c.delete(key);
      else c.set(key, i, rnd.int(0, 15_000));
      assert.ok(c.bytes <= maxBytes, `over budget after op ${i}: ${c.bytes}`);
      assert.ok(c.bytes >= 0);
      peak = Math.max(peak, c.bytes);
    }
    assert.ok(peak > maxBytes * 0.7, `the test never filled the cache (${peak})`);
  });

  it('refuses an entry over a quarter of the budget, and replacing a key keeps one entry', () => {
    const c = createBlockCache<string>({ maxBytes: 4000 });
    assert.equal(c.set(k(1), 'big', 1000), false);
    assert.equal(c.get(k(1)), undefined);
    assert.equal(c.set(k(1), 'a', 100), true);
    assert.equal(c.set(k(1), 'b', 200), true);
    assert.equal(c.size, 1);
    assert.equal(c.bytes, cost(200));
    assert.equal(c.get(k(1)), 'b');
    assert.equal(c.set(k(1), 'huge', 5000), false);
    assert.equal(c.get(k(1)), undefined, 'a refused replacement drops the old value rather than keeping a stale one');
    assert.equal(c.bytes, 0);
  });

  it('invalidate drops exactly the keys in a range or under a prefix (bytewise, 0x00/0xff bounds)', () => {
    const c = createBlockCache<number>({ maxBytes: 1 << 20 });
    const keys = [k(0x00), k(0x01, 0x00), k(0x01, 0x7f), k(0x01, 0xff), k(0x01, 0xff, 0x00), k(0x02), k(0xff), k(0xff, 0xff)];
    const fill = () => keys.forEach((key, i) => c.set(key, i, 10));
    const left = () => keys.filter((key) => c.get(key) !== undefined).map((key) => key.toString('hex'));
    fill();
    assert.equal(c.invalidate({ prefix: k(0x01) }), 4);
    assert.deepEqual(left(), ['00', '02', 'ff', 'ffff']);
    fill();
    assert.equal(c.invalidate({ gt: k(0x01, 0x00), lte: k(0x01, 0xff) }), 2);
    assert.deepEqual(left(), ['00', '0100', '01ff00', '02', 'ff', 'ffff']);
    fill();
    assert.equal(c.invalidate({ gte: k(0xff) }), 2);
    assert.deepEqual(left(), ['00', '0100', '017f', '01ff', '01ff00', '02']);
    fill();
    assert.equal(c.invalidate({ lt: k(0x01, 0x7f) }), 2);
    assert.deepEqual(left(), ['017f', '01ff', '01ff00', '02', 'ff', 'ffff']);
    fill();
    assert.equal(c.invalidate({ prefix: k(0x01), gte: k(0x01, 0x80) }), 2, 'prefix and range together intersect');
    assert.deepEqual(left(), ['00', '0100', '017f', '02', 'ff', 'ffff']);
    assert.throws(() => c.invalidate({}));
    c.clear();
    assert.equal(c.size, 0);
    assert.equal(c.bytes, 0);
  });

  it('decode serves a cached decode only for identical raw bytes (a rewritten block is decoded again)', () => {
    const c = createBlockCache({ maxBytes: 1 << 20 });
    let decodes = 0;
    const fn = (raw: Buffer) => {
      decodes++;
      return decodeBlock(raw);
    };
    const key = k(0x42, 1, 2, 3);
    const v1 = encodeBlock([1000, 2000, 3000], [1.5, 2.5, -0]);
    const a = c.decode(key, v1, fn);
    const b = c.decode(key, Buffer.from(v1), fn);
    assert.equal(decodes, 1);
    assert.equal(a, b, 'a hit returns the same decoded object');
    const v2 = encodeBlock([1000, 2000, 3000, 4000], [1.5, 2.5, -0, 7]);
    const d = c.decode(key, v2, fn);
    assert.equal(decodes, 2);
    assert.deepEqual(d.ts, [1000, 2000, 3000, 4000]);
    assert.equal(c.decode(key, v2, fn), d);
    assert.equal(decodes, 2);
    assert.ok(c.bytes >= estimateDecodedBytes(d) + v2.length, 'the raw bytes count towards the budget too');
  });

  it('is off at maxBytes 0: decode always decodes, nothing is held', () => {
    const c = createBlockCache<number>({ maxBytes: 0 });
    let n = 0;
    c.decode(k(1), k(9), () => ++n);
    c.decode(k(1), k(9), () => ++n);
    assert.equal(n, 2);
    assert.equal(c.set(k(1), 1, 1), false);
    assert.equal(c.get(k(1)), undefined);
    assert.equal(c.enabled, false);
    assert.equal(c.size, 0);
  });

  it('counts hits, misses, stale look-ups, evictions and bytes in prom-client metrics', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const c = createBlockCache<number>({ maxBytes: cost(100) * 4, metrics });
    c.decode(k(1), k(1), () => 1, () => 98); // miss (key 1 + raw 1 + decoded 98 = an entry of cost(99))
    c.decode(k(1), k(1), () => 1, () => 98); // hit
    c.decode(k(1), k(2), () => 2, () => 98); // stale: other bytes under the same key (replaced, not evicted)
    for (const i of [2, 3, 4]) c.set(k(i), i, 100);
    assert.equal(c.size, 4);
    c.set(k(5), 5, 100); // evicts key 1 (capacity)
    c.get(k(9)); // miss
    assert.equal(c.invalidate({ prefix: k(2) }), 1);
    assert.equal(await metricValue(metrics, 'tsdb_block_cache_requests_total', { result: 'hit' }), 1);
    assert.equal(await metricValue(metrics, 'tsdb_block_cache_requests_total', { result: 'miss' }), 2);
    assert.equal(await metricValue(metrics, 'tsdb_block_cache_requests_total', { result: 'stale' }), 1);
    assert.equal(await metricValue(metrics, 'tsdb_block_cache_evictions_total', { reason: 'capacity' }), 1);
    assert.equal(await metricValue(metrics, 'tsdb_block_cache_evictions_total', { reason: 'invalidated' }), 1);
    assert.equal(await metricValue(metrics, 'tsdb_block_cache_bytes'), c.bytes);
    assert.equal(await metricValue(metrics, 'tsdb_block_cache_entries'), 3);
  });

  it('estimates decoded blocks at no less than 16 bytes per point', () => {
    const ts = Array.from({ length: 1000 }, (_, i) => i * 10_000);
    const block = decodeBlock(encodeBlock(ts, ts.map((t) => t / 7)));
    assert.ok(estimateDecodedBytes(block) >= 16_000);
    assert.ok(estimateDecodedBytes(new Float64Array(1000)) >= 8000);
  });
});
