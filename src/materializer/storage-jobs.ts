import type { Logger } from '../common/logger.js';
import type { Metrics } from '../common/metrics.js';
import { compactPartition } from './compactor.js';
import type { PartitionState } from './partition-state.js';

export interface StorageJobsOptions {
  states: () => Iterable<PartitionState>;
  intervalMs: number;
  graceMs: number;
  maxFragments: number;
  logger: Logger;
  metrics: Metrics;
}

export interface StorageJobs {
  /** Stops after the window being sealed (a seal is never abandoned half-way by a clean stop). */
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
  const loop = (async () => {
    // The first pass waits one interval: start-up replay gets the machine first.
    await pause();
    while (!stopped) {
      for (const s of o.states()) {
        if (stopped) break;
        try {
          await compactPartition(s, { graceMs: o.graceMs, maxFragments: o.maxFragments, logger: log, metrics: o.metrics, stopped: () => stopped });
        } catch (e) {
          log.error({ partition: s.partition, err: (e as Error).message }, 'compaction or tier move failed; will retry next pass');
        }
      }
      if (stopped) break;
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
