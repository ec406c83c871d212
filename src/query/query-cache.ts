import type { Metrics } from '../common/metrics.js';
import type { Matcher } from '../store/read-model.js';

export type CacheName = 'query' | 'metadata';

export interface CachedAnswer {
  /** The rendered JSON answer, byte for byte what was sent. */
  body: string;
  /** Points it holds (for tsdb_query_points_returned_total on a hit). */
  points: number;
}

/**
 * A least-recently-used map of rendered JSON answers, bounded by bytes (UTF-8 size of key + answer, plus a small
 * per-entry overhead). Entries are never invalidated explicitly: every key ends with the applied offsets of the
 * partitions the answer read (see `offsetsKey`), and offsets only grow, so once a partition applies a new record the
 * entries that read it can no longer be looked up and simply age out.
 */
export class AnswerCache {
  private readonly entries = new Map<string, CachedAnswer & { bytes: number }>();
  private used = 0;
  /** An answer larger than this is not cached (so one huge answer cannot flush everything else). */
  readonly maxEntryBytes: number;

  constructor(
    readonly name: CacheName,
    readonly maxBytes: number,
    private readonly metrics?: Metrics,
  ) {
    this.maxEntryBytes = Math.floor(maxBytes / 4);
    this.report();
  }

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Looks a key up, counting the hit or miss; a hit becomes the most recently used entry. */
  get(key: string): CachedAnswer | undefined {
    if (!this.enabled) return undefined;
    const e = this.entries.get(key);
    this.metrics?.queryCacheRequests.inc({ cache: this.name, result: e ? 'hit' : 'miss' });
    if (!e) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  /** Stores an answer; false when it is too large for this cache (or the cache is off). */
  set(key: string, body: string, points = 0): boolean {
    if (!this.enabled) return false;
    const bytes = Buffer.byteLength(key) + Buffer.byteLength(body) + ENTRY_OVERHEAD;
    if (bytes > this.maxEntryBytes) return false;
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.used -= old.bytes;
    }
    this.entries.set(key, { body, points, bytes });
    this.used += bytes;
    for (const [k, e] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.entries.delete(k);
      this.used -= e.bytes;
    }
    this.report();
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
    this.report();
  }

  private report(): void {
    this.metrics?.queryCacheBytes.set({ cache: this.name }, this.used);
    this.metrics?.queryCacheEntries.set({ cache: this.name }, this.entries.size);
  }
}

const ENTRY_OVERHEAD = 64;

/**
 * The selector in a canonical form: matchers are a conjunction, so their order and repeats do not matter; they are
 * sorted by (name, op, value) and deduplicated. Regex matchers are keyed by their source text.
 */
export function matchersKey(matchers: readonly Matcher[]): string {
  const parts = matchers.map((m) => JSON.stringify([m.name, m.op, m.value]));
  return [...new Set(parts)].sort().join(',');
}

/** `p:offset` pairs ascending by partition: the applied state of every partition an answer read. */
export function offsetsKey(offsets: ReadonlyMap<number, number | string>): string {
  return [...offsets].sort((a, b) => a[0] - b[0]).map(([p, o]) => `${p}:${o}`).join(',');
}
