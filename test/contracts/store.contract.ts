import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { KvStore } from '../../src/store/types.js';

export interface StoreFactory {
  /** A new, not yet opened store at a fresh location; `location` reopens an existing one. */
  create(location?: string): KvStore;
}

const b = (s: string): Buffer => Buffer.from(s, 'binary');

async function collect(it: AsyncIterable<[Buffer, Buffer]>): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of it) out.push(`${k.toString('binary')}=${v.toString('binary')}`);
  return out;
}

/** The store contract: every KvStore backend runs this suite in one line. */
export function storeContract(name: string, factory: StoreFactory): void {
  describe(`store contract: ${name}`, () => {
    let store: KvStore;
    beforeEach(async () => {
      store = factory.create();
      await store.open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('get of a missing key is undefined', async () => {
      assert.equal(await store.get(b('nope')), undefined);
    });

    it('batch puts and deletes are visible to get', async () => {
      await store.batch([
        { type: 'put', key: b('a'), value: b('1') },
        { type: 'put', key: b('b'), value: b('2') },
      ]);
      await store.batch([{ type: 'del', key: b('a') }, { type: 'put', key: b('c'), value: Buffer.alloc(0) }]);
      assert.equal(await store.get(b('a')), undefined);
      assert.deepEqual(await store.get(b('b')), b('2'));
      assert.deepEqual(await store.get(b('c')), Buffer.alloc(0));
    });

    it('iterates in bytewise (memcmp) order, including bytes >= 0x80', async () => {
      const keys = [Buffer.from([0xff]), Buffer.from([0x00, 0x01]), Buffer.from([0x80]), Buffer.from([0x00]), Buffer.from([0x7f, 0xff])];
      await store.batch(keys.map((k, i) => ({ type: 'put' as const, key: k, value: Buffer.from([i]) })));
      const got: string[] = [];
      for await (const [k] of store.iterate({})) got.push(k.toString('hex'));
      assert.deepEqual(got, ['00', '0001', '7fff', '80', 'ff']);
    });

    it('honours gte/gt/lt/lte, reverse and limit', async () => {
      await store.batch(['a', 'b', 'c', 'd', 'e'].map((k) => ({ type: 'put' as const, key: b(k), value: b(k.toUpperCase()) })));
      assert.deepEqual(await collect(store.iterate({ gte: b('b'), lt: b('d') })), ['b=B', 'c=C']);
      assert.deepEqual(await collect(store.iterate({ gt: b('b'), lte: b('d') })), ['c=C', 'd=D']);
      assert.deepEqual(await collect(store.iterate({ gte: b('a'), reverse: true, limit: 2 })), ['e=E', 'd=D']);
      assert.deepEqual(await collect(store.iterate({ gte: b('z') })), []);
    });

    it('a batch is atomic: a failing op leaves nothing of the batch', async () => {
      await store.batch([{ type: 'put', key: b('keep'), value: b('1') }]);
      const bad = { type: 'put', key: undefined as unknown as Buffer, value: b('x') } as const;
      await assert.rejects(store.batch([{ type: 'put', key: b('half'), value: b('1') }, bad]));
      assert.equal(await store.get(b('half')), undefined);
      assert.deepEqual(await store.get(b('keep')), b('1'));
    });

    it('clearRange deletes exactly the range', async () => {
      await store.batch(['a', 'b', 'c', 'd'].map((k) => ({ type: 'put' as const, key: b(k), value: b(k) })));
      await store.clearRange({ gte: b('b'), lt: b('d') });
      assert.deepEqual(await collect(store.iterate({})), ['a=a', 'd=d']);
    });

    it('survives close and reopen', async () => {
      const big = Buffer.alloc(256 * 1024, 7);
      await store.batch([{ type: 'put', key: b('big'), value: big }, { type: 'put', key: b('k'), value: b('v') }], { sync: true });
      const loc = store.location;
      await store.close();
      store = factory.create(loc);
      await store.open();
      assert.deepEqual(await store.get(b('k')), b('v'));
      assert.deepEqual(await store.get(b('big')), big);
    });

    it('operations on a closed store fail with TSDB_ERR_STORE_CLOSED', async () => {
      await store.close();
      await assert.rejects(store.get(b('a')), { code: 'TSDB_ERR_STORE_CLOSED' });
      await store.open();
    });

    it('a large batch of many keys lands whole', async () => {
      const ops = Array.from({ length: 5000 }, (_, i) => ({ type: 'put' as const, key: Buffer.from(`k${String(i).padStart(5, '0')}`), value: Buffer.alloc(100, i % 256) }));
      await store.batch(ops);
      let n = 0;
      for await (const _ of store.iterate({ gte: b('k'), lt: b('l') })) n++;
      assert.equal(n, 5000);
    });
  });
}
