/** The aggregation engine (API.md `GET /api/v1/query` fn/step/by/fill); rules in docs/query-semantics.md. */
export { aggregate, windowStart } from './aggregate.js';
export { parseBy, parseFill, parseFn, parseStep } from './parse.js';
export { AGG_FNS, DEFAULT_AGGREGATE_LIMITS, FILL_POLICIES } from './types.js';
export type { AggFn, AggregateLimits, AggregateQuery, AggregatedSeries, FillPolicy } from './types.js';
