/** What every aggregation path shares at the end: the output order and the output-size limit (rules 15, 29). */
import { TsdbError } from '../../common/errors.js';
import { canonicalSeriesKey } from '../../common/series-key.js';
import type { Plan } from './plan.js';
import type { AggregateLimits, AggregatedSeries } from './types.js';

/** Output order: by metric, then by the canonical tag string (`{k="v",...}`, keys sorted), UTF-16 code unit order. */
export function sortOutput(out: AggregatedSeries[]): AggregatedSeries[] {
  const keyed = out.map((s) => ({ s, t: canonicalSeriesKey('', s.tags) }));
  keyed.sort((a, b) => (a.s.metric < b.s.metric ? -1 : a.s.metric > b.s.metric ? 1 : a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
  return keyed.map((x) => x.s);
}

export function outputLimitError(groups: number, p: Plan, limits: AggregateLimits): TsdbError {
  return new TsdbError(
    'TSDB_ERR_QUERY_LIMIT',
    `cannot run query (${groups} groups, ${p.nW} windows, fill=${p.fill}): the answer would hold more than ${limits.maxOutputPoints} points; use a larger step, a shorter range, a narrower selector or fill=none`,
    { details: [{ field: 'step', reason: `more than ${limits.maxOutputPoints} output points` }] },
  );
}
