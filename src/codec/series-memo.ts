/**
 * Series-table entries already decoded, keyed by their exact Avro bytes (metric + tags map). A SeriesBatch carries
 * each series' metric and tags again in every record, and with many series per batch the per-series work (decoding
 * strings, building the canonical key, hashing it for the partition or id lookup) costs more than the points: at
 * 10 points per series per batch it was half of ingest CPU. A hit turns that into one latin1 copy of the bytes and
 * one Map lookup, and hands back the same SeriesRef and key string every time (V8 caches a string's hash, so later
 * Map lookups by that key do not rehash it).
 *
 * Different bytes for the same series (another tag order) are simply different entries; the answer for given bytes
 * never changes, so a memo is never stale. It is bounded: when full it is cleared and refills from the next batches.
 */
import type { SeriesRef } from './avro-series-batch.js';

export interface SeriesMemoEntry {
  ref: SeriesRef;
  /** canonicalSeriesKey(ref.metric, ref.tags) */
  key: string;
}

/**
 * One earlier record's series table: its bytes (a copy), each entry's [start, end) in them, and what each decoded
 * to. Producers tend to send the same series in the same order, so the next table is checked against it position
 * by position before anything is hashed.
 */
export interface MemoTable {
  bytes: Buffer;
  starts: Int32Array;
  ends: Int32Array;
  refs: SeriesRef[];
  keys: string[];
}

/** Default bound on entries (about 0.5 KiB each with TSBS-sized tags). */
export const SERIES_MEMO_ENTRIES = 200_000;

/** Bytes of remembered tables, all together, before they are forgotten. */
const MAX_TABLE_BYTES = 32 * 1024 * 1024;

interface Slot {
  bytes: Uint8Array;
  entry: SeriesMemoEntry;
  /** Next slot with the same hash. */
  next: Slot | undefined;
}

export class SeriesMemo {
  /** By FNV-1a hash of the bytes; collisions chain. Keyed by number so a lookup allocates nothing. */
  private readonly map = new Map<number, Slot>();
  private count = 0;
  /** By hash of a table's first entry. */
  private readonly tables = new Map<number, MemoTable>();
  private tableBytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`cannot create series memo (maxEntries=${maxEntries}): must be a positive integer`);
  }

  get size(): number {
    return this.count;
  }

  hash(buf: Uint8Array, start: number, end: number): number {
    return hashBytes(buf, start, end);
  }

  /** The last table saved under this first-entry hash. */
  table(firstHash: number): MemoTable | undefined {
    return this.tables.get(firstHash);
  }

  saveTable(firstHash: number, t: MemoTable): void {
    const old = this.tables.get(firstHash);
    if (old) this.tableBytes -= old.bytes.length;
    if (this.tableBytes + t.bytes.length > MAX_TABLE_BYTES) {
      this.tables.clear();
      this.tableBytes = 0;
    }
    if (t.bytes.length > MAX_TABLE_BYTES) return;
    this.tables.set(firstHash, t);
    this.tableBytes += t.bytes.length;
  }

  /** The entry for bytes [start, end) of buf, if memoized. */
  get(buf: Uint8Array, start: number, end: number): SeriesMemoEntry | undefined {
    const len = end - start;
    for (let slot = this.map.get(hashBytes(buf, start, end)); slot !== undefined; slot = slot.next) {
      const b = slot.bytes;
      if (b.length !== len) continue;
      let i = 0;
      while (i < len && b[i] === buf[start + i]) i++;
      if (i === len) {
        this.hits++;
        return slot.entry;
      }
    }
    this.misses++;
    return undefined;
  }

  /** Memoizes `entry` for bytes [start, end) of buf (copied). */
  set(buf: Uint8Array, start: number, end: number, entry: SeriesMemoEntry): void {
    if (this.count >= this.maxEntries) this.clear();
    const h = hashBytes(buf, start, end);
    this.map.set(h, { bytes: buf.slice(start, end), entry, next: this.map.get(h) });
    this.count++;
  }

  clear(): void {
    this.map.clear();
    this.count = 0;
    this.tables.clear();
    this.tableBytes = 0;
  }
}

/** FNV-1a, kept within a small integer so Map keys stay unboxed. */
function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start);
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h & 0x3fffffff;
}
