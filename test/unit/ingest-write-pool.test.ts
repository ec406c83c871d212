import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePointBatch, encodeSeriesBatch, pointsToSeriesBatch } from '../../src/codec/avro-record.js';
import { createPartitionCache } from '../../src/codec/partitioning.js';
import { DEFAULT_LIMITS } from '../../src/codec/validate-points.js';
import { createLogger } from '../../src/common/logger.js';
import type { Point } from '../../src/common/point.js';
import { prepareAvro, type Prepared } from '../../src/ingest/prepare-write.js';
import { createWritePool } from '../../src/ingest/write-pool.js';
import { seededRandom } from '../helpers/seeded-random.js';

/** Keys are compared separately: a worker does not send them back (write-service.ts prepares again when needed). */
const plain = (p: Prepared): unknown => (p.ok ? { ...p, keys: undefined, records: p.records.map((r) => ({ partition: r.partition, value: Buffer.from(r.value).toString('hex'), key: Buffer.from(r.key).toString('hex') })), firstPoint: [...p.firstPoint] } : p);

describe('write pool (worker threads) prepares exactly what the request thread would', () => {
  it('same records, keys and refusals for good and bad bodies of every kind', async () => {
    const rnd = seededRandom('write pool');
    const now = 1_700_000_000_000;
    const setup = { limits: DEFAULT_LIMITS, partitionCount: 8, partitionCacheEntries: 1000 };
    const ctx = { limits: DEFAULT_LIMITS, partitionCount: 8, partitions: createPartitionCache(8, 1000) };
    const pool = createWritePool({ workers: 2, setup, logger: createLogger({ level: 'silent' }) });
    try {
      const bodies: Buffer[] = [];
      for (let k = 0; k < 20; k++) {
        const points: Point[] = Array.from({ length: rnd.int(1, 300) }, () => ({ metric: `m_${rnd.int(0, 3)}`, tags: { host: `h${rnd.int(0, 40)}` }, timestamp: now - rnd.int(0, 1e6), value: rnd.next() }));
        bodies.push(k % 2 ? encodePointBatch(points) : encodeSeriesBatch(pointsToSeriesBatch(points)));
      }
      bodies.push(encodePointBatch([{ metric: 'bad name', tags: {}, timestamp: now, value: 1 }]));
      bodies.push(encodeSeriesBatch(pointsToSeriesBatch([{ metric: 'm', tags: {}, timestamp: now, value: Number.NaN }])));
      bodies.push(Buffer.from('c3010e5b02791619e9bc02', 'hex')); // truncated SeriesBatch
      const viaPool = await Promise.all(bodies.map((b) => pool.prepare(b, now)));
      for (let i = 0; i < bodies.length; i++) {
        const inline = prepareAvro(ctx, bodies[i]!, now);
        assert.deepStrictEqual(plain(viaPool[i]!), plain(inline), `body ${i}`);
        if (inline.ok) assert.equal(inline.keys?.length, inline.firstPoint.length, `body ${i}: the request thread has a key per series`);
      }
      assert.deepStrictEqual(viaPool.slice(-3).map((p) => (p.ok ? 'ok' : p.code)), ['TSDB_ERR_WRITE_INVALID', 'TSDB_ERR_WRITE_INVALID', 'TSDB_ERR_AVRO_DECODE']);
    } finally {
      await pool.close();
    }
  });

  it('a worker that dies fails its requests with TSDB_ERR_INTERNAL and is replaced', async () => {
    const setup = { limits: DEFAULT_LIMITS, partitionCount: 4, partitionCacheEntries: 1000 };
    const pool = createWritePool({ workers: 1, setup, logger: createLogger({ level: 'silent' }) });
    try {
      const now = 1_700_000_000_000;
      const points: Point[] = Array.from({ length: 20_000 }, (_, i) => ({ metric: 'm', tags: { h: String(i % 500) }, timestamp: now - i, value: i }));
      const body = encodePointBatch(points);
      const first = pool.workers()[0]!;
      const inFlight = Array.from({ length: 20 }, () => pool.prepare(body, now));
      await first.terminate();
      const outs = await Promise.all(inFlight);
      assert.ok(outs.every((o) => o.ok || o.code === 'TSDB_ERR_INTERNAL'));
      assert.ok(outs.some((o) => !o.ok && /exited/.test(o.message)), 'some requests were in flight when the worker ended');
      for (let i = 0; i < 100 && pool.workers()[0] === first; i++) await new Promise((r) => setTimeout(r, 10));
      assert.notEqual(pool.workers()[0], first);
      assert.ok(pool.healthy());
      const again = await pool.prepare(body, now);
      assert.ok(again.ok);
      assert.equal(again.points, 20_000);
    } finally {
      await pool.close();
    }
  });
});
