import type { Logger } from '../common/logger.js';
import type { Metrics } from '../common/metrics.js';
import { coldPartitionRanges, partitionRanges } from '../store/row-keys.js';
import type { KvStore } from '../store/types.js';
import { compactPartition, type Freed } from './compactor.js';
import type { PartitionState } from './partition-state.js';

export interface StorageJobsOptions {
  states: () => Iterable<PartitionState>;
  intervalMs: number;
  graceMs: number;
  maxFragments: number;
  /** Defer seals of windows still receiving blocks (compactor.ts StorageJobOptions.deferBusy; default true). */
  deferBusy?: boolean;
  logger: Logger;
  metrics: Metrics;
  /** Dead block bytes in a store that make a busy store compact anyway (default 64 MiB; 0: only when idle). */
  reclaimBusyBytes?: number;
  /** A busy store compacts at most once per this long (default 10 min). */
  reclaimBusyIntervalMs?: number;
  /** Wall clock in ms. */
  now?: () => number;
}

/** What the seals since a store's last compaction left dead in it, and where. */
interface Reclaim {
  tier: keyof Freed;
  dead: number;
  deadThisPass: number;
  partitions: Set<number>;
  lastAt: number;
}

export interface StorageJobs {
  /** Stops after the group of seals being written (a seal is never abandoned half-way by a clean stop). */
  stop(): Promise<void>;
}

/**
 * The background compaction and tiering loop: one pass over every partition, then a pause of intervalMs. One loop
 * per process, so at most one seal runs at a time and never two on the same window; apply and flush keep running.
 */
export function startStorageJobs(o: StorageJobsOptions): StorageJobs {
  const log = o.logger.child({ component: 'storage-jobs' });
  let stopped = false;
  let wake: (() => void) | null = null;
  const pause = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, o.intervalMs);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  const now = o.now ?? Date.now;
  const busyBytes = o.reclaimBusyBytes ?? 64 * 1024 * 1024;
  const busyIntervalMs = o.reclaimBusyIntervalMs ?? 600_000;
  const reclaim = new Map<KvStore, Reclaim>();
  const note = (store: KvStore | undefined, tier: keyof Freed, partition: number, bytes: number): void => {
    if (!store?.compact || bytes === 0) return;
    let r = reclaim.get(store);
    if (!r) reclaim.set(store, (r = { tier, dead: 0, deadThisPass: 0, partitions: new Set(), lastAt: now() }));
    r.dead += bytes;
    r.deadThisPass += bytes;
    r.partitions.add(partition);
  };
  /**
   * Seals overwrite and delete fragments, but the store keeps the dead values (in its write-ahead log and table
   * files) until it compacts those keys. A store is compacted over the key ranges of the partitions it sealed in
   * once a pass left it alone (its work settled), or, while it stays busy, after busyBytes died and at most once per
   * busyIntervalMs, so a node under continuous ingest does not rewrite its store every pass.
   */
  const reclaimSpace = async (): Promise<void> => {
    for (const [store, r] of reclaim) {
      const idle = r.deadThisPass === 0;
      r.deadThisPass = 0;
      if (r.dead === 0 || stopped) continue;
      if (!idle && !(busyBytes > 0 && r.dead >= busyBytes && now() - r.lastAt >= busyIntervalMs)) continue;
      const t0 = performance.now();
      const partitions = [...r.partitions].sort((a, b) => a - b);
      try {
        // One range per key kind from the first to the last partition touched: few calls (LevelDB logs every one).
        const rangesOf = r.tier === 'hot' ? partitionRanges : coldPartitionRanges;
        const first = rangesOf(partitions[0]!);
        const last = rangesOf(partitions[partitions.length - 1]!);
        for (let i = 0; i < first.length; i++) await store.compact!({ gte: first[i]!.gte, lt: last[i]!.lt });
      } catch (e) {
        log.error({ tier: r.tier, err: (e as Error).message }, 'store compaction failed; will retry after the next pass');
        continue;
      }
      const seconds = (performance.now() - t0) / 1000;
      log.info({ tier: r.tier, partitions: partitions.length, deadBytes: r.dead, seconds: +seconds.toFixed(3), idle }, 'store compacted');
      o.metrics.storeCompactions.inc({ tier: r.tier });
      o.metrics.storeCompactionSeconds.inc({ tier: r.tier }, seconds);
      r.dead = 0;
      r.partitions.clear();
      r.lastAt = now();
    }
  };
  const loop = (async () => {
    // The first pass waits one interval: start-up replay gets the machine first.
    await pause();
    while (!stopped) {
      for (const s of o.states()) {
        if (stopped) break;
        try {
          const freed: Freed = { hot: 0, cold: 0 };
          await compactPartition(s, { graceMs: o.graceMs, maxFragments: o.maxFragments, deferBusy: o.deferBusy ?? true, logger: log, metrics: o.metrics, stopped: () => stopped, freed });
          // The hot store also holds what every flush rewrites (the partition's state record) and the series index:
          // it is compacted after any seal of its partitions, whichever tier the seal freed bytes in.
          note(s.hot, 'hot', s.partition, freed.hot + freed.cold);
          note(s.cold, 'cold', s.partition, freed.cold);
        } catch (e) {
          log.error({ partition: s.partition, err: (e as Error).message }, 'compaction or tier move failed; will retry next pass');
        }
      }
      if (stopped) break;
      await reclaimSpace();
      o.metrics.storagePasses.inc();
      await pause();
      wake = null;
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
