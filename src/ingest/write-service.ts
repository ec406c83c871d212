import { encodePointBatch } from '../codec/avro-record.js';
import { createPartitionCache, routingKey } from '../codec/partitioning.js';
import type { ValidationLimits } from '../codec/validate-points.js';
import { assertValid, validatePoints } from '../codec/validate-points.js';
import { encodeWriteToken } from '../codec/write-token.js';
import type { Clock } from '../common/clock.js';
import { TsdbError, isTsdbError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { Metrics } from '../common/metrics.js';
import type { Point } from '../common/point.js';
import { canonicalSeriesKey } from '../common/series-key.js';
import type { AppendBatch, PartitionedLog } from '../log/types.js';

export interface WriteServiceOptions {
  log: PartitionedLog;
  limits: ValidationLimits;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
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
}

export function createWriteService(opts: WriteServiceOptions): WriteService {
  const partitions = createPartitionCache(opts.log.partitions, opts.partitionCacheEntries ?? 1_000_000);
  const log = opts.logger.child({ component: 'ingest' });

  return {
    async write(raw, format) {
      const started = performance.now();
      const result = validatePoints(raw, opts.limits, opts.clock.now());
      if (result.errors.length > 0) {
        for (const [reason, n] of result.reasons) opts.metrics.writeRejects.inc({ reason }, n);
        opts.metrics.writeRequests.inc({ format, outcome: 'rejected' });
        assertValid(result, raw.length);
      }
      const byPartition = new Map<number, { points: Point[]; firstKey: string }>();
      for (const p of result.points) {
        const key = canonicalSeriesKey(p.metric, p.tags);
        const part = partitions.partitionOf(key);
        const group = byPartition.get(part);
        if (group) group.points.push(p);
        else byPartition.set(part, { points: [p], firstKey: key });
      }
      const batches: AppendBatch[] = [];
      // One record per partition; its Kafka key is the routing hash of its first series (all share the partition).
      for (const [partition, g] of byPartition) batches.push({ partition, values: [encodePointBatch(g.points)], keys: [routingKey(g.firstKey)] });
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
          throw new TsdbError('TSDB_ERR_LOG_UNAVAILABLE', `cannot append to log (${batches.length} partitions, ${result.points.length} points): ${(e as Error).message}`, { cause: e, retryAfterS: 1 });
        }
        opts.metrics.logAppendLatency.observe((performance.now() - t0) / 1000);
      }
      opts.metrics.writePoints.inc(result.points.length);
      opts.metrics.writeRequests.inc({ format, outcome: 'ok' });
      opts.metrics.writeLatency.observe((performance.now() - started) / 1000);
      return { accepted: result.points.length, token: encodeWriteToken(offsets) };
    },
  };
}
