import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { KvStore } from '../../src/store/types.js';

export interface StoreFactory {
  /** A new, not yet opened store at a fresh location; `location` reopens an existing one. */
  create(location?: string): KvStore;
  /** Whether the backend implements the optional KvStore.openScanner (checked both ways, never skipped). */
  scanner: boolean;
}

const b = (s: string): Buffer => Buffer.from(s, 'binary');

async function collect(it: AsyncIterable<[Buffer, Buffer]>): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of it) out.push(`${k.toString('binary')}=${v.toString('binary')}`);
  return out;
}

async function collect2(it: AsyncIterable<[Buffer, Buffer]>): Promise<Array<[Buffer, Buffer]>> {
  const out: Array<[Buffer, Buffer]> = [];
  for await (const e of it) out.push(e);
  return out;
}

/** Bytes of every file directly in a store's directory (LevelDB and RocksDB keep no subdirectories of data). */
export function storeDirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) {
    const st = statSync(join(dir, f));
    if (st.isFile()) n += st.size;
  }
  return n;
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

    it('reverse iteration honours every bound and limit', async () => {
      await store.batch(['a', 'b', 'c', 'd', 'e'].map((k) => ({ type: 'put' as const, key: b(k), value: b(k) })));
      assert.deepEqual(await collect(store.iterate({ gt: b('a'), lt: b('e'), reverse: true })), ['d=d', 'c=c', 'b=b']);
      assert.deepEqual(await collect(store.iterate({ gte: b('b'), lte: b('d'), reverse: true, limit: 2 })), ['d=d', 'c=c']);
      assert.deepEqual(await collect(store.iterate({ lt: b('c'), reverse: true, limit: 10 })), ['b=b', 'a=a']);
      assert.deepEqual(await collect(store.iterate({ reverse: true, limit: 1 })), ['e=e']);
      assert.deepEqual(await collect(store.iterate({ gte: b('b'), limit: 0 })), []);
      assert.deepEqual(await collect(store.iterate({ gte: b('b'), limit: -1 })), ['b=b', 'c=c', 'd=d', 'e=e']);
      assert.deepEqual(await collect(store.iterate({ gt: b('d'), lt: b('b') })), []);
    });

    it('limits larger than one read-ahead batch are exact, forwards and backwards', async () => {
      const keys = Array.from({ length: 1000 }, (_, i) => Buffer.from(`k${String(i).padStart(4, '0')}`));
      await store.batch(keys.map((k) => ({ type: 'put' as const, key: k, value: k })));
      let n = 0;
      for await (const _ of store.iterate({ gte: b('k'), limit: 700 })) n++;
      assert.equal(n, 700);
      const back: string[] = [];
      for await (const [k] of store.iterate({ lt: b('l'), reverse: true, limit: 300 })) back.push(k.toString());
      assert.equal(back.length, 300);
      assert.equal(back[0], 'k0999');
      assert.equal(back[299], 'k0700');
    });

    it('openScanner, exactly when the backend declares it, reads ranges as iterate does, from the snapshot of its opening', async () => {
      assert.equal(store.openScanner !== undefined, factory.scanner, `${name}: openScanner present`);
      // Without it, readers fall back to one iterator per range (materializer/block-runs.ts scanTiersMany).
      if (!store.openScanner) return;
      const key = (i: number): Buffer => Buffer.from(`k${String(i).padStart(4, '0')}`);
      // Every third key exists, so ranges start and end on present and absent keys.
      await store.batch(Array.from({ length: 700 }, (_, n) => ({ type: 'put' as const, key: key(3 * n), value: Buffer.from(`v${3 * n}`) })));
      const ranges: Array<[number, number]> = [[0, 1], [1, 3], [3, 4], [4, 9], [10, 11], [12, 100], [100, 100 + 3 * 600], [1900, 1903], [1905, 1906], [2095, 2200], [2200, 3000]];
      const scanner = store.openScanner({ gte: key(0), lt: b('l') });
      // Written after the scanner opened: invisible to it.
      await store.batch([{ type: 'put', key: key(1), value: b('late') }, { type: 'del', key: key(99) }]);
      const show = (entries: Array<[Buffer, Buffer]>): string[] => entries.map(([k, v]) => `${k.toString()}=${v.toString()}`);
      try {
        for (const [i, [lo, hi]] of ranges.entries()) {
          const want: string[] = [];
          for (let n = lo; n < hi; n++) if (n % 3 === 0 && n < 2100) want.push(`${key(n).toString()}=v${n}`);
          // Expected counts too small, exact and too large.
          const got = await scanner.read({ gte: key(lo), lt: key(hi) }, [0, 1, 5, 1000][i % 4]);
          assert.deepEqual(show(got), want, `[${lo}, ${hi})`);
        }
      } finally {
        await scanner.close();
      }
      assert.deepEqual(show(await collect2(store.iterate({ gte: key(0), lt: key(2) }))), ['k0000=v0', 'k0001=late']);
    });

    it('binary keys with 0x00 and 0xff bytes: bounds are exact and prefixes sort first', async () => {
      const keys = [[0x00], [0x00, 0x00], [0x00, 0xff], [0x01], [0xfe, 0xff], [0xff], [0xff, 0x00], [0xff, 0xff], [0xff, 0xff, 0xff]].map((k) => Buffer.from(k));
      await store.batch(keys.map((k, i) => ({ type: 'put' as const, key: k, value: Buffer.from([i, 0x00, 0xff]) })));
      const hex = async (r: Parameters<KvStore['iterate']>[0]) => {
        const out: string[] = [];
        for await (const [k] of store.iterate(r)) out.push(k.toString('hex'));
        return out;
      };
      assert.deepEqual(await hex({ gte: Buffer.from([0x00]), lt: Buffer.from([0x01]) }), ['00', '0000', '00ff']);
      assert.deepEqual(await hex({ gt: Buffer.from([0x00]), lte: Buffer.from([0x00, 0xff]) }), ['0000', '00ff']);
      assert.deepEqual(await hex({ gte: Buffer.from([0xff]) }), ['ff', 'ff00', 'ffff', 'ffffff']);
      assert.deepEqual(await hex({ gt: Buffer.from([0xff, 0xff]), reverse: true }), ['ffffff']);
      assert.deepEqual(await hex({ lt: Buffer.from([0x00, 0x00]) }), ['00']);
      assert.deepEqual(await store.get(Buffer.from([0xff, 0x00])), Buffer.from([6, 0x00, 0xff]));
      assert.equal(await store.get(Buffer.from([0xff, 0x00, 0x00])), undefined);
    });

    it('clearRange honours gt/lte, open ends and limit', async () => {
      const put = (ks: string[]) => store.batch(ks.map((k) => ({ type: 'put' as const, key: b(k), value: b(k) })));
      const all = ['a', 'b', 'bb', 'c', 'd', 'e'];
      await put(all);
      await store.clearRange({ gt: b('b'), lte: b('c') });
      assert.deepEqual(await collect(store.iterate({})), ['a=a', 'b=b', 'd=d', 'e=e']);
      await put(all);
      await store.clearRange({ gte: b('d') });
      assert.deepEqual(await collect(store.iterate({})), ['a=a', 'b=b', 'bb=bb', 'c=c']);
      await put(all);
      await store.clearRange({ lt: b('b') });
      assert.deepEqual(await collect(store.iterate({})), ['b=b', 'bb=bb', 'c=c', 'd=d', 'e=e']);
      await put(all);
      await store.clearRange({ gte: b('b'), limit: 2 });
      assert.deepEqual(await collect(store.iterate({})), ['a=a', 'c=c', 'd=d', 'e=e']);
      await store.clearRange({ reverse: true, limit: 1 });
      assert.deepEqual(await collect(store.iterate({})), ['a=a', 'c=c', 'd=d']);
      await store.clearRange({ gt: b('z') });
      await store.clearRange({ gte: b('c'), lt: b('c') });
      assert.deepEqual(await collect(store.iterate({})), ['a=a', 'c=c', 'd=d']);
      await store.clearRange({});
      assert.deepEqual(await collect(store.iterate({})), []);
      await put(['x']);
      assert.deepEqual(await collect(store.iterate({})), ['x=x'], 'keys written after a clear are visible');
    });

    it('clearRange with binary bounds: 0xff keys and the whole key space', async () => {
      const keys = [[0x00], [0x7f], [0xff], [0xff, 0xff], [0xff, 0xff, 0x00]].map((k) => Buffer.from(k));
      await store.batch(keys.map((k) => ({ type: 'put' as const, key: k, value: k })));
      await store.clearRange({ gte: Buffer.from([0xff]), lt: Buffer.from([0xff, 0xff]) });
      const left: string[] = [];
      for await (const [k] of store.iterate({})) left.push(k.toString('hex'));
      assert.deepEqual(left, ['00', '7f', 'ffff', 'ffff00']);
      await store.clearRange({ gt: Buffer.from([0x00]) });
      const rest: string[] = [];
      for await (const [k] of store.iterate({})) rest.push(k.toString('hex'));
      assert.deepEqual(rest, ['00']);
    });

    it('batches, deletes and clears are all still there after close and reopen; a failed batch is not', async () => {
      await store.batch(['a', 'b', 'c', 'd'].map((k) => ({ type: 'put' as const, key: b(k), value: b(k) })), { sync: true });
      await store.batch([{ type: 'del', key: b('a') }, { type: 'put', key: b('e'), value: b('e') }], { sync: true });
      await store.clearRange({ gte: b('c'), lt: b('d') });
      const bad = { type: 'put', key: b('f'), value: undefined as unknown as Buffer } as const;
      await assert.rejects(store.batch([{ type: 'put', key: b('g'), value: b('g') }, bad], { sync: true }));
      await store.batch([{ type: 'put', key: b('h'), value: b('h') }]); // not synced: a clean close keeps it anyway
      const loc = store.location;
      await store.close();
      store = factory.create(loc);
      await store.open();
      assert.deepEqual(await collect(store.iterate({})), ['b=b', 'd=d', 'e=e', 'h=h']);
    });

    it('open and close are idempotent, and a store reopens on the same object', async () => {
      await store.open();
      await store.batch([{ type: 'put', key: b('k'), value: b('v') }], { sync: true });
      await store.close();
      await store.close();
      await store.open();
      assert.deepEqual(await store.get(b('k')), b('v'));
    });

    it('an iteration stopped early releases the store (close does not hang) and concurrent batches all land', async () => {
      await store.batch(Array.from({ length: 600 }, (_, i) => ({ type: 'put' as const, key: Buffer.from(`k${String(i).padStart(3, '0')}`), value: b('v') })));
      for await (const [k] of store.iterate({})) {
        assert.equal(k.toString(), 'k000');
        break;
      }
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.batch([{ type: 'put', key: Buffer.from(`c${i}`), value: b(String(i)) }], { sync: i % 2 === 0 })));
      let n = 0;
      for await (const _ of store.iterate({ gte: b('c'), lt: b('d') })) n++;
      assert.equal(n, 20);
      await store.close();
      await store.open();
    });

    it('a large batch of many keys lands whole', async () => {
      const ops = Array.from({ length: 5000 }, (_, i) => ({ type: 'put' as const, key: Buffer.from(`k${String(i).padStart(5, '0')}`), value: Buffer.alloc(100, i % 256) }));
      await store.batch(ops);
      let n = 0;
      for await (const _ of store.iterate({ gte: b('k'), lt: b('l') })) n++;
      assert.equal(n, 5000);
    });

    it('compact keeps data, keeps deletions (single and ranged) deleted, and a range compaction leaves other keys alone', async (t) => {
      if (!store.compact) return t.skip('backend has no compact');
      await store.batch(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => ({ type: 'put' as const, key: b(k), value: b(k.repeat(3)) })));
      await store.batch([{ type: 'del', key: b('b') }, { type: 'put', key: b('c'), value: b('C2') }]);
      await store.clearRange({ gte: b('e'), lt: b('f') });
      await store.compact({ gte: b('a'), lt: b('d') });
      assert.deepEqual(await collect(store.iterate({})), ['a=aaa', 'c=C2', 'd=ddd', 'f=fff']);
      await store.compact();
      assert.deepEqual(await collect(store.iterate({})), ['a=aaa', 'c=C2', 'd=ddd', 'f=fff']);
      assert.equal(await store.get(b('b')), undefined);
      assert.equal(await store.get(b('e')), undefined);
      const loc = store.location;
      await store.close();
      store = factory.create(loc);
      await store.open();
      assert.deepEqual(await collect(store.iterate({})), ['a=aaa', 'c=C2', 'd=ddd', 'f=fff']);
      await store.batch([{ type: 'put', key: b('g'), value: b('g') }]);
      assert.deepEqual(await store.get(b('g')), b('g'));
    });

    it('compact gives back the space of overwritten and deleted values', async (t) => {
      if (!store.compact) return t.skip('backend has no compact');
      // 4 MB written in 1000 keys, then every value rewritten 10x smaller and half the keys deleted: what is left
      // is ~0.2 MB, but until a compaction the old values sit in the write-ahead log and table files.
      const key = (i: number): Buffer => Buffer.from(`blk${String(i).padStart(5, '0')}`);
      for (let round = 0; round < 4; round++) {
        await store.batch(Array.from({ length: 250 }, (_, j) => ({ type: 'put' as const, key: key(round * 250 + j), value: Buffer.alloc(4000, round * 250 + j) })));
      }
      await store.batch(Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? { type: 'put' as const, key: key(i), value: Buffer.alloc(400, i) } : { type: 'del' as const, key: key(i) })));
      const before = storeDirBytes(store.location);
      await store.compact();
      const after = storeDirBytes(store.location);
      assert.ok(after < before / 2, `on-disk bytes ${before} -> ${after}: expected less than half after compact`);
      let n = 0;
      for await (const [k, v] of store.iterate({})) {
        const i = Number(k.toString().slice(3));
        assert.equal(i % 2, 0);
        assert.deepEqual(v, Buffer.alloc(400, i));
        n++;
      }
      assert.equal(n, 500);
    });
  });
}
