/** The aggregation engine (API.md `GET /api/v1/query` fn/step/by/fill); rules in docs/query-semantics.md. */
export { aggregate, windowStart } from './aggregate.js';
export { parseBy, parseFill, parseFn, parseStep } from './parse.js';
export { AGG_FNS, DEFAULT_AGGREGATE_LIMITS, DEFAULT_EXACT_PERCENTILE_MAX, FILL_POLICIES } from './types.js';
export { PERCENTILE_SKETCH_ALPHA, PERCENTILE_SKETCH_MAX_BUCKETS } from './percentile.js';
export { DDSketch, DEFAULT_SKETCH_ALPHA, DEFAULT_SKETCH_MAX_BUCKETS, SKETCH_FORMAT_VERSION, nearestRank } from './sketch.js';
export type { SketchBuckets } from './sketch.js';
export type { AggFn, AggregateLimits, AggregateQuery, AggregatedSeries, FillPolicy } from './types.js';
export { plan as planAggregate } from './plan.js';
export type { Plan as AggregatePlan } from './plan.js';
export { addSeriesPartial, finalizePartials, mergePartials, summariesAnswer } from './partial.js';
export type { GroupPartial, PartialAggregate } from './partial.js';
export { decodePartial, encodePartial, PARTIAL_FORMAT_VERSION } from './partial-codec.js';
export type { EncodedPartial, EncodedWindow } from './partial-codec.js';
