import { pointsToSeriesBatch, type SeriesBatch } from '../codec/avro-record.js';
import { createPartitionCache } from '../codec/partitioning.js';
import { SERIES_MEMO_ENTRIES, SeriesMemo } from '../codec/series-memo.js';
import type { ValidationLimits } from '../codec/validate-points.js';
import { encodeWriteToken } from '../codec/write-token.js';
import type { Clock } from '../common/clock.js';
import { TsdbError, isTsdbError, type ErrorCode } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { Metrics } from '../common/metrics.js';
import type { AppendBatch, PartitionedLog } from '../log/types.js';
import type { SeriesAdmission } from '../store/read-model.js';
import type { Precision } from './influx-lines.js';
import { prepareAvro, prepareInflux, preparePoints, prepareSeries, type Prepared, type PrepareContext, type PreparedWrite } from './prepare-write.js';
import { createWritePool, type WritePool } from './write-pool.js';

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
  /** Worker threads preparing Avro bodies (write-pool.ts); 0 or absent: on the request's thread. */
  workers?: number;
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
  /** An application/avro body (Point, PointBatch or SeriesBatch), prepared in a worker thread when there are any. */
  writeAvro(body: Buffer): Promise<WriteResult>;
  /** An Influx line protocol body (docs/format/influx-line-protocol.md). */
  writeInflux(body: Buffer, precision: Precision): Promise<WriteResult>;
  /** Stops the worker threads. */
  close(): Promise<void>;
}

const NO_TAGS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export function createWriteService(opts: WriteServiceOptions): WriteService {
  const partitionCacheEntries = opts.partitionCacheEntries ?? 1_000_000;
  const ctx: PrepareContext = { limits: opts.limits, partitionCount: opts.log.partitions, partitions: createPartitionCache(opts.log.partitions, partitionCacheEntries), memo: new SeriesMemo(SERIES_MEMO_ENTRIES) };
  const log = opts.logger.child({ component: 'ingest' });
  const pool: WritePool | undefined =
    opts.workers && opts.workers > 0
      ? createWritePool({ workers: opts.workers, logger: opts.logger, setup: { limits: opts.limits, partitionCount: opts.log.partitions, partitionCacheEntries } })
      : undefined;

  /**
   * @param again prepares the same request on this thread (for the per-series keys a worker does not send back)
   */
  async function append(prep: Prepared, format: string, started: number, again: () => Prepared = () => prep): Promise<WriteResult> {
    if (!prep.ok) {
      for (const [reason, n] of prep.reasons) opts.metrics.writeRejects.inc({ reason }, n);
      opts.metrics.writeRequests.inc({ format, outcome: 'rejected' });
      throw new TsdbError(prep.code as ErrorCode, prep.message, { details: prep.details });
    }
    if (opts.admission && (opts.admission.nearLimit?.(prep.metricNames, prep.metricCounts) ?? true)) {
      // Keys are given, so the check never needs the tags.
      const keys = prep.keys ?? (again() as PreparedWrite).keys!;
      const series = Array.from(prep.metricOf, (i) => ({ metric: prep.metricNames[i]!, tags: NO_TAGS }));
      const refused = opts.admission.refuse(series, keys, (s) => prep.firstPoint[s]!);
      if (refused) {
        opts.metrics.writeRejects.inc({ reason: refused.code });
        opts.metrics.writeRequests.inc({ format, outcome: 'rejected' });
        throw refused;
      }
    }
    const points = prep.points;
    const batches: AppendBatch[] = prep.records.map((r) => ({ partition: r.partition, values: [asBuffer(r.value)], keys: [asBuffer(r.key)] }));
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
      return append(preparePoints(ctx, raw, opts.clock.now()), format, started);
    },
    async writeSeries(batch, format) {
      const started = performance.now();
      return append(prepareSeries(ctx, batch, opts.clock.now()), format, started);
    },
    async writeAvro(body) {
      const started = performance.now();
      const now = opts.clock.now();
      return append(pool?.healthy() ? await pool.prepare(body, now) : prepareAvro(ctx, body, now), 'avro', started, () => prepareAvro(ctx, body, now));
    },
    async writeInflux(body, precision) {
      const started = performance.now();
      const now = opts.clock.now();
      return append(pool?.healthy() ? await pool.prepare(body, now, precision) : prepareInflux(ctx, body, precision, now), 'influx', started, () => prepareInflux(ctx, body, precision, now));
    },
    async close() {
      await pool?.close();
    },
  };
}

/** A Buffer over the same bytes (records come back from workers as plain Uint8Arrays). */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}
