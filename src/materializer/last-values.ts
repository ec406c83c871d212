/** The last-value index of one partition: the newest point per series, for `lastPoint` reads. */
import type { PointColumns } from '../store/read-model.js';
import { blockRange, decodeBlockKey, windowRange } from '../store/row-keys.js';
import type { KvStore } from '../store/types.js';
import { scanTiers, type StoredBlock } from './block-runs.js';
import { mergeLogOrdered } from './merge-points.js';

export type LastPoint = { t: number; v: number };

export class LastValues {
  /** Last point per series among points applied since this process started (dense by series id). */
  t: number[] = [];
  v: number[] = [];
  /** Last point per series in the store, read once per series on demand (null: nothing stored). */
  private readonly stored = new Map<number, LastPoint | null>();

  constructor(private readonly readStored: (seriesId: number) => Promise<LastPoint | null>) {}

  /** Starts the in-memory index for `size` series, none of them written since start. */
  reset(size: number): void {
    this.t = new Array<number>(size).fill(Number.NEGATIVE_INFINITY);
    this.v = new Array<number>(size).fill(0);
  }

  /**
   * The newest point of a series: from the in-memory last-value index, or, for series not written since start,
   * from the newest stored window (read once, then remembered). Points applied since start are later in log order
   * than anything stored before, so on an equal timestamp the in-memory one wins.
   */
  async lastPoint(seriesId: number): Promise<LastPoint | undefined> {
    let stored = this.stored.get(seriesId);
    if (stored === undefined) {
      stored = await this.readStored(seriesId);
      this.stored.set(seriesId, stored);
    }
    const t = this.t[seriesId] ?? Number.NEGATIVE_INFINITY;
    if (t !== Number.NEGATIVE_INFINITY && (stored === null || t >= stored.t)) return { t, v: this.v[seriesId]! };
    return stored ?? undefined;
  }

  /** Forgets a series retention removed. */
  forget(id: number): void {
    this.t[id] = Number.NEGATIVE_INFINITY;
    this.stored.delete(id);
  }
}

/** The newest stored point of a series (both tiers), or null when nothing of it is stored. */
export async function readStoredLast(
  hot: KvStore,
  cold: KvStore | undefined,
  partition: number,
  seriesId: number,
  decode: (b: StoredBlock) => PointColumns,
  attempt = 0,
): Promise<LastPoint | null> {
  const range = blockRange(partition, seriesId, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  let window: number | undefined;
  for (const store of [hot, cold]) {
    if (!store) continue;
    for await (const [k] of store.iterate({ ...range, reverse: true, limit: 1 })) {
      const w = decodeBlockKey(k).windowStart;
      if (window === undefined || w > window) window = w;
    }
  }
  if (window === undefined) return null;
  const blocks = await scanTiers(hot, cold, windowRange(partition, seriesId, window));
  // Deleted in between (retention): look again, the newest window is now another one.
  if (blocks.length === 0) return attempt < 3 ? readStoredLast(hot, cold, partition, seriesId, decode, attempt + 1) : null;
  const merged = mergeLogOrdered(
    blocks.map((b) => decode(b)),
    Number.MIN_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER,
  );
  const n = merged.ts.length - 1;
  return { t: merged.ts[n]!, v: merged.vs[n]! };
}
