import { decodeLogRecordColumns, type SeriesBatch } from '../codec/avro-record.js';
import { decodeBlock } from '../codec/block.js';
import { decodeGorilla } from '../codec/gorilla.js';
import { loggedSampleProblem, loggedSeriesProblem } from '../codec/validate-points.js';
import { isTsdbError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { Metrics } from '../common/metrics.js';
import { canonicalSeriesKey, parseSeriesKey } from '../common/series-key.js';
import type { LogRecord } from '../log/types.js';
import type { PointColumns, ReadPartsOptions, SeriesParts } from '../store/read-model.js';
import {
  blockKey,
  blockRange,
  coldPartitionRanges,
  decodeBlockKey,
  decodeIntent,
  decodeState,
  encodeIntent,
  encodeState,
  intentKey,
  intentRange,
  intentSeqOf,
  partitionBlockRange,
  seriesIdOf,
  seriesKey,
  seriesRange,
  stateKey,
  windowRange,
} from '../store/row-keys.js';
import type { BlockCache } from '../store/block-cache.js';
import { SeriesIndex } from '../store/series-index.js';
import type { BatchOp, KvStore } from '../store/types.js';
import { scanTiers, type StoredBlock, type Tier } from './block-runs.js';
import { blockWeight, encodeBlockFor } from './compactor.js';
import { cardinalityProblem } from './cardinality.js';
import { Head } from './head.js';
import { mergeLogOrdered } from './merge-points.js';
import type { PerMetric } from './per-metric.js';
import { seriesParts } from './series-parts.js';
import { WindowTracker } from './window-tracker.js';

export interface PartitionStateOptions {
  partition: number;
  store: KvStore;
  logger: Logger;
  metrics: Metrics;
  blockWindowMs: number;
  /** Cold tier (docs/storage-lifecycle.md); absent: every block stays in `store`. */
  coldStore?: KvStore;
  /** Windows that ended more than this long ago are cold (0: none is). */
  hotDurationMs?: number;
  /** Wall clock in ms (decides which windows are cold). */
  now?: () => number;
  /** Decoded-block cache shared by the partitions of a process. */
  blockCache?: BlockCache<PointColumns>;
  /** Called for every record that is set aside (does not decode or breaks a point invariant). */
  onSetAside?: (r: SetAsideRecord) => void;
  /** Per-metric cap on series in this partition (docs/series-index.md); absent: unlimited. */
  seriesLimits?: PerMetric;
}

export interface SetAsideRecord {
  partition: number;
  offset: number;
  value: Buffer;
  reason: string;
  message: string;
}

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
  readonly hot: KvStore;
  readonly cold: KvStore | undefined;
  readonly hotDurationMs: number;
  readonly windowMs: number;
  readonly now: () => number;
  private readonly blockCache: BlockCache<PointColumns> | undefined;
  /** Blocks per (series, window) and tier that may need compaction or a move; rebuilt by scanBlocks(). */
  readonly tracker = new WindowTracker();
  /** Blocks and bytes per tier (exact once scanBlocks() ran). */
  readonly tierStats = { hot: { blocks: 0, bytes: 0 }, cold: { blocks: 0, bytes: 0 } };
  scanned = false;
  /** Bumped when scanBlocks resets tierStats. */
  private statsEpoch = 0;
  /** Whether the hot tier held no block when `base` hot blocks were counted (see hotHolds); before scanBlocks ran. */
  private hotProbe: { epoch: number; base: number; empty: boolean | undefined } | undefined;
  /** A flush wrote cold blocks whose hot batch has not committed (yet): compaction and moves wait. */
  private pendingIntent = false;

  /** Next offset to apply. */
  nextOffset = 0;
  /** Next offset that is durable in the store (what a restart resumes from). */
  durableOffset = 0;
  private flushSeq = 0;
  private persistedSeries = 0;
  private active = new Head();
  private frozen: Head | null = null;
  private flushing: Promise<void> | null = null;
  private waiters: Array<{ offset: number; resolve: () => void }> = [];

  constructor(opts: PartitionStateOptions) {
    this.partition = opts.partition;
    this.store = opts.store;
    this.log = opts.logger.child({ partition: opts.partition });
    this.metrics = opts.metrics;
    this.window = opts.blockWindowMs;
    this.index = new SeriesIndex(opts.partition);
    this.label = { partition: String(opts.partition) };
    this.onSetAside = opts.onSetAside;
    this.seriesLimits = opts.seriesLimits;
    this.hot = opts.store;
    this.cold = opts.coldStore;
    this.hotDurationMs = opts.hotDurationMs ?? 0;
    this.windowMs = opts.blockWindowMs;
    this.now = opts.now ?? Date.now;
    this.blockCache = opts.blockCache;
  }

  /** True when points of this window go to (and its blocks belong in) the cold tier. */
  isColdWindow(window: number): boolean {
    return this.cold !== undefined && this.hotDurationMs > 0 && window + this.window <= this.now() - this.hotDurationMs;
  }

  /**
   * Cold blocks a flush wrote before its hot batch belong to the store only if that hot batch committed (its
   * flushSeq is below the stored one). Without a stored state (new or wiped hot store) nothing in cold belongs.
   */
  private async recoverCold(flushSeq: number | undefined): Promise<void> {
    const cold = this.cold;
    if (!cold) return;
    if (flushSeq === undefined) {
      for (const r of coldPartitionRanges(this.partition)) await cold.clearRange(r);
      return;
    }
    const ops: BatchOp[] = [];
    let dropped = 0;
    for await (const [k, v] of cold.iterate(intentRange(this.partition))) {
      if (intentSeqOf(k) >= flushSeq) {
        for (const key of decodeIntent(v)) ops.push({ type: 'del', key: Buffer.from(key) });
        dropped++;
      }
      ops.push({ type: 'del', key: k });
    }
    if (ops.length > 0) await cold.batch(ops, { sync: true });
    if (dropped > 0) this.log.warn({ flushes: dropped, flushSeq }, 'removed cold blocks of flushes whose hot batch never committed');
  }

  /** Loads the durable state: offset, flush sequence and every series. */
  async load(): Promise<void> {
    const raw = await this.store.get(stateKey(this.partition));
    await this.recoverCold(raw ? decodeState(raw).flushSeq : undefined);
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
    this.lastT = new Array<number>(this.index.size).fill(Number.NEGATIVE_INFINITY);
    this.lastV = new Array<number>(this.index.size).fill(0);
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

  /** Applies records in offset order. Records that do not decode are counted, logged and skipped. */
  apply(records: LogRecord[]): void {
    let points = 0;
    for (const rec of records) {
      if (rec.offset !== this.nextOffset) {
        throw new Error(`cannot apply record (partition ${this.partition}, offset ${rec.offset}): expected offset ${this.nextOffset}`);
      }
      let batch: SeriesBatch;
      try {
        batch = decodeLogRecordColumns(rec.value);
      } catch (e) {
        this.setAside(rec, isTsdbError(e) ? e.code : 'TSDB_ERR_INTERNAL', (e as Error).message);
        this.nextOffset = rec.offset + 1;
        continue;
      }
      // Check the whole record before applying any of it: a record is applied entirely or set aside entirely.
      // Series are resolved once per record (the batch's series table), not once per point.
      const { series, seriesIndex, timestamps, values } = batch;
      const n = seriesIndex.length;
      const ids = this.scratchIds;
      ids.length = series.length;
      let problem: string | undefined;
      for (let s = 0; s < series.length && problem === undefined; s++) {
        const ref = series[s]!;
        const key = batch.keys?.[s] ?? canonicalSeriesKey(ref.metric, ref.tags);
        const id = this.index.idOf(key);
        if (id === undefined) {
          problem = loggedSeriesProblem(ref.metric, ref.tags);
          if (problem !== undefined) problem = `series ${s}: ${problem}`;
        }
        ids[s] = id ?? key;
      }
      for (let i = 0; i < n && problem === undefined; i++) {
        const t = timestamps[i]!;
        const v = values[i]!;
        if (Number.isSafeInteger(t) && v - v === 0) continue;
        problem = `point ${i}: ${loggedSampleProblem(t, v)!}`;
      }
      let reason = 'TSDB_ERR_WRITE_INVALID';
      // Per-metric series cap (src/materializer/cardinality.ts), after validation so an invalid record says so.
      if (problem === undefined && this.seriesLimits && (problem = cardinalityProblem(this.index, this.seriesLimits, series, ids, seriesIndex)) !== undefined) reason = 'TSDB_ERR_WRITE_CARDINALITY';
      if (problem !== undefined) {
        this.setAside(rec, reason, problem);
      } else {
        const lastT = this.lastT;
        const lastV = this.lastV;
        for (let i = 0; i < n; i++) {
          const s = seriesIndex[i]!;
          let id = ids[s]!;
          if (typeof id === 'string') {
            // Created on first use, so series ids follow log order and unused table entries create nothing.
            const known = this.index.idOf(id);
            if (known === undefined) {
              const ref = series[s]!;
              id = this.index.add(this.index.size, id, ref.metric, ref.tags).id;
              lastT.push(Number.NEGATIVE_INFINITY);
              lastV.push(0);
            } else id = known;
            ids[s] = id;
          }
          const t = timestamps[i]!;
          const v = values[i]!;
          this.active.append(id, t, v);
          // Last-value index: the newest timestamp wins; at an equal timestamp the later write wins.
          if (t >= lastT[id]!) {
            lastT[id] = t;
            lastV[id] = v;
          }
        }
        points += n;
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
    this.active = new Head();
    const nextOffset = this.nextOffset;
    const seriesCount = this.index.size;
    const seq = this.flushSeq;
    const ops: BatchOp[] = [];
    const coldOps: BatchOp[] = [];
    const written: Array<{ tier: Tier; id: number; window: number; bytes: number; weight: number }> = [];
    let bytes = 0;
    for (const [id, enc] of head.series) {
      const { ts, vs } = decodeGorilla(enc.view(), enc.count);
      for (const [window, cols] of this.splitByWindow(ts, vs)) {
        // A late point for a cold window goes straight to cold (docs/storage-lifecycle.md). Fragments use the
        // fast encoding in either tier: the heavy cold encoding is paid once, when the window is sealed.
        const tier: Tier = this.isColdWindow(window) ? 'cold' : 'hot';
        const value = encodeBlockFor('hot', cols.ts, cols.vs);
        bytes += value.length;
        (tier === 'cold' ? coldOps : ops).push({ type: 'put', key: blockKey(this.partition, id, window, seq), value });
        written.push({ tier, id, window, bytes: value.length, weight: blockWeight(tier, value) });
      }
    }
    for (let id = this.persistedSeries; id < seriesCount; id++) {
      ops.push({ type: 'put', key: seriesKey(this.partition, id), value: Buffer.from(this.index.get(id)!.key, 'utf8') });
    }
    ops.push({ type: 'put', key: stateKey(this.partition), value: encodeState({ nextOffset, flushSeq: seq + 1, nextSeriesId: seriesCount }) });
    try {
      if (coldOps.length > 0) {
        // No transaction spans two stores: cold first, with an intent naming its keys, then the hot batch that
        // commits the flush (offset included). load() drops the cold keys of an intent whose hot batch never
        // committed, so a crash in between leaves neither a lost nor a duplicated point.
        coldOps.push({ type: 'put', key: intentKey(this.partition, seq), value: encodeIntent(coldOps.map((o) => o.key)) });
        this.pendingIntent = true;
        await this.cold!.batch(coldOps, { sync: true });
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
      // Not synced: an intent left behind by a crash belongs to a committed flush (seq < stored flushSeq) and is
      // only deleted by load().
      await this.cold!.batch([{ type: 'del', key: intentKey(this.partition, seq) }]).catch((e: unknown) => {
        this.log.warn({ flushSeq: seq, err: (e as Error).message }, 'cannot delete a cold intent; load() will');
      });
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

  private splitByWindow(ts: number[], vs: number[]): Map<number, PointColumns> {
    const w = this.window;
    const first = Math.floor(ts[0]! / w) * w;
    let single = true;
    for (let i = 1; i < ts.length; i++) {
      if (ts[i]! < first || ts[i]! >= first + w) {
        single = false;
        break;
      }
    }
    if (single) return new Map([[first, { ts, vs }]]);
    const out = new Map<number, PointColumns>();
    for (let i = 0; i < ts.length; i++) {
      const win = Math.floor(ts[i]! / w) * w;
      let cols = out.get(win);
      if (!cols) out.set(win, (cols = { ts: [], vs: [] }));
      cols.ts.push(ts[i]!);
      cols.vs.push(vs[i]!);
    }
    return out;
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
    return seriesParts(
      blocks.map((b) => b.value),
      heads,
      start,
      end,
      opts,
      (i) => this.decodeStored(blocks[i]!),
    );
  }

  /**
   * Everything a read of one series in [start, end) merges, in log order: the encoded blocks of both tiers whose
   * window overlaps the range (see scanTiers), then the frozen and the active head run. Heads are read and both
   * store iterators opened in the same tick, so no flush, compaction or move can commit in between: a point is in a
   * captured head, in a snapshot, or (harmlessly, same value) in both.
   */
  collectRuns(seriesId: number, start: number, end: number): Promise<{ blocks: StoredBlock[]; heads: PointColumns[] }> {
    const heads: PointColumns[] = [];
    if (this.frozen) heads.push(this.frozen.read(seriesId));
    heads.push(this.active.read(seriesId));
    const w = this.window;
    const lastWindow = Math.floor((end - 1) / w) * w;
    const range = blockRange(this.partition, seriesId, Math.floor(start / w) * w, lastWindow + w);
    return scanTiers(this.hotHolds(lastWindow) ? this.hot : undefined, this.cold, range).then((blocks) => ({ blocks, heads }));
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
    if (this.scanned) return this.tierStats.hot.blocks !== 0;
    const p = this.hotProbe;
    if (p === undefined) {
      this.probeHot();
      return true;
    }
    return !(p.empty === true && p.epoch === this.statsEpoch && this.tierStats.hot.blocks === p.base);
  }

  /** Looks (once, in the background) whether the hot tier holds any block of this partition, see hotHolds. */
  private probeHot(): void {
    // The count and the store snapshot are taken in the same tick: a hot block not in the snapshot is counted later.
    const probe: { epoch: number; base: number; empty: boolean | undefined } = { epoch: this.statsEpoch, base: this.tierStats.hot.blocks, empty: undefined };
    this.hotProbe = probe;
    const it = this.hot.iterate({ ...partitionBlockRange(this.partition), limit: 1 })[Symbol.asyncIterator]();
    it.next()
      .then(async (r) => {
        probe.empty = r.done === true;
        if (!r.done) await it.return?.();
      })
      .catch((e: unknown) => this.log.debug({ err: (e as Error).message }, 'hot tier probe failed; reads keep scanning it'));
  }

  /** Forgets a decoded copy of a block that compaction, a move or retention replaced or deleted. */
  invalidateBlock(key: Buffer): void {
    // Both tiers share one key space in the cache: entries are only served for identical raw bytes, so a hot and a
    // cold copy of one key (a move in progress) never answer for each other.
    this.blockCache?.delete(key);
  }

  /** Decodes a stored block (through the decoded-block cache when there is one). */
  decodeStored(b: StoredBlock): PointColumns {
    if (this.blockCache) return this.blockCache.decode(b.key, b.value, decodeColumns, decodedColumnsBytes);
    return decodeColumns(b.value);
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
      this.statsEpoch++; // counts restart from zero: a hot probe's baseline no longer applies
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

  /** Last point per series among points applied since this process started (dense by series id). */
  private lastT: number[] = [];
  private lastV: number[] = [];
  /** Last point per series in the store, read once per series on demand (null: nothing stored). */
  private readonly storedLast = new Map<number, { t: number; v: number } | null>();

  /**
   * The newest point of a series: from the in-memory last-value index, or, for series not written since start,
   * from the newest stored window (read once, then remembered). Points applied since start are later in log order
   * than anything stored before, so on an equal timestamp the in-memory one wins.
   */
  async lastPoint(seriesId: number): Promise<{ t: number; v: number } | undefined> {
    let stored = this.storedLast.get(seriesId);
    if (stored === undefined) {
      stored = await this.readStoredLast(seriesId);
      this.storedLast.set(seriesId, stored);
    }
    const t = this.lastT[seriesId] ?? Number.NEGATIVE_INFINITY;
    if (t !== Number.NEGATIVE_INFINITY && (stored === null || t >= stored.t)) return { t, v: this.lastV[seriesId]! };
    return stored ?? undefined;
  }

  private async readStoredLast(seriesId: number, attempt = 0): Promise<{ t: number; v: number } | null> {
    const range = blockRange(this.partition, seriesId, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    let window: number | undefined;
    for (const store of [this.hot, this.cold]) {
      if (!store) continue;
      for await (const [k] of store.iterate({ ...range, reverse: true, limit: 1 })) {
        const w = decodeBlockKey(k).windowStart;
        if (window === undefined || w > window) window = w;
      }
    }
    if (window === undefined) return null;
    const blocks = await scanTiers(this.hot, this.cold, windowRange(this.partition, seriesId, window));
    // Deleted in between (retention): look again, the newest window is now another one.
    if (blocks.length === 0) return attempt < 3 ? this.readStoredLast(seriesId, attempt + 1) : null;
    const merged = mergeLogOrdered(
      blocks.map((b) => this.decodeStored(b)),
      Number.MIN_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER,
    );
    const n = merged.ts.length - 1;
    return { t: merged.ts[n]!, v: merged.vs[n]! };
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
    for (const id of ids) {
      this.lastT[id] = Number.NEGATIVE_INFINITY;
      this.storedLast.delete(id);
    }
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

/** estimateDecodedBytes of a decoded block ({ts, vs} of numbers), without walking its arrays. */
function decodedColumnsBytes(c: PointColumns): number {
  return 96 + 8 * (c.ts.length + c.vs.length);
}

function decodeColumns(raw: Buffer): PointColumns {
  const block = decodeBlock(raw);
  return { ts: block.ts, vs: block.vs };
}

/** A head holding `older`'s points followed by `newer`'s, per series, preserving log order. */
function mergeHeads(older: Head, newer: Head): Head {
  const out = new Head();
  for (const h of [older, newer]) {
    for (const [id, enc] of h.series) {
      const { ts, vs } = decodeGorilla(enc.view(), enc.count);
      for (let i = 0; i < ts.length; i++) out.append(id, ts[i]!, vs[i]!);
    }
  }
  return out;
}
