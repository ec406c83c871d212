/** The apply path's per-record work: resolving a record's series table and checking it before any point is applied. */
import type { SeriesBatch } from '../codec/avro-record.js';
import { loggedSampleProblem, loggedSeriesProblem } from '../codec/validate-points.js';
import { canonicalSeriesKey } from '../common/series-key.js';
import type { SeriesIndex } from '../store/series-index.js';
import { cardinalityProblem } from './cardinality.js';
import type { Head } from './head.js';
import type { LastValues } from './last-values.js';
import type { PerMetric } from './per-metric.js';

/**
 * Fills `ids` (per entry of the batch's series table: a known series id, or the canonical key of a series the record
 * creates) and checks the whole record: a record is applied entirely or set aside entirely. Series are resolved once
 * per record (the batch's series table), not once per point. Returns why the record is set aside, if it is.
 */
export function checkRecord(batch: SeriesBatch, index: SeriesIndex, seriesLimits: PerMetric | undefined, ids: Array<number | string>): { problem: string; reason: string } | undefined {
  const { series, seriesIndex, timestamps, values } = batch;
  const n = seriesIndex.length;
  ids.length = series.length;
  let problem: string | undefined;
  for (let s = 0; s < series.length && problem === undefined; s++) {
    const ref = series[s]!;
    const key = batch.keys?.[s] ?? canonicalSeriesKey(ref.metric, ref.tags);
    const id = index.idOf(key);
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
  if (problem === undefined && seriesLimits && (problem = cardinalityProblem(index, seriesLimits, series, ids, seriesIndex)) !== undefined) reason = 'TSDB_ERR_WRITE_CARDINALITY';
  return problem === undefined ? undefined : { problem, reason };
}

/** Appends the points of a checked record to `head`, creating its new series and updating the last-value index. */
export function applyRecord(batch: SeriesBatch, ids: Array<number | string>, index: SeriesIndex, head: Head, last: LastValues): void {
  const { series, seriesIndex, timestamps, values } = batch;
  const n = seriesIndex.length;
  const lastT = last.t;
  const lastV = last.v;
  for (let i = 0; i < n; i++) {
    const s = seriesIndex[i]!;
    let id = ids[s]!;
    if (typeof id === 'string') {
      // Created on first use, so series ids follow log order and unused table entries create nothing.
      const known = index.idOf(id);
      if (known === undefined) {
        const ref = series[s]!;
        id = index.add(index.size, id, ref.metric, ref.tags).id;
        lastT.push(Number.NEGATIVE_INFINITY);
        lastV.push(0);
      } else id = known;
      ids[s] = id;
    }
    const t = timestamps[i]!;
    const v = values[i]!;
    head.append(id, t, v);
    // Last-value index: the newest timestamp wins; at an equal timestamp the later write wins.
    if (t >= lastT[id]!) {
      lastT[id] = t;
      lastV[id] = v;
    }
  }
}
