import { TsdbError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { Matcher, PartitionReader, PointColumns, ReadPartsOptions, SeriesInfo, SeriesParts } from '../store/read-model.js';
import { addSeriesPartial, finalizePartials, mergePartials, planAggregate, summariesAnswer, type AggregatePlan, type AggregateLimits, type AggregateQuery, type AggregatedSeries, type PartialAggregate } from './aggregate/index.js';
import { DEFAULT_AGGREGATE_LIMITS } from './aggregate/types.js';
import { Kind } from './aggregate/plan.js';
import { raceSignal } from './query-guard.js';
import { readAhead } from './read-ahead.js';

/** Series reads in flight per query (see read-ahead.ts); results are consumed in plan order. */
const READ_AHEAD = 16;
/**
 * Series per batched read (readSeriesPartsMany), and series in flight: at most 128 series' points held at once. Small
 * batches (a selector whose few series sit in different partitions, as cpu-max-all's one host) all go at once, so their
 * store round trips overlap instead of queueing behind each other four at a time.
 */
const BATCH_SERIES = 32;
const SERIES_AHEAD = 128;

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
  /** Aborts the query (timeout, client gone); checked between series reads. */
  signal?: AbortSignal;
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

export interface PlanRequest {
  /** Absent: no selection (metadata over whole partitions); `[]` selects every series. */
  matchers?: Matcher[];
  /** Keep the first `limit` series (by series key). */
  limit?: number;
  after?: Record<number, number>;
  signal?: AbortSignal;
}

/**
 * What a request will read, decided before any point is read: the matching series of the ready partitions, and the
 * applied offset of every partition the answer depends on. With a selection that is exactly the partitions holding a
 * selected series — a write elsewhere cannot change the answer unless it creates a matching series, which changes
 * the selection itself. Without one it is every ready partition. (Cache keys are built from this.)
 */
export interface QueryPlan {
  /** Every selected series, sorted by series key; undefined when the request had no selection. */
  series: SeriesInfo[] | undefined;
  /** Most series `read` yields. Counted over series that have points in range (API.md: "max series returned"), so
   * it cannot be applied to the selection up front. */
  limit: number | undefined;
  /** Ready partitions, ascending. */
  ready: number[];
  partial: boolean;
  missing: number[];
  /** Per partition read: its applied offset and data version (`offset.version`), what a cached answer depends on. */
  offsets: Map<number, string>;
}

/** What an aggregate query read: blocks answered from their headers, blocks decoded, points counted. */
export interface ReadStats {
  headerBlocks: number;
  decodedBlocks: number;
  points: number;
}

/** Points a query may still read (max-points guard), shared by every partition it reads; also collects ReadStats. */
export interface PointBudget extends ReadStats {
  max: number;
}

export interface TimeRange {
  start: number;
  end: number;
}

export interface QueryService {
  /** Waits for `after`, then selects series (max-series limit) and records the offsets the answer depends on. */
  plan(req: PlanRequest): Promise<QueryPlan>;
  /**
   * The planned series' points in [start, end), one series at a time in plan order (series without points are
   * skipped). Enforces the max-points limit and checks the signal before and after every series read.
   */
  read(plan: QueryPlan, start: number, end: number, signal?: AbortSignal): AsyncGenerator<SeriesPoints, void, undefined>;
  /**
   * The planned series aggregated (docs/query-semantics.md "Partial aggregates"): partial aggregates per partition,
   * from whole-block header summaries where the function allows and decoded points otherwise, merged, finalized,
   * filled. Enforces the max-points limit (summarized points count) and checks the signal around every series read
   * (around every batch of up to 32 series of one partition when the reader has readSeriesPartsMany).
   * `stats` (when given) is updated as blocks are read, so it is right even when the query fails.
   */
  aggregate(plan: QueryPlan, q: AggregateQuery, opts?: { signal?: AbortSignal; limits?: AggregateLimits; stats?: ReadStats }): Promise<AggregatedSeries[]>;
  /** One partition's partial aggregates over the given series (of that partition): the unit a remote node ships. */
  partitionPartial(partition: number, series: SeriesInfo[], p: AggregatePlan, by: string[] | undefined, budget: PointBudget, signal?: AbortSignal): Promise<PartialAggregate>;
  /** True while every partition of the plan is still at the offset it was planned at. */
  unchanged(plan: QueryPlan): boolean;
  /** Matching series (sorted by series key) with their points in [start, end): plan + read, collected. */
  raw(q: RawQuery): Promise<QueryAnswer<SeriesPoints[]>>;
  /** The plan's series, only those with a point in `range` when given. */
  series(plan: QueryPlan, range?: TimeRange, signal?: AbortSignal): Promise<SeriesInfo[]>;
  /** Tag keys (without `__name__`) of the plan's series (all series without a selection), sorted. */
  tagKeys(plan: QueryPlan, range?: TimeRange, signal?: AbortSignal): Promise<string[]>;
  /** Values of one tag key (`__name__`: metric names) over the plan's series, sorted. */
  tagValues(plan: QueryPlan, key: string, range?: TimeRange, signal?: AbortSignal): Promise<string[]>;
  last(matchers: Matcher[], signal?: AbortSignal, after?: Record<number, number>): Promise<QueryAnswer<SeriesPoints[]>>;
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

  const stateOf = (p: number): string => `${reader.nextOffset(p)}.${reader.dataVersion(p)}`;

  const plan = async (req: PlanRequest): Promise<QueryPlan> => {
    req.signal?.throwIfAborted();
    if (req.after) await raceSignal(reader.waitForOffsets(req.after, limits.afterTimeoutMs), req.signal);
    const { ready, missing } = coverage();
    let series: SeriesInfo[] | undefined;
    const offsets = new Map<number, string>();
    if (req.matchers) {
      series = select(req.matchers, ready);
      for (const s of series) if (!offsets.has(s.partition)) offsets.set(s.partition, stateOf(s.partition));
    } else {
      for (const p of ready) offsets.set(p, stateOf(p));
    }
    return { series, limit: req.limit, ready, partial: missing.length > 0, missing, offsets };
  };

  const planSeries = (p: QueryPlan): SeriesInfo[] => p.series ?? select([], p.ready);

  const tooManyPoints = (): TsdbError =>
    new TsdbError('TSDB_ERR_QUERY_LIMIT', `cannot run query (more than ${limits.maxPoints} points in range): narrow the range or selector, or aggregate with fn/step`, {
      details: [{ field: 'end', reason: `the range holds more than ${limits.maxPoints} points` }],
    });

  async function* read(p: QueryPlan, start: number, end: number, signal?: AbortSignal): AsyncGenerator<SeriesPoints, void, undefined> {
    let total = 0;
    let returned = 0;
    for (const s of planSeries(p)) {
      if (p.limit !== undefined && returned >= p.limit) return;
      signal?.throwIfAborted();
      const points = await reader.readSeries(s.partition, s.id, start, end);
      signal?.throwIfAborted();
      if (points.ts.length === 0) continue;
      total += points.ts.length;
      if (total > limits.maxPoints) throw tooManyPoints();
      returned++;
      yield { series: s, points };
    }
  }

  /**
   * readSeriesParts of every series, handed back in order. With readSeriesPartsMany, runs of consecutive series of one
   * partition are read as batches of up to BATCH_SERIES (one store iterator per tier and batch instead of one per
   * series: iterator set-up and the thread-pool round trip dominated a series read), up to SERIES_AHEAD series in flight.
   */
  async function* partsInOrder(flat: SeriesInfo[], start: number, end: number, opts: ReadPartsOptions, signal?: AbortSignal): AsyncGenerator<SeriesParts, void, undefined> {
    const many = reader.readSeriesPartsMany?.bind(reader);
    if (!many) {
      yield* readAhead(flat.length, READ_AHEAD, (i) => reader.readSeriesParts(flat[i]!.partition, flat[i]!.id, start, end, opts), signal);
      return;
    }
    const batches: number[] = [0];
    for (let i = 1; i < flat.length; i++) {
      if (flat[i]!.partition !== flat[i - 1]!.partition || i - batches[batches.length - 1]! >= BATCH_SERIES) batches.push(i);
    }
    batches.push(flat.length);
    const read = (b: number): Promise<SeriesParts[]> => {
      const from = batches[b]!;
      const ids = flat.slice(from, batches[b + 1]!).map((s) => s.id);
      return many(flat[from]!.partition, ids, start, end, opts);
    };
    let largest = 1;
    for (let b = 0; b + 1 < batches.length; b++) largest = Math.max(largest, batches[b + 1]! - batches[b]!);
    for await (const batch of readAhead(flat.length === 0 ? 0 : batches.length - 1, Math.max(1, Math.floor(SERIES_AHEAD / largest)), read, signal)) yield* batch;
  }

  /** Partial aggregates of consecutive groups of series (each of one partition), one map per group, in order. */
  async function* groupPartials(groups: { partition: number; series: SeriesInfo[] }[], ap: AggregatePlan, by: string[] | undefined, budget: PointBudget, signal?: AbortSignal): AsyncGenerator<PartialAggregate, void, undefined> {
    const opts = { step: ap.nW === 1 ? undefined : ap.len, summaries: summariesAnswer(ap.kind) || ap.kind === Kind.Percentile, rollups: ap.kind === Kind.Count || ap.kind === Kind.Sum || ap.kind === Kind.Min || ap.kind === Kind.Max || ap.kind === Kind.Avg, rollupSketches: ap.kind === Kind.Percentile };
    const flat: SeriesInfo[] = [];
    for (const g of groups) for (const s of g.series) flat.push(s);
    const reads = partsInOrder(flat, ap.start, ap.end, opts, signal);
    let i = 0;
    for (const g of groups) {
      const acc: PartialAggregate = new Map();
      for (let n = 0; n < g.series.length; n++) {
        const r = await reads.next();
        const parts = r.value as SeriesParts;
        const s = flat[i++]!;
        budget.headerBlocks += parts.summaries.length - (parts.rollupSummaries ?? 0);
        budget.decodedBlocks += parts.decodedBlocks;
        budget.points += addSeriesPartial(acc, ap, by, s, parts.points, parts.summaries);
        if (budget.points > budget.max) throw tooManyPoints();
      }
      yield acc;
    }
  }

  const partitionPartial = async (
    partition: number,
    series: SeriesInfo[],
    ap: AggregatePlan,
    by: string[] | undefined,
    budget: PointBudget,
    signal?: AbortSignal,
  ): Promise<PartialAggregate> => {
    signal?.throwIfAborted();
    for await (const acc of groupPartials([{ partition, series }], ap, by, budget, signal)) return acc;
    return new Map();
  };

  const hasPoints = async (s: SeriesInfo, range: TimeRange, signal: AbortSignal | undefined): Promise<boolean> => {
    signal?.throwIfAborted();
    const n = (await reader.readSeries(s.partition, s.id, range.start, range.end)).ts.length;
    signal?.throwIfAborted();
    return n > 0;
  };

  const collect = async (p: QueryPlan, start: number, end: number, signal?: AbortSignal): Promise<SeriesPoints[]> => {
    const out: SeriesPoints[] = [];
    for await (const sp of read(p, start, end, signal)) out.push(sp);
    return out;
  };

  return {
    plan,
    read,
    partitionPartial,
    async aggregate(p, q, opts = {}) {
      const aggLimits = opts.limits ?? DEFAULT_AGGREGATE_LIMITS;
      const ap = planAggregate(q, aggLimits);
      const byPartition = new Map<number, SeriesInfo[]>();
      for (const s of planSeries(p)) {
        const list = byPartition.get(s.partition);
        if (list) list.push(s);
        else byPartition.set(s.partition, [s]);
      }
      const budget: PointBudget = { max: limits.maxPoints, headerBlocks: 0, decodedBlocks: 0, points: 0 };
      const merged: PartialAggregate = new Map();
      try {
        const groups = [...byPartition].map(([partition, series]) => ({ partition, series }));
        for await (const acc of groupPartials(groups, ap, q.by, budget, opts.signal)) mergePartials(merged, acc, ap);
      } finally {
        if (opts.stats) {
          opts.stats.headerBlocks += budget.headerBlocks;
          opts.stats.decodedBlocks += budget.decodedBlocks;
          opts.stats.points += budget.points;
        }
      }
      return finalizePartials(merged, ap, aggLimits);
    },
    unchanged(p) {
      for (const [partition, offset] of p.offsets) {
        if (!reader.isReady(partition) || stateOf(partition) !== offset) return false;
      }
      return true;
    },
    async raw(q) {
      const p = await plan({ matchers: q.matchers, limit: q.limit, after: q.after, signal: q.signal });
      const result = await collect(p, q.start, q.end, q.signal);
      return { result, partial: p.partial, missing: p.missing };
    },
    async series(p, range, signal) {
      const all = planSeries(p);
      if (!range) return all;
      const kept: SeriesInfo[] = [];
      for (const s of all) if (await hasPoints(s, range, signal)) kept.push(s);
      return kept;
    },
    async tagKeys(p, range, signal) {
      const keys = new Set<string>();
      if (!p.series && !range) {
        for (const part of p.ready) for (const k of reader.tagKeys(part)) keys.add(k);
      } else {
        for (const s of planSeries(p)) {
          const own = Object.keys(s.tags);
          // A series adds nothing when all its keys are known already: skip reading it.
          if (own.every((k) => keys.has(k))) continue;
          if (range && !(await hasPoints(s, range, signal))) continue;
          for (const k of own) keys.add(k);
        }
      }
      return [...keys].sort();
    },
    async tagValues(p, key, range, signal) {
      const values = new Set<string>();
      if (!p.series && !range) {
        for (const part of p.ready) for (const v of reader.tagValues(part, key)) values.add(v);
      } else {
        for (const s of planSeries(p)) {
          const v = key === '__name__' ? s.metric : Object.hasOwn(s.tags, key) ? s.tags[key] : undefined;
          if (v === undefined || values.has(v)) continue;
          if (range && !(await hasPoints(s, range, signal))) continue;
          values.add(v);
        }
      }
      return [...values].sort();
    },
    async last(matchers, signal, after) {
      const p = await plan({ matchers, after, signal });
      // From the last-value index: no history is read, whatever the series' age.
      const result: SeriesPoints[] = [];
      for (const series of planSeries(p)) {
        signal?.throwIfAborted();
        const last = await reader.lastPoint(series.partition, series.id);
        if (last) result.push({ series, points: { ts: [last.t], vs: [last.v] } });
      }
      return { result, partial: p.partial, missing: p.missing };
    },
  };
}
