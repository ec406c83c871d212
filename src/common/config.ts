import { readFileSync } from 'node:fs';
import { TsdbError } from './errors.js';
import { parseBytes, parseDuration } from './units.js';

/**
 * Every setting V3 has, in one table: its flag, its environment twin (TSDB_<FLAG>), its default and its help line.
 * The CLI, the README's configuration table and `tsdb serve --help` all come from here.
 * Precedence: flag > environment > config file (JSON, keys = camelCase names) > default.
 */

type Kind = 'string' | 'int' | 'duration' | 'bytes' | 'bool' | 'enum' | 'list';

interface OptionSpec {
  flag: string;
  kind: Kind;
  default: unknown;
  help: string;
  choices?: readonly string[];
  min?: number;
}

export const SERVE_OPTIONS = {
  config: { flag: 'config', kind: 'string', default: '', help: 'JSON config file (keys are the camelCase option names)' },
  dataDir: { flag: 'data-dir', kind: 'string', default: './data', help: 'where the embedded log and the store live' },
  host: { flag: 'host', kind: 'string', default: '127.0.0.1', help: 'HTTP listen address' },
  port: { flag: 'port', kind: 'int', default: 8080, min: 0, help: 'HTTP listen port (0 = any free port)' },
  log: { flag: 'log', kind: 'enum', choices: ['embedded', 'kafka'], default: 'embedded', help: 'the partitioned log: embedded segment files or Kafka' },
  kafkaBrokers: { flag: 'kafka-brokers', kind: 'list', default: ['127.0.0.1:9092'], help: 'Kafka bootstrap brokers (with --log kafka)' },
  topic: { flag: 'topic', kind: 'string', default: 'tsdb.points', help: 'Kafka topic (with --log kafka)' },
  kafkaReplicationFactor: { flag: 'kafka-replication-factor', kind: 'int', default: 1, min: 1, help: 'replication factor of the Kafka topic when V3 creates it (with --log kafka)' },
  partitions: { flag: 'partitions', kind: 'int', default: 16, min: 1, help: 'log partitions; fixed once data exists' },
  roles: { flag: 'roles', kind: 'list', default: ['ingest', 'materializer', 'query'], help: 'roles this process runs: ingest, materializer, query (query needs materializer in this build)' },
  nodeId: { flag: 'node-id', kind: 'string', default: 'node-1', help: 'this node\'s id in the cluster' },
  peers: { flag: 'peers', kind: 'list', default: [], help: 'static cluster members ID@HOST:PORT,... (cluster issue)' },
  consul: { flag: 'consul', kind: 'string', default: '', help: 'Consul agent URL for discovery (cluster issue)' },
  replicationFactor: { flag: 'replication-factor', kind: 'int', default: 1, min: 1, help: 'copies of each partition' },
  logLevel: { flag: 'log-level', kind: 'enum', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info', help: 'log verbosity (logs go to stderr as JSON lines)' },
  maxBodyBytes: { flag: 'max-body-bytes', kind: 'bytes', default: 16 * 1024 * 1024, min: 1024, help: 'largest accepted write body' },
  maxPointsPerRequest: { flag: 'max-points-per-request', kind: 'int', default: 100_000, min: 1, help: 'most points in one write' },
  ingestWorkers: { flag: 'ingest-workers', kind: 'int', default: 1, min: 0, help: 'worker threads that decode, validate and encode Avro write bodies (0 = on the thread serving HTTP)' },
  sealWorkers: { flag: 'seal-workers', kind: 'int', default: 1, min: 0, help: 'worker threads that decode, merge and encode the blocks of windows being sealed (0 = on the thread applying the log)' },
  maxTagsPerPoint: { flag: 'max-tags-per-point', kind: 'int', default: 32, min: 0, help: 'most tags on one point' },
  maxNameLength: { flag: 'max-name-length', kind: 'int', default: 256, min: 1, help: 'longest metric name or tag key' },
  maxTagValueLength: { flag: 'max-tag-value-length', kind: 'int', default: 1024, min: 1, help: 'longest tag value' },
  maxPast: { flag: 'max-past', kind: 'duration', default: 0, help: 'reject points older than now minus this (0 = accept back to the epoch)' },
  maxFuture: { flag: 'max-future', kind: 'duration', default: 3_600_000, help: 'reject points newer than now plus this' },
  logSegmentBytes: { flag: 'log-segment-bytes', kind: 'bytes', default: 64 * 1024 * 1024, min: 4096, help: 'embedded log segment size' },
  logRetentionBytes: { flag: 'log-retention-bytes', kind: 'bytes', default: 0, help: 'embedded log size kept per partition (0 = unlimited); only materialized records are ever deleted' },
  logRetention: { flag: 'log-retention', kind: 'duration', default: 7 * 86_400_000, help: 'embedded log age kept; only materialized records are ever deleted' },
  flushInterval: { flag: 'flush-interval', kind: 'duration', default: 10_000, min: 10, help: 'how often the head is flushed to the store' },
  headMaxPoints: { flag: 'head-max-points', kind: 'int', default: 2_000_000, min: 1000, help: 'a partition head with more points flushes early' },
  headMaxBytes: { flag: 'head-max-bytes', kind: 'bytes', default: 32 * 1024 * 1024, help: 'encoded bytes all partition heads together (frozen ones included) may hold; over it the largest heads flush early, reason "memory" (0 = no budget; docs/memory.md)' },
  maxSeriesPerMetric: { flag: 'max-series-per-metric', kind: 'int', default: 1_000_000, min: 0, help: 'most series one metric may have; a write that would create more is rejected with 422 TSDB_ERR_WRITE_CARDINALITY (0 = unlimited; docs/series-index.md)' },
  maxSeriesPerMetricOverrides: { flag: 'max-series-per-metric-overrides', kind: 'list', default: [], help: 'per-metric limits METRIC=COUNT,... (0 = unlimited for that metric)' },
  retention: { flag: 'retention', kind: 'duration', default: 0, help: 'delete blocks whose window ended longer ago than this, and series left without points (0 = keep forever)' },
  retentionOverrides: { flag: 'retention-overrides', kind: 'list', default: [], help: 'per-metric retention METRIC=DURATION,... (0 = keep that metric forever)' },
  retentionInterval: { flag: 'retention-interval', kind: 'duration', default: 60_000, min: 1000, help: 'how often retention runs (when any retention is set)' },
  blockWindow: { flag: 'block-window', kind: 'duration', default: 2 * 3_600_000, min: 1000, help: 'time span of one stored block' },
  coldDir: { flag: 'cold-dir', kind: 'string', default: '', help: 'directory of the cold-tier store (may sit on another disk; empty = <data-dir>/cold)' },
  hotDuration: { flag: 'hot-duration', kind: 'duration', default: 24 * 3_600_000, help: 'windows that ended longer ago than this move to the cold tier, and late points for them go there (0 = no tiering)' },
  compactionInterval: { flag: 'compaction-interval', kind: 'duration', default: 30_000, help: 'pause between background compaction/tiering passes (0 = no compaction or tiering)' },
  compactionGrace: { flag: 'compaction-grace', kind: 'duration', default: 3_600_000, help: 'a window is compacted into one sealed block once it ended this long ago' },
  compactionMaxFragments: { flag: 'compaction-max-fragments', kind: 'int', default: 8, min: 2, help: 'a window with this many fragments is compacted whatever its age' },
  rollups: { flag: 'rollups', kind: 'list', choices: ['5m', '1h', 'none', 'sketch'], default: ['1h'], help: 'rollups (count/sum/min/max per 5m or 1h bucket) written into sealed cold blocks so aggregates with such steps skip decoding: 5m, 1h, both, or none; TSBS cost: 1h +0.020 B/point (+6 %), 5m +0.19 B/point (+59 %); add sketch (e.g. 1h,sketch) for a percentile sketch per bucket of the coarsest resolution, used by p50/p90/p95/p99, TSBS +0.10 B/point more (docs/format/block.md §9.6)' },
  maxQuerySeries: { flag: 'max-query-series', kind: 'int', default: 100_000, min: 1, help: 'most series one query may touch' },
  maxQueryPoints: { flag: 'max-query-points', kind: 'int', default: 50_000_000, min: 1, help: 'most points one query may return' },
  readyTimeout: { flag: 'after-timeout', kind: 'duration', default: 10_000, help: 'longest wait for a query\'s `after` token' },
  queryTimeout: { flag: 'query-timeout', kind: 'duration', default: 30_000, min: 1, help: 'longest a query or metadata request may run; then 503 TSDB_ERR_QUERY_TIMEOUT (a streamed answer ends with `"truncated": true`)' },
  queryBufferBytes: { flag: 'query-buffer-bytes', kind: 'bytes', default: 1024 * 1024, help: 'raw answers up to this size are sent whole (a limit or timeout is a 4xx/503); larger ones stream series by series' },
  queryCacheBytes: { flag: 'query-cache-bytes', kind: 'bytes', default: 64 * 1024 * 1024, help: 'query-result cache size (LRU by bytes, keyed by the query and the offsets of the partitions it read; 0 = off)' },
  storeBackend: { flag: 'store-backend', kind: 'enum', choices: ['classic-level', 'rocksdb'], default: 'classic-level', help: 'key-value store under the materializer: classic-level (LevelDB) or rocksdb (rocksdb-native); fixed once <data-dir>/store exists' },
  blockCacheBytes: { flag: 'block-cache-bytes', kind: 'bytes', default: 64 * 1024 * 1024, help: 'decoded-block cache size (LRU by bytes of decoded timestamps and values; 0 = off)' },
  metadataCacheBytes: { flag: 'metadata-cache-bytes', kind: 'bytes', default: 16 * 1024 * 1024, help: 'series/tags/tag-values cache size (LRU by bytes, keyed like the query cache; 0 = off)' },
} as const satisfies Record<string, OptionSpec>;

type Spec = typeof SERVE_OPTIONS;
type ValueOf<S extends OptionSpec> = S['kind'] extends 'int' | 'duration' | 'bytes'
  ? number
  : S['kind'] extends 'bool'
    ? boolean
    : S['kind'] extends 'list'
      ? string[]
      : S extends { choices: readonly (infer C)[] }
        ? C
        : string;

export type ServeConfig = { -readonly [K in keyof Spec]: ValueOf<Spec[K]> };

export function envName(flag: string): string {
  return 'TSDB_' + flag.toUpperCase().replace(/-/g, '_');
}

function coerce(name: string, spec: OptionSpec, raw: unknown, source: string): unknown {
  const bad = (why: string): never => {
    throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot read setting --${spec.flag} (${source}: ${JSON.stringify(raw)}): ${why}`);
  };
  let v: unknown;
  switch (spec.kind) {
    case 'string':
      v = String(raw);
      break;
    case 'int': {
      const n = typeof raw === 'number' ? raw : Number(String(raw));
      if (!Number.isSafeInteger(n)) bad('expected an integer');
      v = n;
      break;
    }
    case 'duration':
      v = parseDuration(raw as string | number) ?? bad('expected a duration like 500ms, 10s, 5m, 2h, 7d');
      break;
    case 'bytes':
      v = parseBytes(raw as string | number) ?? bad('expected a size like 4096, 64KiB, 16MiB');
      break;
    case 'bool':
      v = raw === true || raw === 'true' || raw === '1' ? true : raw === false || raw === 'false' || raw === '0' ? false : bad('expected true or false');
      break;
    case 'enum':
      if (!spec.choices!.includes(String(raw))) bad(`expected one of ${spec.choices!.join(', ')}`);
      v = String(raw);
      break;
    case 'list': {
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',').map((s) => s.trim()).filter(Boolean);
      const wrong = spec.choices ? items.find((x) => !spec.choices!.includes(x)) : undefined;
      if (wrong !== undefined) bad(`"${wrong}" is not one of ${spec.choices!.join(', ')}`);
      v = items;
      break;
    }
  }
  if (spec.min !== undefined && typeof v === 'number' && v < spec.min) bad(`must be at least ${spec.min}`);
  void name;
  return v;
}

/** Resolves the serve configuration from flags (already split into name → raw string), env and an optional file. */
export function resolveServeConfig(flags: Record<string, string | undefined>, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const out: Record<string, unknown> = {};
  const configPath = flags['config'] ?? env[envName('config')] ?? '';
  let file: Record<string, unknown> = {};
  if (configPath) {
    try {
      file = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot read config file (${configPath}): ${(e as Error).message}`, { cause: e });
    }
    for (const k of Object.keys(file)) {
      if (!(k in SERVE_OPTIONS)) throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot read config file (${configPath}): unknown setting "${k}"`);
    }
  }
  for (const [name, spec] of Object.entries(SERVE_OPTIONS) as [string, OptionSpec][]) {
    const fromFlag = flags[spec.flag];
    const fromEnv = env[envName(spec.flag)];
    if (fromFlag !== undefined) out[name] = coerce(name, spec, fromFlag, 'flag');
    else if (fromEnv !== undefined && fromEnv !== '') out[name] = coerce(name, spec, fromEnv, `env ${envName(spec.flag)}`);
    else if (name in file) out[name] = coerce(name, spec, file[name], `file ${configPath}`);
    else out[name] = spec.default;
  }
  return out as ServeConfig;
}

/**
 * The --rollups setting as resolutions in ms (ascending; [] for none). `sketch` adds a 0 entry first (ROLLUP_SKETCH of
 * src/codec/block-rollup.ts: bucket sketches at the coarsest resolution); it needs a resolution.
 */
export function rollupResolutions(list: readonly string[]): number[] {
  if (list.includes('none')) {
    if (list.length > 1) throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot read setting --rollups (${list.join(',')}): "none" cannot be combined with resolutions`);
    return [];
  }
  if (list.includes('sketch') && list.every((x) => x === 'sketch')) throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot read setting --rollups (${list.join(',')}): "sketch" needs a resolution (e.g. 1h,sketch)`);
  const ms: Record<string, number> = { '5m': 300_000, '1h': 3_600_000, sketch: 0 };
  const out = list.map((x) => ms[x] ?? NaN);
  if (out.some(Number.isNaN)) throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot read setting --rollups (${list.join(',')}): expected 5m, 1h or none`);
  return [...new Set(out)].sort((a, b) => a - b);
}

/** Defaults only; for tests and embedding. */
export function defaultServeConfig(overrides: Partial<ServeConfig> = {}): ServeConfig {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(SERVE_OPTIONS)) out[name] = spec.default;
  return { ...(out as ServeConfig), ...overrides };
}
