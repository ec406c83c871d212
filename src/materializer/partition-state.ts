import { decodeLogRecordColumns, type SeriesBatch } from '../codec/avro-record.js';
import type { SeriesMemo } from '../codec/series-memo.js';
import { inlineSealer, type Sealer } from './seal-pool.js';
import { isTsdbError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { Metrics } from '../common/metrics.js';
import { parseSeriesKey } from '../common/series-key.js';
import type { LogRecord } from '../log/types.js';
import type { PointColumns, ReadPartsOptions, SeriesParts } from '../store/read-model.js';
import { blockRange, decodeBlockKey, decodeState, partitionBlockRange, seriesIdOf, seriesRange, stateKey } from '../store/row-keys.js';
import type { BlockCache } from '../store/block-cache.js';
import { SeriesIndex } from '../store/series-index.js';
import type { KvStore } from '../store/types.js';
import { scanTiers, scanTiersMany, type StoredBlock, type Tier } from './block-runs.js';
import { clearIntent, recoverCold, withIntent } from './cold-intents.js';
import { blockWeight } from './compactor.js';
import { decodeStored } from './decode-stored.js';
import { Head } from './head.js';
import { flushBatch, mergeHeads } from './head-flush.js';
import { HotTierProbe } from './hot-tier-probe.js';
import { LastValues, readStoredLast } from './last-values.js';
import { mergeLogOrdered } from './merge-points.js';
import type { PerMetric } from './per-metric.js';
import type { PartitionStateOptions, SetAsideRecord } from './partition-state-options.js';
import { applyRecord, checkRecord } from './record-check.js';
import { seriesParts } from './series-parts.js';
import { WindowTracker } from './window-tracker.js';

export type { PartitionStateOptions, SetAsideRecord } from './partition-state-options.js';

/**
 * The materialized state of one partition: series index, head, and the offset it reached. The store always holds
 * a consistent (blocks, series, offset) triple because a flush writes all three in one atomic batch; after a crash
 * the head is rebuilt by replaying the log from the stored offset, so every record is applied exactly once.
 */
export class PartitionState {
  readonly partition: number;
  readonly index: SeriesIndex;
  private readonly store: KvStore;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly window: number;
  private readonly label: { partition: string };
  private readonly onSetAside: ((r: SetAsideRecord) => void) | undefined;
  private readonly seriesLimits: PerMetric | undefined;
  private readonly seriesMemo: SeriesMemo | undefined;
  readonly hot: KvStore;
  readonly cold: KvStore | undefined;
  readonly hotDurationMs: number;
  /** Rollup resolutions (ms) of sealed cold blocks (compactor.ts). */
  readonly rollupsMs: readonly number[];
  readonly sealer: Sealer;
  readonly windowMs: number;
  readonly now: () => number;
  private readonly blockCache: BlockCache<PointColumns> | undefined;
  /** Blocks per (series, window) and tier that may need compaction or a move; rebuilt by scanBlocks(). */
  readonly tracker = new WindowTracker();
  /** Blocks and bytes per tier (exact once scanBlocks() ran). */
  readonly tierStats = { hot: { blocks: 0, bytes: 0 }, cold: { blocks: 0, bytes: 0 } };
  scanned = false;
  private readonly hotProbe: HotTierProbe;
  /** The last-value index (last-values.ts). */
  private readonly last: LastValues;
  /** A flush wrote cold blocks whose hot batch has not committed (yet): compaction and moves wait. */
  private pendingIntent = false;

  /** Next offset to apply. */
  nextOffset = 0;
  /** Next offset that is durable in the store (what a restart resumes from). */
  durableOffset = 0;
  private flushSeq = 0;
  private persistedSeries = 0;
  private active: Head;
  private frozen: Head | null = null;
  private flushing: Promise<void> | null = null;
  private waiters: Array<{ offset: number; resolve: () => void }> = [];

  constructor(opts: PartitionStateOptions) {
    this.partition = opts.partition;
    this.store = opts.store;
    this.log = opts.logger.child({ partition: opts.partition });
    this.metrics = opts.metrics;
    this.window = opts.blockWindowMs;
    this.active = new Head(opts.blockWindowMs);
    this.index = new SeriesIndex(opts.partition);
    this.label = { partition: String(opts.partition) };
    this.onSetAside = opts.onSetAside;
    this.seriesLimits = opts.seriesLimits;
    this.seriesMemo = opts.seriesMemo;
    this.hot = opts.store;
    this.cold = opts.coldStore;
    this.hotDurationMs = opts.hotDurationMs ?? 0;
    this.rollupsMs = opts.rollupsMs ?? [];
    this.sealer = opts.sealer ?? inlineSealer;
    this.windowMs = opts.blockWindowMs;
    this.now = opts.now ?? Date.now;
    this.blockCache = opts.blockCache;
    this.hotProbe = new HotTierProbe(this.hot, this.partition, this.log);
    this.last = new LastValues((id) => readStoredLast(this.hot, this.cold, this.partition, id, (b) => this.decodeStored(b)));
  }

  /** True when points of this window go to (and its blocks belong in) the cold tier. */
  isColdWindow(window: number): boolean {
    return this.cold !== undefined && this.hotDurationMs > 0 && window + this.window <= this.now() - this.hotDurationMs;
  }

  /** Loads the durable state: offset, flush sequence and every series. */
  async load(): Promise<void> {
    const raw = await this.store.get(stateKey(this.partition));
    await recoverCold(this.cold, this.partition, raw ? decodeState(raw).flushSeq : undefined, this.log);
    if (raw) {
      const s = decodeState(raw);
      this.nextOffset = this.durableOffset = s.nextOffset;
      this.flushSeq = s.flushSeq;
      for await (const [k, v] of this.store.iterate(seriesRange(this.partition))) {
        const id = seriesIdOf(k);
        if (id >= s.nextSeriesId) break; // never happens with atomic flushes; guards against a foreign writer
        const key = v.toString('utf8');
        const { metric, tags } = parseSeriesKey(key);
        this.index.add(id, key, metric, tags);
      }
      // Retention removes series but never reuses their ids, so ids below nextSeriesId may be missing.
      this.index.reserve(s.nextSeriesId);
    }
    this.persistedSeries = this.index.size;
    this.last.reset(this.index.size);
    this.metrics.appliedOffset.set(this.label, this.nextOffset);
    this.metrics.headSeries.set(this.label, this.index.live);
  }

  /** True when the store holds nothing of this partition and nothing was applied yet. */
  get isEmpty(): boolean {
    return this.durableOffset === 0 && this.nextOffset === 0 && this.index.size === 0;
  }

  /** Starts an empty partition at `offset` (the log's retention already dropped what came before). */
  startAt(offset: number): void {
    if (!this.isEmpty) throw new Error(`cannot start partition ${this.partition} at offset ${offset}: it already holds state`);
    this.nextOffset = this.durableOffset = offset;
    this.metrics.appliedOffset.set(this.label, offset);
  }

  get headPoints(): number {
    return this.active.points + (this.frozen?.points ?? 0);
  }

  /** Encoded bytes of the heads (active + frozen) and of the frozen one alone, for the memory budget (head-budget.ts). */
  headBytes(): { total: number; frozen: number } {
    const frozen = this.frozen?.byteLength() ?? 0;
    return { total: this.active.byteLength() + frozen, frozen };
  }

  /** Applies records in offset order. Records that do not decode are counted, logged and skipped. */
  apply(records: LogRecord[]): void {
    let points = 0;
    for (const rec of records) {
      if (rec.offset !== this.nextOffset) {
        throw new Error(`cannot apply record (partition ${this.partition}, offset ${rec.offset}): expected offset ${this.nextOffset}`);
      }
      let batch: SeriesBatch;
      try {
        batch = decodeLogRecordColumns(rec.value, this.seriesMemo);
      } catch (e) {
        this.setAside(rec, isTsdbError(e) ? e.code : 'TSDB_ERR_INTERNAL', (e as Error).message);
        this.nextOffset = rec.offset + 1;
        continue;
      }
      // Check the whole record before applying any of it (record-check.ts).
      const ids = this.scratchIds;
      const bad = checkRecord(batch, this.index, this.seriesLimits, ids);
      if (bad !== undefined) {
        this.setAside(rec, bad.reason, bad.problem);
      } else {
        applyRecord(batch, ids, this.index, this.active, this.last);
        points += batch.seriesIndex.length;
      }
      this.nextOffset = rec.offset + 1;
    }
    this.metrics.appliedRecords.inc(this.label, records.length);
    this.metrics.appliedPoints.inc(points);
    this.metrics.appliedOffset.set(this.label, this.nextOffset);
    this.metrics.headPoints.set(this.label, this.headPoints);
    this.metrics.headSeries.set(this.label, this.index.live);
    this.wake();
  }

  /** Writes the head as blocks plus the new series and the offset, in one atomic, synced batch. */
  flush(reason: string): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.active.points === 0 && this.nextOffset === this.durableOffset) return Promise.resolve();
    this.flushing = this.doFlush(reason).finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async doFlush(reason: string): Promise<void> {
    const started = performance.now();
    const head = (this.frozen = this.active);
    this.active = new Head(this.window);
    const nextOffset = this.nextOffset;
    const seriesCount = this.index.size;
    const seq = this.flushSeq;
    const { ops, coldOps, written, bytes } = flushBatch({
      partition: this.partition,
      head,
      seq,
      isColdWindow: (w) => this.isColdWindow(w),
      index: this.index,
      persistedSeries: this.persistedSeries,
      seriesCount,
      nextOffset,
    });
    try {
      if (coldOps.length > 0) {
        // Cold first, with an intent naming its keys, then the hot batch that commits the flush (cold-intents.ts).
        const cold = withIntent(this.partition, seq, coldOps);
        this.pendingIntent = true;
        await this.cold!.batch(cold, { sync: true });
      }
      await this.store.batch(ops, { sync: true });
    } catch (e) {
      // Put the frozen points back in front of whatever arrived since, so nothing is lost and order is kept.
      this.active = mergeHeads(head, this.active);
      this.frozen = null;
      throw e;
    }
    this.flushSeq = seq + 1;
    if (coldOps.length > 0) {
      this.pendingIntent = false;
      await clearIntent(this.cold!, this.partition, seq, this.log);
    }
    for (const w of written) {
      this.tracker.add(w.tier, w.id, w.window, w.weight);
      this.account(w.tier, 1, w.bytes);
    }
    this.persistedSeries = seriesCount;
    this.durableOffset = nextOffset;
    this.frozen = null;
    this.metrics.flushes.inc({ reason });
    this.metrics.flushLatency.observe((performance.now() - started) / 1000);
    this.metrics.flushedBytes.inc(bytes);
    this.metrics.headPoints.set(this.label, this.headPoints);
    this.log.debug({ reason, points: head.points, series: head.series.size, bytes, nextOffset }, 'flushed head');
  }

  /** Points of one series in [start, end), ascending, last write wins. */
  async read(seriesId: number, start: number, end: number): Promise<PointColumns> {
    if (end <= start) return { ts: [], vs: [] };
    const { blocks, heads } = await this.collectRuns(seriesId, start, end);
    const runs: PointColumns[] = blocks.map((b) => this.decodeStored(b));
    runs.push(...heads);
    return mergeLogOrdered(runs, start, end);
  }

  /**
   * Query hook (owned by the query side, docs/query-semantics.md "Block summaries"): like read, but whole blocks
   * that need no decoding come back as header summaries. Blocks and heads are captured in the same tick, as in read.
   */
  async readParts(seriesId: number, start: number, end: number, opts: ReadPartsOptions): Promise<SeriesParts> {
    if (end <= start) return { summaries: [], points: { ts: [], vs: [] }, decodedBlocks: 0 };
    const { blocks, heads } = await this.collectRuns(seriesId, start, end);
    return this.partsOf(blocks, heads, start, end, opts);
  }

  /**
   * readParts of several series (answers in the order asked), from one snapshot per tier: every head is captured and
   * both tiers' scanners are opened in the same tick (as collectRuns does for one series), then each series costs a
   * seek per tier instead of an iterator per tier (scanTiersMany).
   */
  async readPartsMany(seriesIds: readonly number[], start: number, end: number, opts: ReadPartsOptions): Promise<SeriesParts[]> {
    if (end <= start) return seriesIds.map(() => ({ summaries: [], points: { ts: [], vs: [] }, decodedBlocks: 0 }));
    const order = seriesIds.map((_, i) => i).sort((a, b) => seriesIds[a]! - seriesIds[b]!);
    const heads = order.map((i) => this.headRuns(seriesIds[i]!));
    const w = this.window;
    const firstWindow = Math.floor(start / w) * w;
    const lastWindow = Math.floor((end - 1) / w) * w;
    const ranges = order.map((i) => blockRange(this.partition, seriesIds[i]!, firstWindow, lastWindow + w));
    // A sealed series has one block per window: that many, plus one to see the range end, in one store read.
    const expected = Math.min(1024, (lastWindow - firstWindow) / w + 1);
    const blocks = await scanTiersMany(this.hotHolds(lastWindow) ? this.hot : undefined, this.cold, ranges, expected);
    const out = new Array<SeriesParts>(seriesIds.length);
    for (let k = 0; k < order.length; k++) out[order[k]!] = this.partsOf(blocks[k]!, heads[k]!, start, end, opts);
    return out;
  }

  private partsOf(blocks: StoredBlock[], heads: PointColumns[], start: number, end: number, opts: ReadPartsOptions): SeriesParts {
    const parts = seriesParts(
      blocks.map((b) => b.value),
      heads,
      start,
      end,
      opts,
      (i) => this.decodeStored(blocks[i]!),
    );
    if (parts.rollupBlocks) this.metrics.queryBlocks.inc({ source: 'rollup' }, parts.rollupBlocks);
    return parts;
  }

  /**
   * Everything a read of one series in [start, end) merges, in log order: the encoded blocks of both tiers whose
   * window overlaps the range (see scanTiers), then the frozen and the active head run. Heads are read and both
   * store iterators opened in the same tick, so no flush, compaction or move can commit in between: a point is in a
   * captured head, in a snapshot, or (harmlessly, same value) in both.
   */
  collectRuns(seriesId: number, start: number, end: number): Promise<{ blocks: StoredBlock[]; heads: PointColumns[] }> {
    const heads = this.headRuns(seriesId);
    const w = this.window;
    const lastWindow = Math.floor((end - 1) / w) * w;
    const range = blockRange(this.partition, seriesId, Math.floor(start / w) * w, lastWindow + w);
    return scanTiers(this.hotHolds(lastWindow) ? this.hot : undefined, this.cold, range).then((blocks) => ({ blocks, heads }));
  }

  /**
   * The series' head runs in log order: frozen (while a flush writes it), then active; each head gives one run per
   * window (windows do not overlap in time, so only the frozen-then-active order matters).
   */
  private headRuns(seriesId: number): PointColumns[] {
    const heads: PointColumns[] = this.frozen ? this.frozen.read(seriesId) : [];
    for (const run of this.active.read(seriesId)) heads.push(run);
    return heads;
  }

  /**
   * False when the hot tier cannot hold a block of any window up to `lastWindow`, so reads skip its iterator (store
   * round trips per series). Only when that window is cold (so are all before it: flushes write their points to
   * cold, compaction moves hot blocks out, never in) and no hot block is counted: exactly (tierStats once scanBlocks
   * ran) or, before that, since a probe saw the hot tier empty. A flush that wrote hot blocks (the window was hot when
   * it began) counts them only after they commit, but until then their points are in the frozen head, which the read
   * captures; moves, seals and retention count removals only after committing them.
   */
  private hotHolds(lastWindow: number): boolean {
    if (!this.isColdWindow(lastWindow)) return true;
    return this.hotProbe.mayHold(this.tierStats.hot.blocks, this.scanned);
  }

  /** Forgets a decoded copy of a block that compaction, a move or retention replaced or deleted. */
  invalidateBlock(key: Buffer): void {
    // Both tiers share one key space in the cache: entries are only served for identical raw bytes, so a hot and a
    // cold copy of one key (a move in progress) never answer for each other.
    this.blockCache?.delete(key);
  }

  /** Decodes a stored block (through the decoded-block cache when there is one). */
  decodeStored(b: StoredBlock): PointColumns {
    return decodeStored(this.blockCache, b);
  }

  /**
   * Runs `open` once no flush is in flight and no flush left uncommitted cold blocks, in the same tick as that
   * check, so iterators it opens see every flush either wholly committed or not at all. Undefined: not now.
   */
  async whenQuiet<T>(open: () => T): Promise<T | undefined> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.pendingIntent) return undefined;
    return open();
  }

  account(tier: Tier, blocks: number, bytes: number): void {
    const t = this.tierStats[tier];
    t.blocks += blocks;
    t.bytes += bytes;
    this.metrics.storeBlocks.set({ partition: String(this.partition), tier }, t.blocks);
    this.metrics.storeBlockBytes.set({ partition: String(this.partition), tier }, t.bytes);
  }

  /**
   * Rebuilds the tracker and the per-tier statistics from the stores (once, in the background after start).
   * Flushes may run meanwhile: they add keys the scan's snapshots do not hold, and count them themselves.
   */
  async scanBlocks(): Promise<boolean> {
    const range = partitionBlockRange(this.partition);
    const scans = await this.whenQuiet(() => {
      this.hotProbe.countsRestarted(); // counts restart from zero: a hot probe's baseline no longer applies
      this.tracker.clear();
      for (const tier of ['hot', 'cold'] as const) {
        this.tierStats[tier].blocks = this.tierStats[tier].bytes = 0;
      }
      return ([['hot', this.hot], ['cold', this.cold]] as const).flatMap(([tier, store]) => {
        if (!store) return [];
        const it = store.iterate(range)[Symbol.asyncIterator]();
        return [{ tier, it, first: it.next() }];
      });
    });
    if (!scans) return false;
    for (const { tier, it, first } of scans) {
      let blocks = 0;
      let bytes = 0;
      for (let r = await first; !r.done; r = await it.next()) {
        const k = decodeBlockKey(r.value[0]);
        this.tracker.add(tier, k.seriesId, k.windowStart, blockWeight(tier, r.value[1]));
        blocks++;
        bytes += r.value[1].length;
      }
      this.account(tier, blocks, bytes);
    }
    this.scanned = true;
    return true;
  }

  /**
   * The newest point of a series: from the in-memory last-value index, or, for series not written since start,
   * from the newest stored window (read once, then remembered).
   */
  lastPoint(seriesId: number): Promise<{ t: number; v: number } | undefined> {
    return this.last.lastPoint(seriesId);
  }

  /** Per series of a record: a known series id, or the canonical key of a series the record creates. */
  private readonly scratchIds: Array<number | string> = [];

  private setAside(rec: LogRecord, reason: string, why: string): void {
    this.metrics.undecodable.inc({ reason });
    this.log.warn({ offset: rec.offset, bytes: rec.value.length, reason, err: why }, 'record set aside');
    this.onSetAside?.({ partition: this.partition, offset: rec.offset, value: rec.value, reason, message: why });
  }

  // Retention hooks (RetentionPartition in src/materializer/retention.ts).
  /** Bumped after retention deleted data, so cached answers keyed by (offset, version) are not served again. */
  dataVersion = 0;

  /** Changes whenever a flush commits. */
  get flushGeneration(): number {
    return this.flushSeq;
  }

  hasHeadPoints(seriesId: number): boolean {
    return this.active.series.has(seriesId) || (this.frozen?.series.has(seriesId) ?? false);
  }

  forgetSeries(ids: readonly number[]): void {
    for (const id of ids) this.last.forget(id);
    this.metrics.headSeries.set(this.label, this.index.live);
  }

  /** Resolves once nextOffset > offset. */
  waitFor(offset: number): Promise<void> {
    if (this.nextOffset > offset) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ offset, resolve }));
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) (this.nextOffset > w.offset ? w.resolve() : still.push(w));
    this.waiters = still;
  }
}
