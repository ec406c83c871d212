/**
 * The part of rocksdb-native (3.18.x, no bundled types) that src/store/rocksdb-store.ts uses.
 * Read off node_modules/rocksdb-native/{index.js,lib/*.js}; keep in step when the pinned version moves.
 */
declare module 'rocksdb-native' {
  class BloomFilterPolicy {
    constructor(bitsPerKey: number);
  }
  class RibbonFilterPolicy {
    constructor(bloomEquivalentBitsPerKey: number, bloomBeforeLevel?: number);
  }
  interface RocksDBOptions {
    createIfMissing?: boolean;
    maxBackgroundJobs?: number;
    bytesPerSync?: number;
    maxOpenFiles?: number;
    avoidFlushDuringShutdown?: boolean;
    // column-family (table) options of the default column family
    tableBlockSize?: number;
    tableCacheIndexAndFilterBlocks?: boolean;
    blockCache?: boolean;
    filterPolicy?: BloomFilterPolicy | RibbonFilterPolicy | null;
    optimizeFiltersForHits?: boolean;
    optimizeFiltersForMemory?: boolean;
    writeBufferSize?: number;
    maxWriteBufferNumber?: number;
  }
  interface IteratorRange {
    gt?: Buffer | null;
    gte?: Buffer | null;
    lt?: Buffer | null;
    lte?: Buffer | null;
    reverse?: boolean;
    limit?: number;
    values?: boolean;
    capacity?: number;
  }
  interface WriteBatch {
    tryPut(key: Buffer, value: Buffer): void;
    tryDelete(key: Buffer): void;
    tryDeleteRange(start: Buffer, end: Buffer): void;
    flush(): Promise<void>;
    destroy(): void;
  }
  class RocksDB {
    constructor(path: string, opts?: RocksDBOptions);
    readonly opened: boolean;
    readonly closed: boolean;
    ready(): Promise<void>;
    close(opts?: { force?: boolean }): Promise<void>;
    get(key: Buffer): Promise<Buffer | null>;
    write(opts?: { capacity?: number; autoDestroy?: boolean }): WriteBatch;
    iterator(range: IteratorRange): AsyncIterable<{ key: Buffer; value: Buffer | null }> & { destroy(): void };
    deleteRange(start: Buffer, end: Buffer): Promise<void>;
    flush(): Promise<void>;
    currentWalFile(): Promise<{ path: string; number: number; type: number; startSequence: number; size: number }>;
    getProperty(name: string): Promise<string | undefined>;
    compactRange(start: Buffer | null, end: Buffer | null, opts?: { bottommostLevelCompaction?: number }): Promise<void>;
    static constants: { bottommostLevelCompaction: { NONE: number; SKIP: number; FORCE: number } };
    static BloomFilterPolicy: typeof BloomFilterPolicy;
    static RibbonFilterPolicy: typeof RibbonFilterPolicy;
  }
  export default RocksDB;
}
