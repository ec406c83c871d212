import { SERIES_MEMO_ENTRIES, SeriesMemo } from '../codec/series-memo.js';
import type { Clock } from '../common/clock.js';
import { TsdbError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { Metrics } from '../common/metrics.js';
import type { DeadLetter, LogConsumer, PartitionedLog } from '../log/types.js';
import type { Matcher, PartitionReader, PointColumns, SeriesAdmission, SeriesInfo } from '../store/read-model.js';
import type { KvStore } from '../store/types.js';
import { createSeriesAdmission } from './cardinality.js';
import { createBlockCache } from '../store/block-cache.js';
import { createHeadBudget } from './head-budget.js';
import { PartitionState } from './partition-state.js';
import { perMetric, type PerMetric } from './per-metric.js';
import { createRetention, type RetentionResult } from './retention.js';
import { createSealPool } from './seal-pool.js';
import { startStorageJobs, type StorageJobs } from './storage-jobs.js';


export interface MaterializerOptions {
  /** Per-metric series cap (docs/series-index.md "Cardinality limit"); absent: unlimited. */
  seriesLimits?: PerMetric;
  /** Per-metric retention (docs/series-index.md "Retention"); absent: keep forever. */
  retention?: PerMetric;
  /** How often retention runs (default 1 min). */
  retentionIntervalMs?: number;
  log: PartitionedLog;
  store: KvStore;
  /** Partitions this node owns. */
  partitions: number[];
  logger: Logger;
  clock: Clock;
  metrics: Metrics;
  flushIntervalMs: number;
  /** A partition whose head holds more points flushes early, so memory stays bounded. */
  headMaxPoints: number;
  /** All partitions' heads together (frozen included) may hold this many bytes; over it the largest flush early (0 or absent: no budget). */
  headMaxBytes?: number;
  blockWindowMs: number;
  /** Cold tier (docs/storage-lifecycle.md); absent: no tiering, every block stays in `store`. */
  coldStore?: KvStore;
  /** Windows that ended longer ago than this belong in the cold tier (0: tiering off). */
  hotDurationMs?: number;
  /** Compaction and tiering pass interval (0: no background compaction or tiering). */
  compactionIntervalMs?: number;
  /** Windows that ended longer ago than this are sealed (compacted). */
  compactionGraceMs?: number;
  /** A window with this many fragments is sealed whatever its age. */
  compactionMaxFragments?: number;
  /** Rollup resolutions (ms) written into sealed cold blocks (docs/format/block.md §9); absent or []: none. */
  rollupsMs?: readonly number[];
  /** Decoded-block cache size in bytes (0 or absent: none). */
  blockCacheBytes?: number;
  /** Worker threads for seals' CPU (seal-pool.ts; 0 or absent: seals run on this thread). */
  sealWorkers?: number;
}

export interface Materializer extends PartitionReader, SeriesAdmission {
  /** One retention pass now (it also runs every retentionIntervalMs). */
  runRetention(): Promise<RetentionResult>;
  start(): Promise<void>;
  /** Refreshes gauges that need a look at the log (lag); called before each /metrics scrape. */
  refreshMetrics(): Promise<void>;
  /** Flushes every partition now (also used before a clean shutdown). */
  flushAll(reason?: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Replays owned partitions of the log into the store. Each partition resumes from the offset stored with its last
 * flush, so a crash at any moment neither loses nor duplicates a point.
 */
export function createMaterializer(opts: MaterializerOptions): Materializer {
  const log = opts.logger.child({ component: 'materializer' });
  const states = new Map<number, PartitionState>();
  /** Offset each partition must reach to be ready: the log end seen at start. */
  const readyAt = new Map<number, number>();
  let consumer: LogConsumer | null = null;
  let flushTimer: NodeJS.Timeout | null = null;
  let jobs: StorageJobs | null = null;
  // Records repeat each series' metric and tags; decoded entries are shared by every partition (series-memo.ts).
  const seriesMemo = new SeriesMemo(SERIES_MEMO_ENTRIES);
  const sealer = createSealPool({ workers: opts.sealWorkers ?? 0, logger: log });
  const blockCache = (opts.blockCacheBytes ?? 0) > 0 ? createBlockCache<PointColumns>({ maxBytes: opts.blockCacheBytes!, metrics: opts.metrics }) : undefined;
  let stopped = false;
  const retention = createRetention({
    stores: () => (opts.coldStore ? [opts.store, opts.coldStore] : [opts.store]),
    partitions: () => states.values(),
    retention: opts.retention ?? perMetric(0),
    blockWindowMs: opts.blockWindowMs,
    onBlockDeleted: (p, storeIndex, key, bytes) => {
      const s = states.get(p);
      s?.account(storeIndex === 0 ? 'hot' : 'cold', -1, -bytes);
      s?.invalidateBlock(key);
    },
    clock: opts.clock,
    logger: log,
    metrics: opts.metrics,
  });
  const headBudget = createHeadBudget({
    maxBytes: opts.headMaxBytes ?? 0,
    heads: function* () {
      for (const s of states.values()) {
        yield { partition: s.partition, headPoints: s.headPoints, seriesCount: s.index.size, headBytes: () => s.headBytes(), flush: (reason: string) => flushOne(s, reason) };
      }
    },
  });
  /** With a budget, records are applied one at a time, so a partition overshoots it by one record at most. */
  const applySlice = (opts.headMaxBytes ?? 0) > 0 ? 1 : Number.POSITIVE_INFINITY;
  const admission = createSeriesAdmission({ indexes: () => [...states.values()].map((s) => s.index), limits: opts.seriesLimits ?? perMetric(0) });

  const deadLetters: DeadLetter[] = [];
  /** Dead letters are best effort: a log that cannot take them must not stop materialization (they are counted). */
  const flushDeadLetters = async (): Promise<void> => {
    const batch = deadLetters.splice(0);
    try {
      await opts.log.deadLetter(batch);
    } catch (e) {
      log.error({ records: batch.map((d) => `${d.partition}@${d.offset}`), err: (e as Error).message }, 'cannot set records aside in the dead-letter log');
    }
  };

  const stateOf = (p: number): PartitionState => {
    const s = states.get(p);
    if (!s) throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot read partition ${p}: this node does not serve it`);
    return s;
  };

  const flushOne = (s: PartitionState, reason: string): Promise<void> =>
    s.flush(reason).catch((e: unknown) => {
      log.error({ partition: s.partition, err: (e as Error).message }, 'flush failed; will retry');
    });

  async function updateLag(): Promise<void> {
    opts.metrics.headBytes.set(headBudget.exactTotal());
    for (const [p, s] of states) {
      try {
        const { end } = await opts.log.offsets(p);
        opts.metrics.consumerLag.set({ partition: String(p) }, Math.max(0, end - s.nextOffset));
      } catch {
        // The log being unreachable shows as a stale lag; the write path reports the outage.
      }
    }
  }

  return {
    async start() {
      for (const p of opts.partitions) {
        const s = new PartitionState({
          partition: p,
          store: opts.store,
          logger: log,
          metrics: opts.metrics,
          blockWindowMs: opts.blockWindowMs,
          coldStore: opts.coldStore,
          hotDurationMs: opts.hotDurationMs,
          rollupsMs: opts.rollupsMs,
          now: () => opts.clock.now(),
          blockCache,
          onSetAside: (r) => deadLetters.push(r),
          seriesLimits: opts.seriesLimits,
          seriesMemo,
          sealer,
        });
        await s.load();
        states.set(p, s);
        const { start, end } = await opts.log.offsets(p);
        if (s.nextOffset < start && s.isEmpty) {
          // A new or wiped node rebuilds from what the log still holds; what retention dropped is gone from the log too.
          log.warn({ partition: p, logStart: start }, 'empty partition starts at the log start: earlier records were removed by log retention');
          s.startAt(start);
        } else if (s.nextOffset < start) {
          throw new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot resume partition ${p} (stored offset ${s.nextOffset}, log starts at ${start}): the log no longer holds the records this store needs`);
        }
        readyAt.set(p, end);
        opts.log.setRetentionFloor(p, s.durableOffset);
        log.info({ partition: p, from: s.nextOffset, end, series: s.index.size }, 'partition loaded; replaying');
      }
      consumer = opts.log.consume({
        onBatch: async (p, records) => {
          const s = states.get(p)!;
          for (let i = 0; i < records.length; i += applySlice) {
            s.apply(applySlice >= records.length ? records : records.slice(i, i + applySlice));
            if (deadLetters.length > 0) await flushDeadLetters();
            if (s.headPoints >= opts.headMaxPoints) {
              // Backpressure: wait for the flush rather than let the head grow without bound.
              await flushOne(s, 'head_full');
            } else {
              await headBudget.afterApply();
            }
          }
        },
        onError: (p, err) => log.error({ partition: p, err: err.message }, 'partition stopped applying'),
      });
      for (const [p, s] of states) consumer.assign(p, s.nextOffset);
      flushTimer = setInterval(() => {
        for (const s of states.values()) {
          void flushOne(s, 'interval').then(() => opts.log.setRetentionFloor(s.partition, s.durableOffset));
        }
      }, opts.flushIntervalMs);
      flushTimer.unref();
      retention.start(opts.retentionIntervalMs ?? 60_000);
      if ((opts.compactionIntervalMs ?? 0) > 0) {
        jobs = startStorageJobs({
          states: () => states.values(),
          intervalMs: opts.compactionIntervalMs!,
          graceMs: opts.compactionGraceMs ?? 3_600_000,
          maxFragments: opts.compactionMaxFragments ?? 8,
          logger: log,
          metrics: opts.metrics,
        });
      }
    },

    refreshMetrics: updateLag,
    runRetention: () => retention.runOnce(),
    refuse: admission.refuse,
    nearLimit: admission.nearLimit,

    async flushAll(reason = 'manual') {
      await Promise.all([...states.values()].map((s) => s.flush(reason)));
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      if (flushTimer) clearInterval(flushTimer);
      await retention.stop();
      await jobs?.stop();
      await sealer.close();
      await consumer?.stop();
      await Promise.all([...states.values()].map((s) => flushOne(s, 'shutdown')));
    },

    partitions: () => [...states.keys()],
    isReady: (p) => {
      const s = states.get(p);
      return s !== undefined && s.nextOffset >= (readyAt.get(p) ?? Infinity);
    },
    nextOffset: (p) => stateOf(p).nextOffset,
    dataVersion: (p) => stateOf(p).dataVersion,
    selectSeries: (p, matchers: Matcher[]): SeriesInfo[] => stateOf(p).index.select(matchers),
    tagKeys: (p) => stateOf(p).index.tagKeys(),
    tagValues: (p, key) => stateOf(p).index.tagValues(key),
    readSeries: (p, id, start, end): Promise<PointColumns> => stateOf(p).read(id, start, end),
    readSeriesParts: (p, id, start, end, o) => stateOf(p).readParts(id, start, end, o),
    readSeriesPartsMany: (p, ids, start, end, o) => stateOf(p).readPartsMany(ids, start, end, o),
    lastPoint: (p, id) => stateOf(p).lastPoint(id),
    async waitForOffsets(offsets, timeoutMs) {
      const waits = Object.entries(offsets).map(([p, o]) => stateOf(Number(p)).waitFor(o));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TsdbError('TSDB_ERR_QUERY_TIMEOUT', `cannot wait for write token (${JSON.stringify(offsets)}): not applied within ${timeoutMs} ms`, { retryAfterS: 1 })),
          timeoutMs,
        );
      });
      try {
        await Promise.race([Promise.all(waits), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
