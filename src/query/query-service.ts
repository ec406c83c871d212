import { TsdbError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { Matcher, PartitionReader, PointColumns, SeriesInfo } from '../store/read-model.js';

export interface QueryLimits {
  maxSeries: number;
  maxPoints: number;
  afterTimeoutMs: number;
}

export interface RawQuery {
  matchers: Matcher[];
  start: number;
  end: number;
  limit?: number;
  /** Write token offsets to wait for. */
  after?: Record<number, number>;
}

export interface SeriesPoints {
  series: SeriesInfo;
  points: PointColumns;
}

export interface QueryAnswer<T> {
  result: T;
  partial: boolean;
  missing: number[];
}

export interface QueryService {
  /** Matching series (sorted by series key) with their points in [start, end). */
  raw(q: RawQuery): Promise<QueryAnswer<SeriesPoints[]>>;
  series(matchers: Matcher[], range?: { start: number; end: number }): Promise<QueryAnswer<SeriesInfo[]>>;
  tagKeys(): QueryAnswer<string[]>;
  tagValues(key: string): QueryAnswer<string[]>;
  last(matchers: Matcher[]): Promise<QueryAnswer<SeriesPoints[]>>;
}

/**
 * Plans a query over every partition: series come from each partition's index, points from head + blocks.
 * Partitions that are not ready (still replaying) or not served make the answer `partial` with the list of
 * missing partitions — never silently incomplete.
 */
export function createQueryService(opts: { reader: PartitionReader; partitions: number; limits: QueryLimits; logger: Logger }): QueryService {
  const { reader, limits } = opts;

  const coverage = (): { ready: number[]; missing: number[] } => {
    const served = new Set(reader.partitions());
    const ready: number[] = [];
    const missing: number[] = [];
    for (let p = 0; p < opts.partitions; p++) (served.has(p) && reader.isReady(p) ? ready : missing).push(p);
    return { ready, missing };
  };

  const select = (matchers: Matcher[], partitions: number[]): SeriesInfo[] => {
    const out: SeriesInfo[] = [];
    for (const p of partitions) {
      for (const s of reader.selectSeries(p, matchers)) {
        out.push(s);
        if (out.length > limits.maxSeries) {
          throw new TsdbError('TSDB_ERR_QUERY_LIMIT', `cannot run query (more than ${limits.maxSeries} series match): narrow the selector or raise --max-query-series`, {
            details: [{ field: 'selector', reason: `matches more than ${limits.maxSeries} series` }],
          });
        }
      }
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  };

  const readAll = async (series: SeriesInfo[], start: number, end: number): Promise<SeriesPoints[]> => {
    const out: SeriesPoints[] = [];
    let total = 0;
    for (const s of series) {
      const points = await reader.readSeries(s.partition, s.id, start, end);
      if (points.ts.length === 0) continue;
      total += points.ts.length;
      if (total > limits.maxPoints) {
        throw new TsdbError('TSDB_ERR_QUERY_LIMIT', `cannot run query (more than ${limits.maxPoints} points in range): narrow the range or selector, or aggregate with fn/step`, {
          details: [{ field: 'end', reason: `the range holds more than ${limits.maxPoints} points` }],
        });
      }
      out.push({ series: s, points });
    }
    return out;
  };

  return {
    async raw(q) {
      if (q.after) await reader.waitForOffsets(q.after, limits.afterTimeoutMs);
      const { ready, missing } = coverage();
      let series = select(q.matchers, ready);
      if (q.limit !== undefined) series = series.slice(0, q.limit);
      const result = await readAll(series, q.start, q.end);
      return { result, partial: missing.length > 0, missing };
    },
    async series(matchers, range) {
      const { ready, missing } = coverage();
      let result = select(matchers, ready);
      if (range) {
        const kept: SeriesInfo[] = [];
        for (const s of result) if ((await reader.readSeries(s.partition, s.id, range.start, range.end)).ts.length > 0) kept.push(s);
        result = kept;
      }
      return { result, partial: missing.length > 0, missing };
    },
    tagKeys() {
      const { ready, missing } = coverage();
      const keys = new Set<string>();
      for (const p of ready) for (const k of reader.tagKeys(p)) keys.add(k);
      return { result: [...keys].sort(), partial: missing.length > 0, missing };
    },
    tagValues(key) {
      const { ready, missing } = coverage();
      const values = new Set<string>();
      for (const p of ready) for (const v of key === '__name__' ? reader.tagValues(p, '__name__') : reader.tagValues(p, key)) values.add(v);
      return { result: [...values].sort(), partial: missing.length > 0, missing };
    },
    async last(matchers) {
      const { ready, missing } = coverage();
      const all = await readAll(select(matchers, ready), Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      const result = all.map(({ series, points }) => {
        const n = points.ts.length - 1;
        return { series, points: { ts: [points.ts[n]!], vs: [points.vs[n]!] } };
      });
      return { result, partial: missing.length > 0, missing };
    },
  };
}
