import type { KvStore, RangeOptions, RangeScanner } from '../store/types.js';

export type Tier = 'hot' | 'cold';

/** One stored block, still encoded, with the tier and key it was read from. */
export interface StoredBlock {
  tier: Tier;
  key: Buffer;
  value: Buffer;
}

/**
 * Opens a scan of `range` in the hot and the cold store (each when given) NOW — both iterators are created before this
 * function returns, and a store iterator reads the snapshot taken when it was created — and resolves with the blocks
 * of both tiers in log order: by key (window, then flushSeq). At an equal key (a window caught between "written to
 * cold" and "deleted from hot" by the mover) the cold copy comes first; the order of such a pair does not matter,
 * because the cold block is the merge of every block up to that key, so it holds the hot block's points unchanged.
 */
export function scanTiers(hot: KvStore | undefined, cold: KvStore | undefined, range: RangeOptions): Promise<StoredBlock[]> {
  const hotScan = hot ? collect(hot, range, 'hot') : Promise.resolve([]);
  const coldScan = cold ? collect(cold, range, 'cold') : Promise.resolve([]);
  return Promise.all([coldScan, hotScan]).then(([c, h]) => mergeByKey(c, h));
}

/**
 * scanTiers of several key ranges (ascending by gte, each within one series' keys), all from the snapshots of this
 * call: each tier's scanner (one store iterator) is opened before this returns, then reads the ranges in order, one
 * seek each. A store without scanners gets one scanTiers per range, all opened now as well. `expected`: the likely
 * number of blocks per range. Resolves with the blocks of each range, in the order of `ranges`.
 */
export function scanTiersMany(hot: KvStore | undefined, cold: KvStore | undefined, ranges: ReadonlyArray<{ gte: Buffer; lt: Buffer }>, expected: number): Promise<StoredBlock[][]> {
  if (ranges.length === 0) return Promise.resolve([]);
  if ((hot && !hot.openScanner) || (cold && !cold.openScanner)) return Promise.all(ranges.map((r) => scanTiers(hot, cold, r)));
  const bounds = { gte: ranges[0]!.gte, lt: ranges[ranges.length - 1]!.lt };
  const coldScan = cold ? readRanges(cold.openScanner!(bounds), ranges, expected, 'cold') : Promise.resolve(undefined);
  const hotScan = hot ? readRanges(hot.openScanner!(bounds), ranges, expected, 'hot') : Promise.resolve(undefined);
  return Promise.all([coldScan, hotScan]).then(([c, h]) => ranges.map((_, i) => mergeByKey(c?.[i] ?? [], h?.[i] ?? [])));
}

async function readRanges(scanner: RangeScanner, ranges: ReadonlyArray<{ gte: Buffer; lt: Buffer }>, expected: number, tier: Tier): Promise<StoredBlock[][]> {
  const out: StoredBlock[][] = [];
  try {
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!;
      const prev = ranges[i - 1];
      // The same range twice (a series asked twice): a scanner reads each key range once.
      if (prev && prev.gte.equals(r.gte) && prev.lt.equals(r.lt)) {
        out.push(out[i - 1]!);
        continue;
      }
      out.push((await scanner.read(r, expected)).map(([key, value]) => ({ tier, key, value })));
    }
  } finally {
    // Not awaited: closing is one more thread-pool round trip, and the blocks read are already in JS buffers. A
    // store closing later still closes this iterator first (abstract-level), so nothing outlives the store.
    scanner.close().catch(() => undefined);
  }
  return out;
}

function collect(store: KvStore, range: RangeOptions, tier: Tier): Promise<StoredBlock[]> {
  const it = store.iterate(range)[Symbol.asyncIterator]();
  // The first next() runs the iterator body up to its first await, which opens the store iterator (this tick).
  const first = it.next();
  return (async () => {
    const out: StoredBlock[] = [];
    for (let r = await first; !r.done; r = await it.next()) out.push({ tier, key: r.value[0], value: r.value[1] });
    return out;
  })();
}

/** Merges two key-sorted lists; at an equal key `a`'s entry (cold) comes first. */
function mergeByKey(a: StoredBlock[], b: StoredBlock[]): StoredBlock[] {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out: StoredBlock[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(Buffer.compare(a[i]!.key, b[j]!.key) <= 0 ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}
