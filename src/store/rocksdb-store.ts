import { open as openFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import RocksDB from 'rocksdb-native';
import { TsdbError, asTsdbError } from '../common/errors.js';
import type { BatchOp, KvStore, RangeOptions } from './types.js';

export interface RocksDbStoreOptions {
  location: string;
  /** Bloom filter bits per key on SST files (0 = no filter). Point gets of absent keys skip files on a negative. */
  bloomBitsPerKey?: number;
  /** Memtable size; a full memtable is flushed to an SST file. */
  writeBufferSize?: number;
  /** SST data block size. */
  blockSize?: number;
}

/**
 * RocksDB backend (rocksdb-native, Holepunch). What rocksdb-native 3.18 exposes and what it does not:
 * - exposed and used: bloom filter policy per SST (`filterPolicy`), block size, memtable size, index/filter blocks
 *   in the block cache, `optimizeFiltersForHits`; atomic write batches; iterators with gt/gte/lt/lte/reverse/limit;
 *   range tombstones (`deleteRange`); `currentWalFile()`.
 * - not exposed: a prefix extractor (so no prefix bloom / prefix seek), block-cache size (RocksDB's internal
 *   default), compression (the build writes kNoCompression SSTs; block values are already compressed by our codec,
 *   keys are short), and `WriteOptions.sync`.
 * Because `sync` is missing, a `sync: true` batch is made durable here: RocksDB has already written the batch to its
 * WAL in the OS page cache when the write returns (manual_wal_flush is off), so we fdatasync the WAL file(s) that can
 * hold it and the directory when a new WAL appeared. A WAL that vanished meanwhile was flushed to a synced SST first.
 */
export function createRocksDbStore(opts: RocksDbStoreOptions): KvStore {
  let db: RocksDB | undefined;
  // Highest WAL number known before any in-flight write was issued: every later write lands in this WAL or a newer one.
  let walFloor = 0;
  let dirSyncedWal = 0;

  const ensureOpen = (what: string): RocksDB => {
    if (!db) throw new TsdbError('TSDB_ERR_STORE_CLOSED', `cannot ${what} (${opts.location}): store is not open`);
    return db;
  };

  const fsyncPath = async (path: string, data: boolean): Promise<void> => {
    let fh;
    try {
      fh = await openFile(path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // obsolete WAL: its memtable is in a synced SST
      throw e;
    }
    try {
      await (data ? fh.datasync() : fh.sync());
    } finally {
      await fh.close();
    }
  };

  const syncWal = async (d: RocksDB, floor: number): Promise<void> => {
    const current = (await d.currentWalFile()).number;
    if (current === floor) {
      await fsyncPath(walPath(opts.location, current), true);
    } else {
      const wals = (await readdir(opts.location)).map(walNumber).filter((n) => n >= floor && n <= current);
      for (const n of wals) await fsyncPath(walPath(opts.location, n), true);
    }
    if (current > dirSyncedWal) {
      await fsyncPath(opts.location, false);
      dirSyncedWal = Math.max(dirSyncedWal, current);
    }
    walFloor = Math.max(walFloor, current);
  };

  return {
    kind: 'rocksdb',
    location: opts.location,
    async open() {
      if (db) return;
      const bits = opts.bloomBitsPerKey ?? 10;
      const d = new RocksDB(opts.location, {
        createIfMissing: true,
        filterPolicy: bits > 0 ? new RocksDB.BloomFilterPolicy(bits) : null,
        tableBlockSize: opts.blockSize ?? 16 * 1024,
        tableCacheIndexAndFilterBlocks: true,
        writeBufferSize: opts.writeBufferSize ?? 32 * 1024 * 1024,
        maxBackgroundJobs: 2,
      });
      try {
        await d.ready();
        walFloor = (await d.currentWalFile()).number;
        dirSyncedWal = 0;
      } catch (e) {
        await d.close().catch(() => undefined);
        throw asTsdbError(e, 'TSDB_ERR_STORE_IO', `cannot open store (${opts.location})`);
      }
      db = d;
    },
    async close() {
      const d = db;
      if (!d) return;
      db = undefined;
      await d.close();
    },
    async get(key) {
      const d = ensureOpen('get key');
      try {
        return (await d.get(key)) ?? undefined;
      } catch (e) {
        throw asTsdbError(e, 'TSDB_ERR_STORE_IO', `cannot get key (${key.length} bytes)`);
      }
    },
    async batch(ops: BatchOp[], bopts) {
      const d = ensureOpen('write batch');
      if (ops.length === 0) return;
      const floor = walFloor;
      const w = d.write({ capacity: ops.length });
      try {
        // Validate everything before queueing anything, so a bad op cannot leave half a batch behind.
        ops.forEach((op, i) => {
          if (!Buffer.isBuffer(op.key) || (op.type === 'put' && !Buffer.isBuffer(op.value))) {
            throw new Error(`op ${i} (${op.type}) needs a Buffer key${op.type === 'put' ? ' and value' : ''}`);
          }
        });
        for (const op of ops) {
          if (op.type === 'put') w.tryPut(op.key, op.value);
          else w.tryDelete(op.key);
        }
        await w.flush();
        if (bopts?.sync) await syncWal(d, floor);
      } catch (e) {
        throw asTsdbError(e, 'TSDB_ERR_STORE_IO', `cannot write batch (${ops.length} ops)`);
      } finally {
        w.destroy();
      }
    },
    async *iterate(range: RangeOptions) {
      const d = ensureOpen('iterate range');
      if (range.limit === 0) return;
      const limit = range.limit === undefined || range.limit < 0 ? Infinity : range.limit;
      const it = d.iterator({ ...bounds(range), reverse: range.reverse ?? false, limit, capacity: Math.min(1024, limit) });
      for await (const e of it) yield [e.key, e.value ?? Buffer.alloc(0)] as [Buffer, Buffer];
    },
    async clearRange(range: RangeOptions) {
      const d = ensureOpen('clear range');
      try {
        if (range.limit !== undefined && range.limit >= 0) {
          // A limited clear removes the first `limit` keys in iteration order: delete them one by one, atomically.
          const keys: Buffer[] = [];
          if (range.limit > 0) {
            for await (const { key } of d.iterator({ ...bounds(range), reverse: range.reverse ?? false, limit: range.limit, values: false, capacity: Math.min(256, range.limit) })) keys.push(key);
          }
          if (keys.length === 0) return;
          const w = d.write({ capacity: keys.length });
          try {
            for (const k of keys) w.tryDelete(k);
            await w.flush();
          } finally {
            w.destroy();
          }
          return;
        }
        // gt x == gte x+0x00 and lte x == lt x+0x00 in bytewise order, so every range maps onto one range tombstone.
        const start = range.gt ? successor(range.gt) : (range.gte ?? Buffer.alloc(0));
        let end = range.lt ?? (range.lte ? successor(range.lte) : undefined);
        if (end === undefined) {
          let last: Buffer | undefined;
          for await (const { key } of d.iterator({ gte: start, reverse: true, limit: 1, values: false, capacity: 1 })) last = key;
          if (last === undefined) return;
          end = successor(last);
        }
        if (Buffer.compare(start, end) >= 0) return;
        await d.deleteRange(start, end);
      } catch (e) {
        throw asTsdbError(e, 'TSDB_ERR_STORE_IO', `cannot clear range`);
      }
    },
    async compact(range) {
      const d = ensureOpen('compact range');
      try {
        // null bounds mean "from the first key" / "to the last key"; the memtable is flushed first. Bottommost
        // files are rewritten too, or range tombstones and shadowed values in the last level would stay.
        await d.compactRange(range?.gte ?? null, range?.lt ?? null, { bottommostLevelCompaction: RocksDB.constants.bottommostLevelCompaction.FORCE });
      } catch (e) {
        throw asTsdbError(e, 'TSDB_ERR_STORE_IO', `cannot compact range (${opts.location})`);
      }
    },
  };
}

function bounds(r: RangeOptions): { gt?: Buffer; gte?: Buffer; lt?: Buffer; lte?: Buffer } {
  const out: { gt?: Buffer; gte?: Buffer; lt?: Buffer; lte?: Buffer } = {};
  if (r.gt) out.gt = r.gt;
  else if (r.gte) out.gte = r.gte;
  if (r.lt) out.lt = r.lt;
  else if (r.lte) out.lte = r.lte;
  return out;
}

/** The smallest key greater than `k` in bytewise order. */
function successor(k: Buffer): Buffer {
  return Buffer.concat([k, Buffer.from([0])]);
}

function walPath(dir: string, n: number): string {
  return join(dir, `${String(n).padStart(6, '0')}.log`);
}

function walNumber(name: string): number {
  const m = /^(\d+)\.log$/.exec(name);
  return m ? Number(m[1]) : -1;
}
