import { ClassicLevel } from 'classic-level';
import { TsdbError, asTsdbError } from '../common/errors.js';
import { iteratorClosed, iteratorRetainedBytes } from './iterator-memory.js';
import type { BatchOp, KvStore, RangeOptions, RangeScanner } from './types.js';

export interface ClassicLevelStoreOptions {
  location: string;
  /** LevelDB block cache in bytes. */
  cacheSize?: number;
  writeBufferSize?: number;
  /** Uncompressed bytes per table block (LevelDB default 4 KiB); larger blocks share key prefixes and framing. */
  blockSize?: number;
}

/** Bounds of a whole-store compaction: keys the materializer never writes (a one-byte prefix plus a few dozen bytes). */
const MIN_KEY = Buffer.from([0]);
const MAX_KEY = Buffer.alloc(256, 0xff);

/** LevelDB (classic-level) backend: the default store. */
export function createClassicLevelStore(opts: ClassicLevelStoreOptions): KvStore {
  const db = new ClassicLevel<Buffer, Buffer>(opts.location, {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
    cacheSize: opts.cacheSize ?? 64 * 1024 * 1024,
    writeBufferSize: opts.writeBufferSize ?? 16 * 1024 * 1024,
    compression: true,
    ...(opts.blockSize !== undefined ? { blockSize: opts.blockSize } : {}),
  });
  let open = false;

  const ensureOpen = (what: string): void => {
    if (!open) throw new TsdbError('TSDB_ERR_STORE_CLOSED', `cannot ${what} (${opts.location}): store is not open`);
  };

  return {
    kind: 'classic-level',
    location: opts.location,
    async open() {
      try {
        await db.open({ createIfMissing: true });
        open = true;
      } catch (e) {
        throw asTsdbError(e, 'TSDB_ERR_STORE_IO', `cannot open store (${opts.location})`);
      }
    },
    async close() {
      if (!open) return;
      open = false;
      await db.close();
    },
    async get(key) {
      ensureOpen('get key');
      try {
        const v = await db.get(key);
        return v ?? undefined;
      } catch (e) {
        throw asTsdbError(e, 'TSDB_ERR_STORE_IO', `cannot get key (${key.length} bytes)`);
      }
    },
    async batch(ops: BatchOp[], bopts) {
      ensureOpen('write batch');
      if (ops.length === 0) return;
      try {
        await db.batch(ops, { sync: bopts?.sync ?? false });
      } catch (e) {
        throw asTsdbError(e, 'TSDB_ERR_STORE_IO', `cannot write batch (${ops.length} ops)`);
      }
    },
    async *iterate(range: RangeOptions) {
      ensureOpen('iterate range');
      const it = db.iterator({ ...range, limit: range.limit ?? -1 });
      let last: Entry[] = [];
      try {
        for (;;) {
          const entries = (await it.nextv(256)) as Entry[];
          if (entries.length === 0) break;
          last = entries;
          for (const e of entries) yield e;
        }
      } finally {
        await it.close();
        iteratorClosed(iteratorRetainedBytes(256, last));
      }
    },
    openScanner(bounds) {
      ensureOpen('open scanner');
      return classicLevelScanner(db.iterator({ gte: bounds.gte, lt: bounds.lt }));
    },
    async clearRange(range: RangeOptions) {
      ensureOpen('clear range');
      try {
        await db.clear({ ...range, limit: range.limit ?? -1 });
      } catch (e) {
        throw asTsdbError(e, 'TSDB_ERR_STORE_IO', `cannot clear range`);
      }
    },
    async compact(range) {
      ensureOpen('compact range');
      const start = range?.gte ?? MIN_KEY;
      const end = range?.lt ?? MAX_KEY;
      try {
        // First call: the memtable (everything still only in the .log) becomes a table file. LevelDB places that
        // file as deep as it fits, usually on the deepest level holding the range, with every overwritten and
        // deleted version it held, and a manual compaction never rewrites that deepest level. So deletion markers
        // at the range bounds go into a second flush, one level above, overlapping the whole range: the second
        // call merges it down through the deepest files, dropping dead values, tombstones and the markers.
        await db.compactRange(start, end);
        const markers: BatchOp[] = [];
        for (const k of [start, end]) if ((await db.get(k)) === undefined) markers.push({ type: 'del', key: k });
        if (markers.length === 0) return;
        await db.batch(markers);
        await db.compactRange(start, end);
      } catch (e) {
        throw asTsdbError(e, 'TSDB_ERR_STORE_IO', `cannot compact range (${opts.location})`);
      }
    },
  };
}

type Entry = [Buffer, Buffer];

/**
 * One LevelDB iterator (one snapshot) read range after range. Each read seeks to its range and asks for `expected`
 * entries plus one: the extra entry shows whether the range ended, and is kept in case the next range starts there.
 */
function classicLevelScanner(it: ReturnType<ClassicLevel<Buffer, Buffer>['iterator']>): RangeScanner {
  /** Entries read past the end of the previous range, in key order, directly followed by the iterator's position. */
  let ahead: Entry[] = [];
  let ended = false;
  /** What the native iterator keeps after close (iterator-memory.ts). */
  let largestNextv = 0;
  let lastBatch: Entry[] = [];
  return {
    async read(range, expected = 16) {
      const out: Entry[] = [];
      let i = 0;
      while (i < ahead.length && Buffer.compare(ahead[i]![0], range.gte) < 0) i++;
      if (i < ahead.length) {
        // The iterator sits right after ahead's last entry: ahead[i..] is where this range begins.
        for (; i < ahead.length; i++) {
          if (Buffer.compare(ahead[i]![0], range.lt) >= 0) {
            ahead = ahead.slice(i);
            return out;
          }
          out.push(ahead[i]!);
        }
        ahead = [];
        if (ended) return out;
      } else {
        ahead = [];
        it.seek(range.gte);
        ended = false;
      }
      try {
        for (;;) {
          const n = Math.max(1, expected) + 1;
          if (n > largestNextv) largestNextv = n;
          const batch = (await it.nextv(n)) as Entry[];
          if (batch.length > 0) lastBatch = batch;
          if (batch.length === 0) {
            ended = true;
            return out;
          }
          for (let j = 0; j < batch.length; j++) {
            if (Buffer.compare(batch[j]![0], range.lt) >= 0) {
              ahead = batch.slice(j);
              return out;
            }
            out.push(batch[j]!);
          }
        }
      } catch (e) {
        throw asTsdbError(e, 'TSDB_ERR_STORE_IO', `cannot read range (scanner)`);
      }
    },
    async close() {
      await it.close();
      iteratorClosed(iteratorRetainedBytes(largestNextv, lastBatch));
      lastBatch = [];
    },
  };
}
