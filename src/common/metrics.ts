import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric V3 exports, created once per process (one registry, so several nodes can live in one test process
 * without clashing). Names follow Prometheus conventions: tsdb_<area>_<what>_<unit>.
 */
export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'tsdb_' });
  const r = [registry];
  return {
    registry,
    writeRequests: new Counter({ name: 'tsdb_write_requests_total', help: 'write requests by outcome', labelNames: ['format', 'outcome'] as const, registers: r }),
    writePoints: new Counter({ name: 'tsdb_write_points_total', help: 'points accepted into the log', registers: r }),
    writeRejects: new Counter({ name: 'tsdb_write_rejects_total', help: 'rejected points or requests by reason', labelNames: ['reason'] as const, registers: r }),
    writeLatency: new Histogram({ name: 'tsdb_write_duration_seconds', help: 'write request latency until durable in the log', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: r }),
    logAppendLatency: new Histogram({ name: 'tsdb_log_append_duration_seconds', help: 'log append latency (durable)', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: r }),
    appliedRecords: new Counter({ name: 'tsdb_materializer_records_applied_total', help: 'log records applied', labelNames: ['partition'] as const, registers: r }),
    appliedPoints: new Counter({ name: 'tsdb_materializer_points_applied_total', help: 'points applied to heads', registers: r }),
    undecodable: new Counter({ name: 'tsdb_materializer_records_rejected_total', help: 'log records set aside because they do not decode or validate', labelNames: ['reason'] as const, registers: r }),
    appliedOffset: new Gauge({ name: 'tsdb_materializer_applied_offset', help: 'next log offset each partition will apply', labelNames: ['partition'] as const, registers: r }),
    consumerLag: new Gauge({ name: 'tsdb_materializer_lag_records', help: 'log records not yet applied, per partition', labelNames: ['partition'] as const, registers: r }),
    flushes: new Counter({ name: 'tsdb_materializer_flushes_total', help: 'head flushes by reason', labelNames: ['reason'] as const, registers: r }),
    flushLatency: new Histogram({ name: 'tsdb_materializer_flush_duration_seconds', help: 'head flush latency', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10], registers: r }),
    flushedBytes: new Counter({ name: 'tsdb_materializer_flushed_bytes_total', help: 'block bytes written by flushes', registers: r }),
    compactions: new Counter({ name: 'tsdb_compactions_total', help: 'windows sealed (fragments merged into one block) by partition and target tier', labelNames: ['partition', 'tier'] as const, registers: r }),
    compactedFragments: new Counter({ name: 'tsdb_compaction_fragments_merged_total', help: 'blocks merged by compaction, by target tier', labelNames: ['tier'] as const, registers: r }),
    compactionBytesBefore: new Counter({ name: 'tsdb_compaction_bytes_before_total', help: 'bytes of the blocks compaction merged, by target tier', labelNames: ['tier'] as const, registers: r }),
    compactionBytesAfter: new Counter({ name: 'tsdb_compaction_bytes_after_total', help: 'bytes of the sealed blocks compaction wrote, by target tier', labelNames: ['tier'] as const, registers: r }),
    tierMoves: new Counter({ name: 'tsdb_tier_moves_total', help: 'series windows moved from the hot to the cold tier', labelNames: ['partition'] as const, registers: r }),
    storeCompactions: new Counter({ name: 'tsdb_store_compactions_total', help: 'key-value store compactions that reclaimed dead block bytes, by tier', labelNames: ['tier'] as const, registers: r }),
    storeCompactionSeconds: new Counter({ name: 'tsdb_store_compaction_seconds_total', help: 'wall seconds spent in key-value store compactions, by tier', labelNames: ['tier'] as const, registers: r }),
    storagePasses: new Counter({ name: 'tsdb_storage_job_passes_total', help: 'completed compaction/tiering passes over every partition', registers: r }),
    storeBlocks: new Gauge({ name: 'tsdb_store_blocks', help: 'stored blocks per partition and tier', labelNames: ['partition', 'tier'] as const, registers: r }),
    storeBlockBytes: new Gauge({ name: 'tsdb_store_block_bytes', help: 'bytes of stored blocks (values) per partition and tier', labelNames: ['partition', 'tier'] as const, registers: r }),
    retentionRuns: new Counter({ name: 'tsdb_retention_runs_total', help: 'retention runs by outcome (ok, error)', labelNames: ['outcome'] as const, registers: r }),
    retentionBlocksDeleted: new Counter({ name: 'tsdb_retention_blocks_deleted_total', help: 'blocks deleted by retention', registers: r }),
    retentionSeriesDeleted: new Counter({ name: 'tsdb_retention_series_deleted_total', help: 'series deleted by retention (no points left)', registers: r }),
    retentionDuration: new Histogram({ name: 'tsdb_retention_duration_seconds', help: 'retention run duration', buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60], registers: r }),
    headSeries: new Gauge({ name: 'tsdb_head_series', help: 'series known per partition', labelNames: ['partition'] as const, registers: r }),
    headBytes: new Gauge({ name: 'tsdb_head_bytes', help: 'encoded bytes in memory not yet flushed, all partitions together (frozen heads included; bounded by --head-max-bytes)', registers: r }),
    headPoints: new Gauge({ name: 'tsdb_head_points', help: 'points in memory not yet flushed, per partition', labelNames: ['partition'] as const, registers: r }),
    queries: new Counter({ name: 'tsdb_query_requests_total', help: 'query requests by endpoint and outcome', labelNames: ['endpoint', 'outcome'] as const, registers: r }),
    queryLatency: new Histogram({ name: 'tsdb_query_duration_seconds', help: 'query latency', labelNames: ['endpoint'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10], registers: r }),
    queryPoints: new Counter({ name: 'tsdb_query_points_returned_total', help: 'points returned by queries', registers: r }),
    queryCancellations: new Counter({ name: 'tsdb_query_cancellations_total', help: 'queries stopped before they finished, by endpoint and reason (disconnect, timeout)', labelNames: ['endpoint', 'reason'] as const, registers: r }),
    queryStreamed: new Counter({ name: 'tsdb_query_streamed_total', help: 'raw answers streamed (larger than --query-buffer-bytes), by outcome (complete, truncated)', labelNames: ['outcome'] as const, registers: r }),
    queryCacheRequests: new Counter({ name: 'tsdb_query_cache_requests_total', help: 'cache look-ups by cache (query, metadata) and result (hit, miss)', labelNames: ['cache', 'result'] as const, registers: r }),
    queryCacheBytes: new Gauge({ name: 'tsdb_query_cache_bytes', help: 'bytes held by each cache', labelNames: ['cache'] as const, registers: r }),
    queryBlocks: new Counter({ name: 'tsdb_query_blocks_total', help: 'stored blocks aggregate queries read, by source (header: answered from the block header, rollup: from its rollup buckets, decoded)', labelNames: ['source'] as const, registers: r }),
    blockCacheRequests: new Counter({ name: 'tsdb_block_cache_requests_total', help: 'decoded-block cache look-ups by result (hit, miss, stale = cached from other bytes than the store now holds)', labelNames: ['result'] as const, registers: r }),
    blockCacheEvictions: new Counter({ name: 'tsdb_block_cache_evictions_total', help: 'decoded blocks dropped from the cache by reason (capacity, invalidated)', labelNames: ['reason'] as const, registers: r }),
    blockCacheBytes: new Gauge({ name: 'tsdb_block_cache_bytes', help: 'bytes held by the decoded-block cache (estimated decoded size + raw bytes + overhead)', registers: r }),
    blockCacheEntries: new Gauge({ name: 'tsdb_block_cache_entries', help: 'decoded blocks held by the cache', registers: r }),
    queryCacheEntries: new Gauge({ name: 'tsdb_query_cache_entries', help: 'entries held by each cache', labelNames: ['cache'] as const, registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
