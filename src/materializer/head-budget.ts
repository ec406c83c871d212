/**
 * The process-wide head memory budget (--head-max-bytes, docs/memory.md): the heads of all partitions together,
 * frozen heads included, may hold this many encoded bytes. When the sum goes over it, the partitions with the
 * largest heads flush early (reason "memory"), so heads stay bounded whatever the number of partitions.
 */

/** What the budget needs to know about one partition's head. */
export interface HeadUsage {
  partition: number;
  /** Encoded bytes in the head, frozen head included. */
  bytes: number;
  /** Bytes of a frozen head whose flush is running: they go away when it commits, and cannot be flushed again. */
  flushingBytes: number;
}

/**
 * Flushing stops once the heads are expected to fall to this share of the budget, so one pass frees room for
 * many requests instead of flushing one small head per request (fewer, larger fragments for compaction).
 */
export const FLUSH_TARGET_SHARE = 0.75;

/**
 * Partitions to flush so the heads fall to `targetBytes`: largest unflushed head first, counting bytes already being
 * flushed as gone. Returns [] when the heads are within `budgetBytes` (0 = no budget).
 */
export function pickFlushes(heads: readonly HeadUsage[], budgetBytes: number, targetBytes = Math.floor(budgetBytes * FLUSH_TARGET_SHARE)): number[] {
  if (budgetBytes <= 0) return [];
  let total = 0;
  let inFlight = 0;
  for (const h of heads) {
    total += h.bytes;
    inFlight += h.flushingBytes;
  }
  if (total <= budgetBytes) return [];
  let expected = total - inFlight;
  const picks: number[] = [];
  const candidates = heads.filter((h) => h.bytes - h.flushingBytes > 0).sort((a, b) => b.bytes - b.flushingBytes - (a.bytes - a.flushingBytes) || a.partition - b.partition);
  for (const h of candidates) {
    if (expected <= targetBytes) break;
    // A partition that is flushing cannot start a second flush; what it gathered since will wait for the next pass.
    if (h.flushingBytes > 0) continue;
    picks.push(h.partition);
    expected -= h.bytes;
  }
  return picks;
}

/**
 * Keeps each partition's head size without walking every series of every head on every batch: a partition is
 * measured exactly (Head.byteLength walks its series) after it applied at least a quarter of its series count in
 * points, and in between its growth is estimated at `bytesPerPointGuess` per point, an upper bound for Gorilla (a
 * series' first point costs 16 bytes, later ones 1-13). The walk is then amortized to a fraction of a step per point.
 */
export class HeadSizes {
  private readonly measured = new Map<number, { bytes: number; points: number }>();

  constructor(private readonly bytesPerPointGuess = 16) {}

  /** Estimated bytes of a partition's head; `measure` is called when the estimate is too stale. */
  size(partition: number, points: number, series: number, measure: () => number): number {
    const m = this.measured.get(partition);
    // Fewer points than measured: a flush emptied (part of) the head, so the old figure is no use.
    if (m === undefined || points < m.points || points - m.points > Math.max(64, series >>> 2)) return this.remeasure(partition, points, measure);
    return m.bytes + (points - m.points) * this.bytesPerPointGuess;
  }

  remeasure(partition: number, points: number, measure: () => number): number {
    const bytes = measure();
    this.measured.set(partition, { bytes, points });
    return bytes;
  }
}

/** One partition as the budget sees it (PartitionState through a thin adapter). */
export interface BudgetedHead {
  readonly partition: number;
  readonly headPoints: number;
  /** Series the partition knows: an upper bound of the series in its head. */
  readonly seriesCount: number;
  headBytes(): { total: number; frozen: number };
  /** Starts a flush, or returns the one running; never rejects. */
  flush(reason: string): Promise<void>;
}

export interface HeadBudget {
  /**
   * Called after a partition applied a batch. Over budget, it starts flushes of the largest heads and waits for the
   * flushes under way, so the caller (one partition's consumer) adds nothing more until memory has been freed.
   */
  afterApply(): Promise<void>;
  /** Exact sum of every head's bytes (walks every series; for the metrics scrape). */
  exactTotal(): number;
}

export function createHeadBudget(opts: { maxBytes: number; heads: () => Iterable<BudgetedHead> }): HeadBudget {
  const sizes = new HeadSizes();
  const measureAll = (): { usage: HeadUsage[]; byPartition: Map<number, BudgetedHead> } => {
    const usage: HeadUsage[] = [];
    const byPartition = new Map<number, BudgetedHead>();
    for (const h of opts.heads()) {
      const b = h.headBytes();
      sizes.remeasure(h.partition, h.headPoints, () => b.total);
      usage.push({ partition: h.partition, bytes: b.total, flushingBytes: b.frozen });
      byPartition.set(h.partition, h);
    }
    return { usage, byPartition };
  };
  return {
    async afterApply() {
      if (opts.maxBytes <= 0) return;
      let estimate = 0;
      for (const h of opts.heads()) estimate += sizes.size(h.partition, h.headPoints, h.seriesCount, () => h.headBytes().total);
      if (estimate <= opts.maxBytes) return;
      const { usage, byPartition } = measureAll();
      const picks = pickFlushes(usage, opts.maxBytes);
      if (picks.length === 0 && usage.reduce((n, u) => n + u.bytes, 0) <= opts.maxBytes) return;
      const waits = picks.map((p) => byPartition.get(p)!.flush('memory'));
      // Flushes already running (any reason) free memory too: wait for them rather than start more.
      for (const u of usage) if (u.flushingBytes > 0) waits.push(byPartition.get(u.partition)!.flush('memory'));
      await Promise.all(waits);
    },
    exactTotal() {
      let n = 0;
      for (const h of opts.heads()) n += h.headBytes().total;
      return n;
    },
  };
}
