/** The query plan: a validated query reduced to the window geometry and the function the engine evaluates. */
import { TsdbError } from '../../common/errors.js';
import { AGG_FNS, DEFAULT_EXACT_PERCENTILE_MAX, FILL_POLICIES, type AggFn, type AggregateLimits, type AggregateQuery, type FillPolicy } from './types.js';

const TAG_KEY_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const enum Kind {
  Count,
  Sum,
  Min,
  Max,
  Avg,
  First,
  Last,
  Stddev,
  Percentile,
  Increase,
  Rate,
}

export interface Plan {
  kind: Kind;
  /** Percentile NN for `pNN`. */
  pct: number;
  /** Percentiles of windows with more values than this come from a sketch (AggregateLimits.exactPercentileMax). */
  exactMax: number;
  start: number;
  end: number;
  /** Start of window 0 (floor(start/step)*step, or start without step). */
  w0: number;
  /** Window length; `end - start` without step (there is then exactly one window). */
  len: number;
  /** Number of windows. */
  nW: number;
  /** Seconds `rate` divides by: step, or the range without step. */
  rateDiv: number;
  fill: FillPolicy;
}

/** First index in [lo, hi) whose ts is >= x (hi when none). */
export function lowerBound(ts: number[], x: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Increase of one series over its points vs[from..to) in one window (rule 20): Σ of v[i] − v[i−1] when that is
 * >= 0, else of v[i] (a counter reset). One point → 0.
 */
export function increaseOf(vs: ArrayLike<number>, from: number, to: number): number {
  let seg = 0;
  for (let i = from + 1; i < to; i++) {
    const d = vs[i]! - vs[i - 1]!;
    seg += d >= 0 ? d : vs[i]!;
  }
  return seg;
}

/** `floor(t/step)*step`, exactly, with a true floor for negative t (integer remainders never round). */
export function windowStart(t: number, step: number): number {
  const r = t % step;
  return r < 0 ? t - r - step : t - r;
}

function kindOf(fn: AggFn): Kind {
  switch (fn) {
    case 'count':
      return Kind.Count;
    case 'sum':
      return Kind.Sum;
    case 'min':
      return Kind.Min;
    case 'max':
      return Kind.Max;
    case 'avg':
      return Kind.Avg;
    case 'first':
      return Kind.First;
    case 'last':
      return Kind.Last;
    case 'stddev':
      return Kind.Stddev;
    case 'increase':
      return Kind.Increase;
    case 'rate':
      return Kind.Rate;
    default:
      return Kind.Percentile;
  }
}

export function plan(q: AggregateQuery, limits: AggregateLimits): Plan {
  if (!(AGG_FNS as readonly string[]).includes(q.fn)) {
    throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot run query (fn=${JSON.stringify(q.fn)}): unknown function; expected one of ${AGG_FNS.join(' ')}`, {
      details: [{ field: 'fn', reason: `expected one of ${AGG_FNS.join(' ')}` }],
    });
  }
  const fill = q.fill ?? 'none';
  if (!(FILL_POLICIES as readonly string[]).includes(fill)) {
    throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot run query (fill=${JSON.stringify(fill)}): unknown fill policy; expected one of ${FILL_POLICIES.join(' ')}`, {
      details: [{ field: 'fill', reason: `expected one of ${FILL_POLICIES.join(' ')}` }],
    });
  }
  const { start, end, step } = q;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) {
    throw new TsdbError('TSDB_ERR_QUERY_RANGE', `cannot run query (start ${start}, end ${end}): start and end must be integer milliseconds with end > start (ranges are [start, end))`, {
      details: [{ field: Number.isSafeInteger(start) ? 'end' : 'start', reason: 'must be integer milliseconds, end greater than start' }],
    });
  }
  if (step !== undefined && (!Number.isSafeInteger(step) || step < 1)) {
    throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot run query (step ${step}): step must be a positive integer number of milliseconds`, {
      details: [{ field: 'step', reason: 'must be a positive integer number of milliseconds' }],
    });
  }
  if (q.by !== undefined) {
    for (const k of q.by) {
      if (typeof k !== 'string' || !TAG_KEY_RE.test(k)) {
        throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot run query (by key ${JSON.stringify(k)}): not a tag key ([a-zA-Z_][a-zA-Z0-9_]* or __name__)`, {
          details: [{ field: 'by', reason: `${JSON.stringify(k)} is not a tag key` }],
        });
      }
    }
  }
  const exactMax = limits.exactPercentileMax ?? DEFAULT_EXACT_PERCENTILE_MAX;
  if (!(exactMax === Infinity || (Number.isSafeInteger(exactMax) && exactMax >= 0))) {
    throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot run query (exactPercentileMax ${exactMax}): must be an integer >= 0 or Infinity`, {
      details: [{ field: 'exactPercentileMax', reason: 'must be an integer >= 0 or Infinity' }],
    });
  }
  let w0 = start;
  let len = end - start;
  let nW = 1;
  if (step !== undefined) {
    w0 = windowStart(start, step);
    const wLast = windowStart(end - 1, step);
    if (!Number.isSafeInteger(w0) || !Number.isSafeInteger(wLast + step)) {
      throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot run query (start ${start}, end ${end}, step ${step} ms): the windows reach beyond ±2^53 ms; use a smaller step`, {
        details: [{ field: 'step', reason: 'windows reach beyond the representable time range' }],
      });
    }
    len = step;
    nW = (wLast - w0) / step + 1;
  }
  if (nW > limits.maxWindows) {
    throw new TsdbError('TSDB_ERR_QUERY_LIMIT', `cannot run query (start ${start}, end ${end}, step ${step} ms: ${nW} windows): over the limit of ${limits.maxWindows} windows per series; use a larger step or a shorter range`, {
      details: [{ field: 'step', reason: `${nW} windows, over the limit of ${limits.maxWindows}` }],
    });
  }
  return {
    kind: kindOf(q.fn),
    pct: q.fn.startsWith('p') ? Number(q.fn.slice(1)) : 0,
    exactMax,
    start,
    end,
    w0,
    len,
    nW,
    rateDiv: len / 1000,
    fill,
  };
}
