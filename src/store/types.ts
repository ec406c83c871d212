/**
 * The key-value store under the materializer. Keys and values are bytes; keys sort bytewise (memcmp order).
 * Every backend passes test/contracts/store.contract.ts.
 */

export type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

export interface RangeOptions {
  gte?: Buffer;
  gt?: Buffer;
  lt?: Buffer;
  lte?: Buffer;
  reverse?: boolean;
  limit?: number;
}

/**
 * Reads several key ranges from one snapshot with one store iterator (openScanner). `read` calls must come one at a
 * time, in ascending order of `gte`, with ranges inside the scanner's bounds that do not overlap.
 */
export interface RangeScanner {
  /** Entries of [gte, lt), in key order. `expected`: how many there probably are (sizes the first store read). */
  read(range: { gte: Buffer; lt: Buffer }, expected?: number): Promise<Array<[Buffer, Buffer]>>;
  close(): Promise<void>;
}

export interface KvStore {
  readonly kind: string;
  readonly location: string;
  open(): Promise<void>;
  close(): Promise<void>;
  get(key: Buffer): Promise<Buffer | undefined>;
  /** Applies every op or none (atomic, durable when `sync` is set). */
  batch(ops: BatchOp[], opts?: { sync?: boolean }): Promise<void>;
  /** Entries in key order (or reverse) within the range. */
  iterate(range: RangeOptions): AsyncIterable<[Buffer, Buffer]>;
  /**
   * Optional: a scanner over [gte, lt) whose snapshot is taken before this returns. Reading many small ranges (the
   * blocks of many series) through it costs one seek per range instead of one iterator each.
   */
  openScanner?(bounds: { gte: Buffer; lt: Buffer }): RangeScanner;
  /** Deletes every key in the range. */
  clearRange(range: RangeOptions): Promise<void>;
  /**
   * Optional: rewrites the on-disk files holding keys in [gte, lt) (the whole store when omitted) so that overwritten
   * and deleted entries stop taking space; it also moves the write-ahead log's recent writes into table files. Data
   * and deletions are unchanged. Costs I/O proportional to the range's size: callers throttle it
   * (docs/storage-lifecycle.md, "Reclaiming space"). classic-level writes deletion markers at the bounds that are
   * not live keys (docs/store-backends.md): pass bounds no one writes concurrently, e.g. key-prefix bounds.
   */
  compact?(range?: { gte?: Buffer; lt?: Buffer }): Promise<void>;
}
