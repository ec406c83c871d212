/**
 * What the query role reads: the materialized state of the partitions a node serves. The materializer implements
 * it; the query role depends only on this interface (roles never import each other).
 */

import type { BlockHeader } from '../codec/block.js';
import type { DDSketch } from '../codec/sketch.js';
import type { TsdbError } from '../common/errors.js';

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  /** Tag key, or `__name__` for the metric name. */
  name: string;
  op: MatchOp;
  value: string;
  /** Compiled, fully anchored regex for =~ and !~. */
  re?: RegExp;
}

export interface SeriesInfo {
  partition: number;
  id: number;
  metric: string;
  tags: Record<string, string>;
  key: string;
}

export interface PointColumns {
  ts: number[];
  vs: number[];
}

/**
 * Summary of stored points with no duplicates: a whole block, from its header (docs/format/block.md), or one bucket
 * of a block's rollup (§9). For a whole block minT/maxT are its first and last timestamps and first/last their
 * values. For a rollup bucket minT/maxT only bound its points' timestamps (the bucket [start, start + r) clipped to
 * the block's [minT, maxT]): they place it in its query window and order summaries, and first/last are NaN — a
 * rollup bucket is returned only when ReadPartsOptions.rollups is set, i.e. for count, sum, min, max and avg.
 */
export type BlockSummary = Pick<BlockHeader, 'count' | 'minT' | 'maxT' | 'min' | 'max' | 'sum' | 'first' | 'last'> & {
  /** A rollup bucket's DDSketch (α = 0.01, docs/format/block.md §9.6), only with ReadPartsOptions.rollupSketches. Shared: read, never change. */
  sketch?: DDSketch;
};

export interface ReadPartsOptions {
  /** Query windows `[floor(t/step)*step, +step)`; absent: one window, [start, end). */
  step?: number;
  /** False: summarize nothing (every block is decoded), for functions a header cannot answer. */
  summaries: boolean;
  /**
   * Also answer blocks that span several windows or are cut by start/end from their rollups (docs/query-semantics.md
   * "Rollups"), one summary per bucket. Only for functions that need no first/last: count, sum, min, max, avg.
   */
  rollups?: boolean;
  /**
   * Percentiles: with `summaries`, summarize only blocks whose rollup buckets carry sketches (the same conditions as
   * `rollups`), one summary per bucket with its sketch; no whole-block header summaries (a header has no sketch).
   */
  rollupSketches?: boolean;
}

/**
 * One series' points in [start, end) split in two disjoint parts: whole blocks answered from their headers (or, with
 * `rollups`, from their rollup buckets), and the remaining points merged as readSeries merges them. A block is
 * summarized only when its points are exactly what readSeries would return for its [minT, maxT] (strictly increasing
 * timestamps, no other run of the series overlaps it, so duplicate resolution cannot change it), and it lies inside
 * [start, end) and inside one query window — or, from a rollup, each bucket it has points in does.
 */
export interface SeriesParts {
  /** Ascending by minT, disjoint. */
  summaries: BlockSummary[];
  /** The other points in [start, end): ascending, one per timestamp (the last written); none inside a summary. */
  points: PointColumns;
  /** Blocks whose bodies were decoded. */
  decodedBlocks: number;
  /** Blocks answered from their rollups (each gave one summary per bucket; the other summaries are whole blocks). */
  rollupBlocks?: number;
  /** Summaries that are rollup buckets (summaries.length − rollupSummaries blocks were answered from headers). */
  rollupSummaries?: number;
}

export interface PartitionReader {
  /** Partitions this node serves. */
  partitions(): number[];
  /** True once the partition has replayed the log up to the end it saw when it started. */
  isReady(partition: number): boolean;
  /** Next log offset the partition will apply (= applied offset + 1). */
  nextOffset(partition: number): number;
  /** Changes when what the partition answers changes without its offset moving (retention deleted data). Caches
   * key on it together with the offset. */
  dataVersion(partition: number): number;
  /** Series of the partition matching every matcher. */
  selectSeries(partition: number, matchers: Matcher[]): SeriesInfo[];
  /** Tag keys (without `__name__`) and values of one partition's series. */
  tagKeys(partition: number): string[];
  tagValues(partition: number, key: string): string[];
  /** Points of one series with start <= t < end, ascending by time, one per timestamp (the last written). */
  readSeries(partition: number, seriesId: number, start: number, end: number): Promise<PointColumns>;
  /** readSeries, but whole blocks that need no decoding come back as header summaries (see SeriesParts). */
  readSeriesParts(partition: number, seriesId: number, start: number, end: number, opts: ReadPartsOptions): Promise<SeriesParts>;
  /** Optional: readSeriesParts of several series of one partition (in the order given), all from one snapshot. */
  readSeriesPartsMany?(partition: number, seriesIds: readonly number[], start: number, end: number, opts: ReadPartsOptions): Promise<SeriesParts[]>;
  /** The newest point of a series (greatest timestamp; the last written at that timestamp), from an in-memory
   * last-value index; undefined when the series has no points. */
  lastPoint(partition: number, seriesId: number): Promise<{ t: number; v: number } | undefined>;
  /** Resolves when every partition in `offsets` has applied at least that offset; rejects after timeoutMs. */
  waitForOffsets(offsets: Record<number, number>, timeoutMs: number): Promise<void>;
}

/**
 * What the write path asks before appending (docs/series-index.md "Cardinality limit"): would these points create
 * series beyond a per-metric limit? The materializer implements it over the partitions it serves; the ingest role
 * only sees this interface (roles never import each other).
 */
export interface SeriesAdmission {
  /**
   * The error to reject the whole request with (TSDB_ERR_WRITE_CARDINALITY), or undefined when it may be written.
   * `series`: the request's series (or its points) in order; `keys`: their canonical keys when already computed;
   * `pointOf(i)`: the index of the first point of series i, for the message (default: i).
   */
  refuse(series: ArrayLike<AdmittedSeries>, keys?: ArrayLike<string>, pointOf?: (i: number) => number): TsdbError | undefined;
  /**
   * False when `counts[i]` more series of `metrics[i]` cannot take any of them over its limit, so refuse would
   * return undefined without looking at a single key (the common case, far from every limit).
   */
  nearLimit?(metrics: readonly string[], counts: ArrayLike<number>): boolean;
}

export interface AdmittedSeries {
  metric: string;
  tags: Record<string, string>;
}
