/** Counters of the embedded log, for tests and metrics. Not part of PartitionedLog on purpose. */
export interface EmbeddedLogStats {
  /** append() calls' batches handed to a partition writer (non-empty ones). */
  appendBatches: number;
  recordsAppended: number;
  /** writev calls that carried one group-commit round. */
  writeCount: number;
  bytesWritten: number;
  fsyncCount: number;
  segmentsRolled: number;
  segmentsDeleted: number;
  /** Multi-partition appends whose successful part was truncated back after another partition failed. */
  rollbacks: number;
}

export function emptyStats(): EmbeddedLogStats {
  return { appendBatches: 0, recordsAppended: 0, writeCount: 0, bytesWritten: 0, fsyncCount: 0, segmentsRolled: 0, segmentsDeleted: 0, rollbacks: 0 };
}

/** Fault injection for tests: a hook that throws makes that step fail as if the file system had. */
export interface EmbeddedLogHooks {
  beforeWrite?(partition: number): void | Promise<void>;
  beforeFsync?(partition: number): void | Promise<void>;
}
