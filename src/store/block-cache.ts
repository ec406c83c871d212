import type { Metrics } from '../common/metrics.js';
import type { RangeOptions } from './types.js';

/**
 * A byte-budgeted LRU of decoded blocks, shared by every partition of a process (one budget for the node).
 *
 * Keys are store keys (bytes). `decode(key, raw, fn)` is the safe way in: the entry remembers the raw bytes it was
 * decoded from and is only served for exactly those bytes, so a block that compaction rewrote under the same key
 * can never be answered from a stale decode, even if nobody invalidated it. `invalidate` / `delete` exist to free the
 * memory of blocks that retention, compaction or a tier move deleted.
 */
export interface BlockCache<T = unknown> {
  /** False when maxBytes is 0: every call then passes straight through. */
  readonly enabled: boolean;
  readonly maxBytes: number;
  /** Bytes currently accounted (decoded estimate + raw bytes + per-entry overhead); never above maxBytes. */
  readonly bytes: number;
  readonly size: number;
  /** Decoded value for `key` if cached (any raw bytes); a hit becomes most recently used. */
  get(key: Buffer): T | undefined;
  /** Caches `decoded` under `key`, accounted as `bytes`; false if the entry alone is over maxBytes / 4 or the cache is off. */
  set(key: Buffer, decoded: T, bytes: number, raw?: Buffer): boolean;
  /**
   * The decode of `raw` stored at `key`: from the cache when the cached entry was decoded from identical bytes,
   * else `decodeFn(raw)` (then cached, sized by `sizeOf` or `estimateDecodedBytes`).
   */
  decode<D extends T>(key: Buffer, raw: Buffer, decodeFn: (raw: Buffer) => D, sizeOf?: (decoded: D) => number): D;
  /** Drops one key; true if it was cached. */
  delete(key: Buffer): boolean;
  /**
   * Drops every key inside the range (gt/gte/lt/lte, bytewise) or starting with `prefix`; returns how many.
   * Walks all entries (O(entries)): call it once per retention/compaction pass with a broad range, and use `delete`
   * for individual keys.
   */
  invalidate(range: Pick<RangeOptions, 'gt' | 'gte' | 'lt' | 'lte'> & { prefix?: Buffer }): number;
  clear(): void;
}

export interface BlockCacheOptions {
  /** Budget in bytes; 0 turns the cache off. */
  maxBytes: number;
  metrics?: Metrics;
}

interface Entry<T> {
  decoded: T;
  raw: Buffer | undefined;
  bytes: number;
}

/** Map bookkeeping, key string and entry object per cached block (measured order of magnitude, not exact). */
export const BLOCK_CACHE_ENTRY_OVERHEAD = 96;

export function createBlockCache<T = unknown>(opts: BlockCacheOptions): BlockCache<T> {
  const maxBytes = Math.max(0, Math.floor(opts.maxBytes));
  const maxEntryBytes = Math.floor(maxBytes / 4);
  const m = opts.metrics;
  // Insertion order of a Map is the LRU order: a hit is re-inserted at the end, eviction takes from the front.
  const entries = new Map<string, Entry<T>>();
  let used = 0;

  const report = (): void => {
    m?.blockCacheBytes.set(used);
    m?.blockCacheEntries.set(entries.size);
  };
  const remove = (k: string, e: Entry<T>, reason: 'capacity' | 'invalidated' | 'replaced'): void => {
    entries.delete(k);
    used -= e.bytes;
    if (reason !== 'replaced') m?.blockCacheEvictions.inc({ reason });
  };

  const put = (key: Buffer, decoded: T, bytes: number, raw: Buffer | undefined): boolean => {
    if (maxBytes === 0) return false;
    const total = Math.ceil(bytes) + key.length + (raw?.length ?? 0) + BLOCK_CACHE_ENTRY_OVERHEAD;
    const k = key.toString('latin1');
    const old = entries.get(k);
    if (old) remove(k, old, 'replaced');
    if (total > maxEntryBytes) {
      report();
      return false;
    }
    // Evict before inserting, so the budget holds at every moment, not just after the call.
    for (const [ek, e] of entries) {
      if (used + total <= maxBytes) break;
      remove(ek, e, 'capacity');
    }
    entries.set(k, { decoded, raw: raw && ownBytes(raw), bytes: total });
    used += total;
    report();
    return true;
  };

  return {
    enabled: maxBytes > 0,
    maxBytes,
    get bytes() {
      return used;
    },
    get size() {
      return entries.size;
    },
    get(key) {
      if (maxBytes === 0) return undefined;
      const k = key.toString('latin1');
      const e = entries.get(k);
      m?.blockCacheRequests.inc({ result: e ? 'hit' : 'miss' });
      if (!e) return undefined;
      entries.delete(k);
      entries.set(k, e);
      return e.decoded;
    },
    set(key, decoded, bytes, raw) {
      return put(key, decoded, bytes, raw);
    },
    decode<D extends T>(key: Buffer, raw: Buffer, decodeFn: (raw: Buffer) => D, sizeOf?: (decoded: D) => number): D {
      if (maxBytes === 0) return decodeFn(raw);
      const k = key.toString('latin1');
      const e = entries.get(k);
      if (e && e.raw !== undefined && e.raw.equals(raw)) {
        m?.blockCacheRequests.inc({ result: 'hit' });
        entries.delete(k);
        entries.set(k, e);
        return e.decoded as D;
      }
      m?.blockCacheRequests.inc({ result: e ? 'stale' : 'miss' });
      const decoded = decodeFn(raw);
      put(key, decoded, (sizeOf ?? estimateDecodedBytes)(decoded), raw);
      return decoded;
    },
    delete(key) {
      const k = key.toString('latin1');
      const e = entries.get(k);
      if (!e) return false;
      remove(k, e, 'invalidated');
      report();
      return true;
    },
    invalidate(range) {
      const lo = range.gt ?? range.gte;
      const hi = range.lt ?? range.lte;
      const gt = range.gt?.toString('latin1');
      const gte = range.gt ? undefined : range.gte?.toString('latin1');
      const lt = range.lt?.toString('latin1');
      const lte = range.lt ? undefined : range.lte?.toString('latin1');
      const prefix = range.prefix?.toString('latin1');
      if (!lo && !hi && prefix === undefined) throw new Error('cannot invalidate block cache: give a range or a prefix (use clear() for everything)');
      let n = 0;
      // latin1 maps each byte to one UTF-16 code unit, so string order here is bytewise key order.
      for (const [k, e] of entries) {
        if (gt !== undefined && !(k > gt)) continue;
        if (gte !== undefined && !(k >= gte)) continue;
        if (lt !== undefined && !(k < lt)) continue;
        if (lte !== undefined && !(k <= lte)) continue;
        if (prefix !== undefined && !k.startsWith(prefix)) continue;
        remove(k, e, 'invalidated');
        n++;
      }
      report();
      return n;
    },
    clear() {
      entries.clear();
      used = 0;
      report();
    },
  };
}

/**
 * Rough heap size of a decoded value: 8 bytes per array slot (Node 20 has no pointer compression; doubles and smis
 * both take a slot), typed arrays by byteLength, strings 2 bytes per char, objects 16 bytes per field plus 32, all
 * recursively. Meant for budgeting, so it errs on the large side.
 */
export function estimateDecodedBytes(v: unknown): number {
  if (v === null || v === undefined || typeof v === 'boolean' || typeof v === 'number') return 8;
  if (typeof v === 'string') return 16 + v.length * 2;
  if (typeof v === 'bigint') return 24;
  if (ArrayBuffer.isView(v)) return 64 + v.byteLength;
  if (Array.isArray(v)) {
    let n = 16 + v.length * 8;
    for (const x of v) if (typeof x === 'object' && x !== null) n += estimateDecodedBytes(x);
    else if (typeof x === 'string') n += 16 + x.length * 2;
    return n;
  }
  if (typeof v === 'object') {
    let n = 32;
    for (const x of Object.values(v as Record<string, unknown>)) n += 16 + (typeof x === 'object' && x !== null ? estimateDecodedBytes(x) : typeof x === 'string' ? 16 + x.length * 2 : 0);
    return n;
  }
  return 16;
}

/** A copy: the caller's buffer may be a view into a larger pooled one (pinning it) or be reused later. */
function ownBytes(b: Buffer): Buffer {
  return Buffer.from(b);
}
