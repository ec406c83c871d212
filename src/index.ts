/** The package's public API: what producers, tools and embedders import from 'v3-tsdb'. */
export * from './common/errors.js';
export * from './common/point.js';
export * from './common/series-key.js';
export { encodePointBatch, encodePoint, decodeLogRecord, POINT_FINGERPRINT, POINT_BATCH_FINGERPRINT } from './codec/avro-record.js';
export { encodeSeriesBatch, pointsToSeriesBatch, decodeLogRecordColumns, SERIES_BATCH_FINGERPRINT } from './codec/avro-record.js';
export type { SeriesBatch, SeriesRef } from './codec/avro-record.js';
export { hash64, hash64Hex, jumpConsistentHash, partitionOf, routingKey, createV3Partitioner } from './codec/partitioning.js';
export { validatePoints, DEFAULT_LIMITS } from './codec/validate-points.js';
export type { PartitionedLog, LogRecord, AppendBatch, AppendResult, DeadLetter } from './log/types.js';
export type { KvStore } from './store/types.js';
