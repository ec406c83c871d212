/**
 * The partitioned log: the source of truth. Two implementations (embedded segment files, Kafka) pass the
 * same contract suite in test/contracts/log.contract.ts.
 *
 * Offsets are per partition, dense, starting at 0, and fit in a JS number (< 2^53).
 */

export interface LogRecord {
  offset: number;
  /** The record's bytes (for V3: an Avro single-object-encoded SeriesBatch, or PointBatch/Point from other producers). */
  value: Buffer;
  /** Append time, ms since the epoch. */
  timestamp: number;
}

export interface AppendBatch {
  partition: number;
  values: Buffer[];
  /** Optional per-record keys (Kafka message keys: V3 writes the 8-byte routing hash); the embedded log ignores them. */
  keys?: Array<Buffer | null>;
}

/** A record that cannot be materialized, set aside with why and where it came from. */
export interface DeadLetter {
  partition: number;
  offset: number;
  value: Buffer;
  /** Catalogue code of the problem, e.g. TSDB_ERR_AVRO_FINGERPRINT. */
  reason: string;
  message: string;
}

export interface AppendResult {
  partition: number;
  /** Offset of the first record appended. */
  baseOffset: number;
  /** Offset of the last record appended (baseOffset + values.length - 1). */
  lastOffset: number;
}

export interface ReadOptions {
  /** At most this many records (default 1000). */
  maxRecords?: number;
  /** Stop after the record that crosses this many value bytes (default 4 MiB); at least one record is returned. */
  maxBytes?: number;
}

export interface PartitionOffsets {
  /** First offset still retained. */
  start: number;
  /** Next offset to be written (= number of records ever appended). */
  end: number;
}

export interface ConsumeOptions {
  /** Called with consecutive records of one partition, in offset order. The next batch of that partition is not
   * delivered before the returned promise settles. If it rejects, the consumer stops delivering that partition
   * and reports the error to onError. */
  onBatch: (partition: number, records: LogRecord[]) => Promise<void>;
  onError?: (partition: number, err: Error) => void;
  maxRecords?: number;
}

export interface LogConsumer {
  /** Start (or restart) delivering `partition` from `from` (inclusive). */
  assign(partition: number, from: number): void;
  /** Stop delivering `partition`; resolves once no onBatch call for it is running. */
  unassign(partition: number): Promise<void>;
  assigned(): number[];
  /** Stop everything; resolves once no onBatch call is running. */
  stop(): Promise<void>;
}

export interface PartitionedLog {
  readonly kind: 'embedded' | 'kafka';
  readonly partitions: number;
  open(): Promise<void>;
  /** Appends every batch; resolves once all of them are durable (embedded: fsync; kafka: acks=all).
   * Records of one batch get consecutive offsets. Rejects with a retriable TsdbError (TSDB_ERR_LOG_UNAVAILABLE)
   * when the log cannot take writes. */
  append(batches: AppendBatch[]): Promise<AppendResult[]>;
  /** Records with offset >= from; [] when from == end. Throws TSDB_ERR_LOG_OFFSET when from < start or from > end. */
  read(partition: number, from: number, opts?: ReadOptions): Promise<LogRecord[]>;
  offsets(partition: number): Promise<PartitionOffsets>;
  consume(opts: ConsumeOptions): LogConsumer;
  /** Records below `offset` are no longer needed by this node (already materialized durably); retention may
   * delete them. Without a floor, retention of the embedded log never deletes unconsumed records. */
  setRetentionFloor(partition: number, offset: number): void;
  /** Sets records aside (kafka: topic `<topic>.dlq` with headers; embedded: `<dir>/dead-letters/`). At least once:
   * a replay sets the same records aside again. */
  deadLetter(entries: DeadLetter[]): Promise<void>;
  close(): Promise<void>;
}
