import { encodeSeriesBatch, pointsToSeriesBatch, type SeriesBatch } from '../codec/avro-record.js';
import { createPartitionCache, routingKey } from '../codec/partitioning.js';
import type { ValidationLimits } from '../codec/validate-points.js';
import { assertValid, validatePoints, validateSeriesBatch, type ValidationResult } from '../codec/validate-points.js';
import { encodeWriteToken } from '../codec/write-token.js';
import type { Clock } from '../common/clock.js';
import { TsdbError, isTsdbError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { Metrics } from '../common/metrics.js';
import { canonicalSeriesKey } from '../common/series-key.js';
import type { AppendBatch, PartitionedLog } from '../log/types.js';
import type { SeriesAdmission } from '../store/read-model.js';

export interface WriteServiceOptions {
  log: PartitionedLog;
  limits: ValidationLimits;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Per-metric series limit check (docs/series-index.md), from the local materializer when there is one. */
  admission?: SeriesAdmission;
  /** Bound on memoized series → partition entries. */
  partitionCacheEntries?: number;
}

export interface WriteResult {
  accepted: number;
  token: string;
}

export interface WriteService {
  /** Validates every point, then appends one record per partition; resolves once all are durable in the log. */
  write(raw: unknown[], format: 'json' | 'avro'): Promise<WriteResult>;
  /** The same for points that arrived grouped by series (an Avro SeriesBatch body). */
  writeSeries(batch: SeriesBatch, format: 'avro'): Promise<WriteResult>;
}

export function createWriteService(opts: WriteServiceOptions): WriteService {
  const partitions = createPartitionCache(opts.log.partitions, opts.partitionCacheEntries ?? 1_000_000);
  const log = opts.logger.child({ component: 'ingest' });

  const reject = (r: Omit<ValidationResult, 'points'>, total: number, format: string): void => {
    if (r.errors.length === 0) return;
    for (const [reason, n] of r.reasons) opts.metrics.writeRejects.inc({ reason }, n);
    opts.metrics.writeRequests.inc({ format, outcome: 'rejected' });
    assertValid(r, total);
  };

  /** One SeriesBatch record per partition, each with a series table of just its series. */
  function recordsOf(batch: SeriesBatch): AppendBatch[] {
    const nSeries = batch.series.length;
    const keys = batch.keys ?? batch.series.map((s) => canonicalSeriesKey(s.metric, s.tags));
    const partOf = new Int32Array(nSeries);
    for (let s = 0; s < nSeries; s++) partOf[s] = partitions.partitionOf(keys[s]!);
    // Counting sort of the points by partition; stable, so each record keeps the request's order.
    const P = opts.log.partitions;
    const starts = new Int32Array(P + 1);
    const idx = batch.seriesIndex;
    const n = idx.length;
    for (let i = 0; i < n; i++) starts[partOf[idx[i]!]! + 1]!++;
    for (let p = 0; p < P; p++) starts[p + 1]! += starts[p]!;
    const fill = starts.slice(0, P);
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[fill[partOf[idx[i]!]!]!++] = i;
    const out: AppendBatch[] = [];
    for (let p = 0; p < P; p++) {
      const from = starts[p]!;
      const to = starts[p + 1]!;
      if (from === to) continue;
      // The Kafka key is the routing hash of the record's first series (all of them share the partition).
      out.push({ partition: p, values: [encodeSeriesBatch(batch, order, from, to)], keys: [routingKey(keys[idx[order[from]!]!]!)] });
    }
    return out;
  }

  async function append(batch: SeriesBatch, format: string, started: number): Promise<WriteResult> {
    const refused = opts.admission?.refuse(batch.series, batch.keys, (s) => batch.seriesIndex.indexOf(s));
    if (refused) {
      opts.metrics.writeRejects.inc({ reason: refused.code });
      opts.metrics.writeRequests.inc({ format, outcome: 'rejected' });
      throw refused;
    }
    const points = batch.seriesIndex.length;
    const batches = recordsOf(batch);
    const offsets: Record<number, number> = {};
    if (batches.length > 0) {
      const t0 = performance.now();
      try {
        const appended = await opts.log.append(batches);
        for (const a of appended) offsets[a.partition] = a.lastOffset;
      } catch (e) {
        opts.metrics.writeRequests.inc({ format, outcome: 'unavailable' });
        if (isTsdbError(e) && e.retriable) throw e;
        log.error({ err: (e as Error).message }, 'log append failed');
        throw new TsdbError('TSDB_ERR_LOG_UNAVAILABLE', `cannot append to log (${batches.length} partitions, ${points} points): ${(e as Error).message}`, { cause: e, retryAfterS: 1 });
      }
      opts.metrics.logAppendLatency.observe((performance.now() - t0) / 1000);
    }
    opts.metrics.writePoints.inc(points);
    opts.metrics.writeRequests.inc({ format, outcome: 'ok' });
    opts.metrics.writeLatency.observe((performance.now() - started) / 1000);
    return { accepted: points, token: encodeWriteToken(offsets) };
  }

  return {
    async write(raw, format) {
      const started = performance.now();
      const result = validatePoints(raw, opts.limits, opts.clock.now());
      reject(result, raw.length, format);
      return append(pointsToSeriesBatch(result.points), format, started);
    },
    async writeSeries(batch, format) {
      const started = performance.now();
      reject(validateSeriesBatch(batch, opts.limits, opts.clock.now()), batch.seriesIndex.length, format);
      return append(batch, format, started);
    },
  };
}
