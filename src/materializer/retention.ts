import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { Metrics } from '../common/metrics.js';
import { blockKey, seriesKey } from '../store/row-keys.js';
import type { SeriesIndex } from '../store/series-index.js';
import type { BatchOp, KvStore } from '../store/types.js';
import type { PerMetric } from './per-metric.js';

/** What retention needs from one partition's state (PartitionState implements it). */
export interface RetentionPartition {
  readonly partition: number;
  readonly index: SeriesIndex;
  /** Changes whenever a flush commits: blocks may have appeared since retention last looked. */
  readonly flushGeneration: number;
  /** True when the in-memory head (being flushed or not) holds points of the series. */
  hasHeadPoints(seriesId: number): boolean;
  /** Drops per-series memory (last-value caches) of series the index no longer has. */
  forgetSeries(ids: readonly number[]): void;
  /** Bumped after every deletion, so query caches keyed by (offset, version) notice. */
  dataVersion: number;
}

export interface RetentionOptions {
  /** Every store holding blocks, hot tier first (see "Races" in docs/series-index.md); the first holds the S keys. */
  stores: () => readonly KvStore[];
  partitions: () => Iterable<RetentionPartition>;
  /** Per metric, how long after its window ends a block is kept (0: forever). */
  retention: PerMetric;
  blockWindowMs: number;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Called once per deleted block, e.g. so tier statistics can follow. */
  onBlockDeleted?: (partition: number, storeIndex: number, key: Buffer, bytes: number) => void;
}

export interface RetentionResult {
  blocks: number;
  series: number;
}

export interface Retention {
  /** One pass over every partition; concurrent calls share the pass in progress. */
  runOnce(): Promise<RetentionResult>;
  /** Runs every `intervalMs` until stop(). */
  start(intervalMs: number): void;
  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void>;
}

/** Series checked between two removals: small enough that a flush rarely lands in between (which defers them). */
const CHUNK = 128;
/** Runs during which the block ranges of removed series are cleared again (see "Races" in docs/series-index.md). */
const SWEEP_RUNS = 2;
/** A full pass (every series scanned) at least every this many passes, even when no window expired. */
const FULL_EVERY = 10;
const MIN_WINDOW = Number.MIN_SAFE_INTEGER;
const MAX_WINDOW = Number.MAX_SAFE_INTEGER;

/**
 * Retention (docs/series-index.md "Retention"): deletes blocks whose window ended before now − retention(metric),
 * then series with nothing left (no block in any store, nothing in the head) in two passes in a row. Crash-safe by
 * order: blocks go first (synced), S keys after, so a kill -9 anywhere leaves at worst a series without blocks, never
 * blocks without a series (a later pass removes it). Series ids are never reused: the index keeps counting.
 */
export function createRetention(opts: RetentionOptions): Retention {
  const log = opts.logger.child({ component: 'retention' });
  const w = opts.blockWindowMs;
  let running: Promise<RetentionResult> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopping = false;
  /** partition → series removed in recent runs, with runs left to sweep their block ranges. */
  const sweep = new Map<number, Array<{ ids: number[]; runsLeft: number }>>();
  /** Partitions that had their first pass (which checks every series for emptiness). */
  const checked = new Set<number>();
  /** partition → series the previous pass found empty (removed if this pass finds them empty again). */
  const seenEmpty = new Map<number, Set<number>>();
  /** partition → cutoff windows of its last full pass, and passes since. */
  const lastFull = new Map<number, { cutoffs: string; passes: number }>();

  /** The first kept window of every retention in use, as one string: it changes when some window expires. */
  const cutoffsAt = (now: number): string =>
    [opts.retention.fallback, ...opts.retention.overrides.values()]
      .filter((r) => r > 0)
      .map((r) => Math.floor((now - r) / w) * w)
      .join(',');

  async function sweepRemoved(p: number, stores: readonly KvStore[]): Promise<void> {
    const entries = sweep.get(p);
    if (!entries) return;
    for (const e of entries) {
      for (const store of stores) {
        for (const id of e.ids) await store.clearRange({ gte: blockKey(p, id, MIN_WINDOW, 0), lt: blockKey(p, id, MAX_WINDOW, 0) });
      }
      e.runsLeft--;
    }
    const left = entries.filter((e) => e.runsLeft > 0);
    if (left.length > 0) sweep.set(p, left);
    else sweep.delete(p);
  }

  async function hasBlocks(store: KvStore, p: number, id: number, fromWindow: number): Promise<boolean> {
    for await (const _ of store.iterate({ gte: blockKey(p, id, fromWindow, 0), lt: blockKey(p, id, MAX_WINDOW, 0), limit: 1 })) return true;
    return false;
  }

  /** Expired block keys of one series in one store (one range scan). */
  async function expiredKeys(store: KvStore, p: number, id: number, kept: number): Promise<Array<[Buffer, number]>> {
    const out: Array<[Buffer, number]> = [];
    for await (const [k, v] of store.iterate({ gte: blockKey(p, id, MIN_WINDOW, 0), lt: blockKey(p, id, kept, 0) })) out.push([k, v.length]);
    return out;
  }

  /** Whether a series has a block at or after `kept` in any store. Hot first: a hot → cold move writes cold before
   * deleting hot, so a block in flight is seen in one of them. */
  async function anyLeft(stores: readonly KvStore[], p: number, id: number, kept: number): Promise<boolean> {
    for (const store of stores) if (await hasBlocks(store, p, id, kept)) return true;
    return false;
  }

  async function runPartition(part: RetentionPartition, now: number, stores: readonly KvStore[]): Promise<RetentionResult> {
    const p = part.partition;
    const out = { blocks: 0, series: 0 };
    await sweepRemoved(p, stores);
    // Which series may have nothing left: all of them on the first pass (a crash may have left series without blocks),
    // then those this pass deletes blocks of and those the previous pass found empty.
    const firstPass = !checked.has(p);
    const before = seenEmpty.get(p) ?? new Set<number>();
    const after = new Set<number>();
    // Every series is scanned when a window expired since the last full pass (and every FULL_EVERY passes, for late
    // blocks written into expired windows); in between only the series the previous pass found empty.
    const cutoffs = cutoffsAt(now);
    const last = lastFull.get(p);
    const full = firstPass || !last || last.cutoffs !== cutoffs || last.passes + 1 >= FULL_EVERY;
    const all = full ? part.index.select([]) : [...before].flatMap((id) => part.index.get(id) ?? []);
    for (let c = 0; c < all.length && !stopping; c += CHUNK) {
      const chunk: Array<{ id: number; kept: number }> = [];
      for (const s of all.slice(c, c + CHUNK)) {
        const keep = opts.retention.of(s.metric);
        if (keep !== 0) chunk.push({ id: s.id, kept: Math.floor((now - keep) / w) * w });
      }
      // 1. Expired blocks, every store, committed (synced) before any S key of this chunk is touched. The scans of a
      // chunk run concurrently: each is a native round trip, and most find nothing.
      const maybeEmpty = new Map<number, number>();
      for (const { id, kept } of chunk) if (firstPass || before.has(id)) maybeEmpty.set(id, kept);
      for (const [si, store] of stores.entries()) {
        const found = await Promise.all(chunk.map(({ id, kept }) => expiredKeys(store, p, id, kept)));
        const ops: BatchOp[] = [];
        found.forEach((keys, i) => {
          if (keys.length > 0) maybeEmpty.set(chunk[i]!.id, chunk[i]!.kept);
          for (const [key, bytes] of keys) {
            ops.push({ type: 'del', key });
            opts.onBlockDeleted?.(p, si, key, bytes);
          }
        });
        if (ops.length > 0) {
          await store.batch(ops, { sync: true });
          part.dataVersion++;
          out.blocks += ops.length;
          opts.metrics.retentionBlocksDeleted.inc(ops.length);
        }
      }
      // 2. Series with nothing left. The flush generation is taken before looking, so a flush that commits blocks
      // of a candidate while we look (its points were in the head) shows up as a changed generation.
      const generation = part.flushGeneration;
      const looked = [...maybeEmpty].filter(([id]) => !part.hasHeadPoints(id));
      const left = await Promise.all(looked.map(([id, kept]) => anyLeft(stores, p, id, kept)));
      const empty = looked.filter((_, i) => !left[i]).map(([id]) => id);
      if (empty.length === 0) continue;
      // 3. A series is removed when found empty by two passes in a row: a compaction or a move that read its blocks
      // before step 1 deleted them may write one back after this pass looked, but not a whole interval later.
      // A flush that committed while we looked defers every candidate of the chunk.
      const quiet = part.flushGeneration === generation;
      if (!quiet) log.debug({ partition: p, candidates: empty.length }, 'a flush committed while checking series; their removal waits');
      const ripe = empty.filter((id) => quiet && before.has(id));
      for (const id of empty) if (!(quiet && before.has(id))) after.add(id);
      // Synchronously (no await between the check and the index change), so no point can join them meanwhile.
      const gone = ripe.filter((id) => !part.hasHeadPoints(id));
      part.index.remove(gone);
      part.forgetSeries(gone);
      if (gone.length === 0) continue;
      part.dataVersion++;
      await stores[0]!.batch(gone.map((id) => ({ type: 'del', key: seriesKey(p, id) })), { sync: true });
      out.series += gone.length;
      opts.metrics.retentionSeriesDeleted.inc(gone.length);
      const entries = sweep.get(p) ?? [];
      entries.push({ ids: gone, runsLeft: SWEEP_RUNS });
      sweep.set(p, entries);
    }
    if (stopping) return out;
    if (after.size > 0) seenEmpty.set(p, after);
    else seenEmpty.delete(p);
    checked.add(p);
    lastFull.set(p, full ? { cutoffs, passes: 0 } : { cutoffs: last!.cutoffs, passes: last!.passes + 1 });
    return out;
  }

  async function pass(): Promise<RetentionResult> {
    const total = { blocks: 0, series: 0 };
    if (opts.retention.off) return total;
    const started = performance.now();
    const now = opts.clock.now();
    const stores = opts.stores();
    try {
      for (const part of opts.partitions()) {
        const r = await runPartition(part, now, stores);
        total.blocks += r.blocks;
        total.series += r.series;
      }
    } catch (e) {
      opts.metrics.retentionRuns.inc({ outcome: 'error' });
      throw e;
    }
    opts.metrics.retentionRuns.inc({ outcome: 'ok' });
    opts.metrics.retentionDuration.observe((performance.now() - started) / 1000);
    if (total.blocks > 0 || total.series > 0) log.info({ ...total, ms: Math.round(performance.now() - started) }, 'retention deleted expired data');
    return total;
  }

  const runOnce = (): Promise<RetentionResult> => {
    running ??= pass().finally(() => {
      running = null;
    });
    return running;
  };

  return {
    runOnce,
    start(intervalMs) {
      if (timer || opts.retention.off) return;
      timer = setInterval(() => {
        runOnce().catch((e: unknown) => log.error({ err: (e as Error).message }, 'retention run failed; retrying next interval'));
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      stopping = true;
      if (timer) clearInterval(timer);
      timer = null;
      await running?.catch(() => undefined);
    },
  };
}
