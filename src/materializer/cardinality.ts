import { TsdbError } from '../common/errors.js';
import { canonicalSeriesKey } from '../common/series-key.js';
import type { AdmittedSeries, SeriesAdmission } from '../store/read-model.js';
import type { SeriesIndex } from '../store/series-index.js';
import type { PerMetric } from './per-metric.js';

/**
 * The materializer's cap (docs/series-index.md "Cardinality limit"): why one record must be set aside because it
 * would give a metric more series in this partition than its limit, or undefined. Depends only on the index, which
 * depends only on the log, so every replay of a partition sets aside the same records.
 * `series` is the record's series table and `ids[s]` series s's id, or its canonical key when it does not exist yet;
 * `seriesIndex[i]` is point i's series. Series count in order of first use by a point, as apply() creates them.
 */
export function cardinalityProblem(
  index: SeriesIndex,
  limits: PerMetric,
  series: ArrayLike<{ metric: string }>,
  ids: ArrayLike<number | string>,
  seriesIndex: ArrayLike<number>,
): string | undefined {
  if (limits.off) return undefined;
  // Fast path: new table entries per metric bound what the record can create; far from every limit, nothing to do.
  let fresh: Map<string, number> | undefined;
  for (let s = 0; s < ids.length; s++) {
    if (typeof ids[s] !== 'string') continue;
    const metric = series[s]!.metric;
    fresh ??= new Map();
    fresh.set(metric, (fresh.get(metric) ?? 0) + 1);
  }
  if (!fresh) return undefined;
  let close = false;
  for (const [metric, n] of fresh) {
    const limit = limits.of(metric);
    if (limit !== 0 && index.metricCount(metric) + n > limit) close = true;
  }
  if (!close) return undefined;
  const created = new Map<string, Set<string>>();
  for (let i = 0; i < seriesIndex.length; i++) {
    const s = seriesIndex[i]!;
    const key = ids[s];
    if (typeof key !== 'string') continue;
    const metric = series[s]!.metric;
    const limit = limits.of(metric);
    if (limit === 0) continue;
    let keys = created.get(metric);
    if (!keys) created.set(metric, (keys = new Set()));
    if (keys.has(key)) continue;
    keys.add(key);
    const has = index.metricCount(metric);
    if (has + keys.size > limit) return `point ${i}: ${overLimit(metric, has, keys.size - 1, key, limit)} in partition ${index.partition}`;
  }
  return undefined;
}

/**
 * The write path's check (implements SeriesAdmission): counts a metric's series over every partition this node
 * materializes, so on a node serving all partitions the limit holds for the metric as a whole.
 * Cheap when far from the limit: keys are only computed for metrics whose series count could cross it.
 */
export function createSeriesAdmission(opts: { indexes: () => Iterable<SeriesIndex>; limits: PerMetric }): SeriesAdmission {
  const { limits } = opts;
  const isNear = (metric: string, n: number, indexes: readonly SeriesIndex[]): { has: number; limit: number } | undefined => {
    const limit = limits.of(metric);
    if (limit === 0) return undefined;
    let has = 0;
    for (const idx of indexes) has += idx.metricCount(metric);
    return has + n > limit ? { has, limit } : undefined;
  };
  return {
    nearLimit(metrics, counts) {
      if (limits.off) return false;
      const indexes = [...opts.indexes()];
      for (let i = 0; i < metrics.length; i++) if (isNear(metrics[i]!, counts[i]!, indexes)) return true;
      return false;
    },
    refuse(series, keys, pointOf = (s) => s) {
      if (limits.off) return undefined;
      const perMetric = new Map<string, number>();
      for (let i = 0; i < series.length; i++) {
        const m = series[i]!.metric;
        perMetric.set(m, (perMetric.get(m) ?? 0) + 1);
      }
      const indexes = [...opts.indexes()];
      const close = new Map<string, { has: number; limit: number; created: Set<string> }>();
      for (const [metric, n] of perMetric) {
        const near = isNear(metric, n, indexes);
        if (near) close.set(metric, { ...near, created: new Set() });
      }
      if (close.size === 0) return undefined;
      for (let i = 0; i < series.length; i++) {
        const s: AdmittedSeries = series[i]!;
        const c = close.get(s.metric);
        if (!c) continue;
        const key = keys?.[i] ?? canonicalSeriesKey(s.metric, s.tags);
        if (c.created.has(key) || indexes.some((idx) => idx.idOf(key) !== undefined)) continue;
        c.created.add(key);
        if (c.has + c.created.size > c.limit) {
          const reason = overLimit(s.metric, c.has, c.created.size - 1, key, c.limit);
          const point = pointOf(i);
          return new TsdbError('TSDB_ERR_WRITE_CARDINALITY', `cannot write points (point ${point}): ${reason}; nothing of this request was written`, {
            details: [{ index: point, field: 'metric', reason }],
          });
        }
      }
      return undefined;
    },
  };
}

function overLimit(metric: string, has: number, earlier: number, key: string, limit: number): string {
  const also = earlier > 0 ? ` and ${earlier} more would be created before this point` : '';
  return `metric ${metric} has ${has} series${also}; new series ${key} would exceed its limit of ${limit} series (--max-series-per-metric)`;
}
