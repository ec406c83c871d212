import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createClassicLevelStore } from '../../src/store/classic-level-store.js';
import { ITERATOR_BYTES_PER_GC, iteratorCollections, iteratorRetainedBytes } from '../../src/store/iterator-memory.js';
import type { KvStore } from '../../src/store/types.js';
import { tempDir } from '../helpers/temp-dir.js';

const key = (i: number): Buffer => Buffer.from([1, (i >> 8) & 0xff, i & 0xff]);

describe('classic-level: closed iterators\' native memory is bounded (iterator-memory.ts)', () => {
  const tmp = tempDir('iter-mem');
  let store: KvStore;
  before(async () => {
    store = createClassicLevelStore({ location: join(tmp.dir, 'db') });
    await store.open();
    await store.batch(Array.from({ length: 64 }, (_, i) => ({ type: 'put' as const, key: key(i), value: Buffer.alloc(1024, i) })));
  });
  after(async () => {
    await store.close();
    tmp.cleanup();
  });

  it('counts the batch vector and the last batch', () => {
    assert.equal(iteratorRetainedBytes(10, []), 640);
    assert.equal(iteratorRetainedBytes(2, [[Buffer.alloc(3), Buffer.alloc(100)]]), 128 + 103);
  });

  it('closing iterators (whole scans, early exits, scanners) runs full collections in proportion to what they hold', async () => {
    const before = iteratorCollections();
    // A whole scan's iterator keeps its 256-entry vector (16 KiB) plus its last batch (classic-level cuts batches at
    // 16 KiB, so at most all 64 entries): between 16 KiB and ~80 KiB each until collected.
    const least = iteratorRetainedBytes(256, []);
    const most = iteratorRetainedBytes(256, Array.from({ length: 64 }, () => [Buffer.alloc(3), Buffer.alloc(1024)] as [Buffer, Buffer]));
    const maxScans = Math.ceil((3 * ITERATOR_BYTES_PER_GC) / least) + 1;
    let scans = 0;
    while (iteratorCollections() - before < 3 && scans < maxScans) {
      let n = 0;
      for await (const [k] of store.iterate({ gte: key(0), lt: key(64) })) {
        assert.equal(k[2], n);
        n++;
      }
      assert.equal(n, 64);
      scans++;
    }
    const ran = iteratorCollections() - before;
    assert.ok(ran >= 3, `collections: ${ran} after ${scans} scans`);
    assert.ok(scans * most >= 3 * ITERATOR_BYTES_PER_GC, `3 collections after only ${scans} scans: too often`);
    // Early exits close too (the generator's finally), and scanners count on close.
    const mid = iteratorCollections();
    for (let s = 0; s < 200; s++) {
      for await (const _ of store.iterate({ gte: key(0), lt: key(64) })) break;
      const sc = store.openScanner!({ gte: key(0), lt: key(64) });
      assert.equal((await sc.read({ gte: key(0), lt: key(64) }, 64)).length, 64);
      await sc.close();
    }
    assert.ok(iteratorCollections() >= mid, 'counter never goes back');
  });
});
