import type { Tier } from './block-runs.js';

interface Counts {
  hot: Uint8Array;
  cold: Uint8Array;
  /**
   * The counts of the window were dropped once it settled: a series may hold a sealed block the counts do not
   * show, until a look at the store (`known`) says otherwise.
   */
  uncertain: boolean;
  known: Uint8Array;
  /** The pass epoch (see beginPass) in which a block last arrived: a window still being loaded waits to be sealed. */
  touched: number;
}

const EMPTY = new Uint8Array(0);

function grow(arr: Uint8Array, index: number): Uint8Array {
  if (index < arr.length) return arr;
  const grown = new Uint8Array(Math.max(index + 1, arr.length * 2, 16));
  grown.set(arr);
  return grown;
}

/**
 * Block weights per (series, window) and tier for the windows that may need work (compaction or a move to cold):
 * a block weighs 1 when it is already sealed-shaped, 2 otherwise (see blockWeight), so "total > 1" means "seal".
 * Dense by series id, one byte per series and window (saturating at 255): a partition with 100 k series and a day
 * of 2 h windows costs ~2.4 MB. Flushes add, seals recount from the store, the startup scan rebuilds everything;
 * settled cold windows give their memory back and become "uncertain".
 */
export class WindowTracker {
  private readonly windows = new Map<number, Counts>();
  /** Stamped on arriving blocks; advanced by beginPass. */
  private epoch = 1;
  /** The epoch the previous pass began, Infinity before the first pass (nothing arrived "since the last pass"). */
  private lastPassEpoch = Number.POSITIVE_INFINITY;

  clear(): void {
    this.windows.clear();
  }

  add(tier: Tier, seriesId: number, window: number, delta: number): void {
    let c = this.windows.get(window);
    if (!c) {
      if (delta <= 0) return;
      // Not tracked (and never dropped) since the startup scan: the scan or this add is the window's first block.
      this.windows.set(window, (c = { hot: EMPTY, cold: EMPTY, uncertain: false, known: EMPTY, touched: this.epoch }));
    }
    if (delta > 0) c.touched = this.epoch;
    if (seriesId >= c[tier].length && delta <= 0) return;
    const arr = (c[tier] = grow(c[tier], seriesId));
    arr[seriesId] = Math.max(0, Math.min(255, arr[seriesId]! + delta));
  }

  /** Sets a series' weights from a look at the store: exact from now on. */
  set(seriesId: number, window: number, hot: number, cold: number): void {
    const c = this.windows.get(window);
    const cur = (t: Tier): number => (c && seriesId < c[t].length ? c[t][seriesId]! : 0);
    const touched = c?.touched;
    this.add('hot', seriesId, window, hot - cur('hot'));
    this.add('cold', seriesId, window, cold - cur('cold'));
    const after = this.windows.get(window);
    // A recount after a seal is no new block: the window keeps the epoch of its last real arrival.
    if (after) after.touched = touched ?? 0;
    if (after?.uncertain) {
      after.known = grow(after.known, seriesId);
      after.known[seriesId] = 1;
    }
  }

  /** True when the weights of the series may miss a block in the store. */
  unsure(c: Readonly<Counts>, seriesId: number): boolean {
    return c.uncertain && c.known[seriesId] !== 1;
  }

  /**
   * Starts a storage pass over the partition and returns the epoch from which a window counts as busy (a block
   * arrived since the previous pass began): `counts(w).touched >= beginPass()`. Before the first pass nothing is busy.
   */
  beginPass(): number {
    const busyFrom = this.lastPassEpoch;
    this.lastPassEpoch = ++this.epoch;
    return busyFrom;
  }

  /** Windows in ascending order. */
  windowStarts(): number[] {
    return [...this.windows.keys()].sort((a, b) => a - b);
  }

  counts(window: number): Readonly<Counts> | undefined {
    return this.windows.get(window);
  }

  /** Forgets the weights of a settled window (it stays listed, as uncertain, so late blocks get a look). */
  drop(window: number): void {
    const c = this.windows.get(window);
    if (c) Object.assign(c, { hot: EMPTY, cold: EMPTY, uncertain: true, known: EMPTY });
  }
}
