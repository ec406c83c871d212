/**
 * Types of the aggregation engine (API.md `GET /api/v1/query`: `fn`, `step`, `by`, `fill`).
 * The exact rules, including every case API.md leaves open, are written down in docs/query-semantics.md.
 */

/** Every `fn` API.md lists, in its order. */
export const AGG_FNS = ['count', 'sum', 'min', 'max', 'avg', 'first', 'last', 'stddev', 'p50', 'p90', 'p95', 'p99', 'rate', 'increase'] as const;
export type AggFn = (typeof AGG_FNS)[number];

/** Every `fill` API.md lists; `none` is the default. */
export const FILL_POLICIES = ['none', 'null', 'previous', 'zero', 'linear'] as const;
export type FillPolicy = (typeof FILL_POLICIES)[number];

export interface AggregateQuery {
  fn: AggFn;
  /** Inclusive range start, integer ms. */
  start: number;
  /** Exclusive range end, integer ms; must be > start. */
  end: number;
  /** Window length in ms (a positive integer); absent = one window `[start, end)` stamped `start`. */
  step?: number;
  /**
   * Tag keys to group by (`__name__` groups by metric name). Absent = every series is its own group.
   * An empty array puts every series into one group with no tags (parseBy never returns one).
   */
  by?: string[];
  /** Default `none`. */
  fill?: FillPolicy;
}

export interface AggregateLimits {
  /** Most windows one output series may span: `floor((end-1)/step) - floor(start/step) + 1`. */
  maxWindows: number;
  /** Most output points over all series (matters for dense fills: null, zero, previous, linear). */
  maxOutputPoints: number;
  /**
   * Percentiles (`p50 p90 p95 p99`) of a (group, window) holding at most this many values are exact (nearest rank);
   * above it they come from a DDSketch with relative accuracy PERCENTILE_SKETCH_ALPHA (docs/query-semantics.md).
   * A safe integer >= 0, or Infinity for always exact. Default DEFAULT_EXACT_PERCENTILE_MAX.
   */
  exactPercentileMax?: number;
}

/** Default of AggregateLimits.exactPercentileMax. */
export const DEFAULT_EXACT_PERCENTILE_MAX = 10_000;

export const DEFAULT_AGGREGATE_LIMITS: AggregateLimits = { maxWindows: 1_000_000, maxOutputPoints: 10_000_000, exactPercentileMax: DEFAULT_EXACT_PERCENTILE_MAX };

export interface AggregatedSeries {
  /** The group's metric when all its series share one, else "" (only possible with `by`). */
  metric: string;
  /** Without `by`: the series' tags. With `by`: just the by keys the group has (absent keys are omitted). */
  tags: Record<string, string>;
  /** `[windowStart, value]`, ascending; `null` only with fill=null. */
  points: Array<[number, number | null]>;
}
