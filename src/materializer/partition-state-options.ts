/** Options of a PartitionState (partition-state.ts) and what it hands to onSetAside. */
import type { SeriesMemo } from '../codec/series-memo.js';
import type { Logger } from '../common/logger.js';
import type { Metrics } from '../common/metrics.js';
import type { BlockCache } from '../store/block-cache.js';
import type { PointColumns } from '../store/read-model.js';
import type { KvStore } from '../store/types.js';
import type { PerMetric } from './per-metric.js';
import type { Sealer } from './seal-pool.js';

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
  /** Rollup resolutions (ms) that seals into the cold tier write into their blocks; absent or []: none. */
  rollupsMs?: readonly number[];
  /** Wall clock in ms (decides which windows are cold). */
  now?: () => number;
  /** Decoded-block cache shared by the partitions of a process. */
  blockCache?: BlockCache<PointColumns>;
  /** Called for every record that is set aside (does not decode or breaks a point invariant). */
  onSetAside?: (r: SetAsideRecord) => void;
  /** Per-metric cap on series in this partition (docs/series-index.md); absent: unlimited. */
  seriesLimits?: PerMetric;
  /** Decoded series-table entries by their bytes, shared by the partitions of a process (codec/series-memo.ts). */
  seriesMemo?: SeriesMemo;
  /** Where seals' CPU runs (seal-pool.ts); default: on the calling thread. */
  sealer?: Sealer;
}

export interface SetAsideRecord {
  partition: number;
  offset: number;
  value: Buffer;
  reason: string;
  message: string;
}
