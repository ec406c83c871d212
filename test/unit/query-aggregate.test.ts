import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalSeriesKey } from '../../src/common/series-key.js';
import {
  AGG_FNS,
  DDSketch,
  DEFAULT_AGGREGATE_LIMITS,
  DEFAULT_EXACT_PERCENTILE_MAX,
  FILL_POLICIES,
  PERCENTILE_SKETCH_ALPHA,
  aggregate,
  parseBy,
  parseFill,
  parseFn,
  parseStep,
  windowStart,
} from '../../src/query/aggregate/index.js';
import type { AggFn, AggregateQuery, AggregatedSeries, FillPolicy } from '../../src/query/aggregate/index.js';
import { strategy } from '../../src/query/aggregate/aggregate.js';
import type { SeriesPoints } from '../../src/query/query-service.js';
import { referenceAggregateWithBounds } from '../helpers/reference-aggregate.js';
import { seededRandom } from '../helpers/seeded-random.js';

// ---------------------------------------------------------------------------------------------------------------
// helpers

function series(metric: string, tags: Record<string, string>, pts: Array<[number, number]>, id = 0): SeriesPoints {
  return {
    series: { partition: 0, id, metric, tags, key: canonicalSeriesKey(metric, tags) },
    points: { ts: pts.map((p) => p[0]), vs: pts.map((p) => p[1]) },
  };
}

/** fns whose value is a floating-point sum: engine and reference may add in different orders. */
const INEXACT: ReadonlySet<AggFn> = new Set<AggFn>(['sum', 'avg', 'stddev', 'rate', 'increase']);

/**
 * Deep equality of two answers. Numbers compare exactly (=== , so 0 equals -0) except where summation order may
 * differ (INEXACT fns, and fill=linear which interpolates between such values): there |a-b| <= 1e-9 * max(1,|a|,|b|);
 * and where the expected answer carries a bound (sketched percentiles, referenceAggregateWithBounds): there
 * |a-b| <= bound (+ the 1e-9 slack when tolerant).
 */
function assertSameAnswer(actual: AggregatedSeries[], expected: Array<AggregatedSeries & { bounds?: number[] }>, tolerant: boolean, ctx: () => string): void {
  const fail = (why: string): never =>
    assert.fail(`${why}\n${ctx()}\nactual:   ${JSON.stringify(actual)}\nexpected: ${JSON.stringify(expected)}`);
  if (actual.length !== expected.length) fail(`series count ${actual.length} != ${expected.length}`);
  for (let s = 0; s < expected.length; s++) {
    const a = actual[s]!;
    const e = expected[s]!;
    if (a.metric !== e.metric) fail(`series ${s}: metric ${JSON.stringify(a.metric)} != ${JSON.stringify(e.metric)}`);
    if (JSON.stringify(Object.entries(a.tags).sort()) !== JSON.stringify(Object.entries(e.tags).sort())) fail(`series ${s}: tags differ`);
    if (a.points.length !== e.points.length) fail(`series ${s}: ${a.points.length} points != ${e.points.length}`);
    for (let i = 0; i < e.points.length; i++) {
      const [at, av] = a.points[i]!;
      const [et, ev] = e.points[i]!;
      if (at !== et) fail(`series ${s} point ${i}: timestamp ${at} != ${et}`);
      if (av === null || ev === null) {
        if (av !== ev) fail(`series ${s} point ${i}: value ${av} != ${ev}`);
        continue;
      }
      const bound = e.bounds?.[i] ?? 0;
      const slack = tolerant ? 1e-9 * Math.max(1, Math.abs(av), Math.abs(ev)) : 0;
      if (bound > 0 || tolerant ? !(Math.abs(av - ev) <= bound + slack) : av !== ev) {
        fail(`series ${s} point ${i}: value ${av} != ${ev}${bound > 0 ? ` (allowed error ${bound}: sketched percentile)` : ''}`);
      }
    }
  }
}

function pts(out: AggregatedSeries[], i = 0): Array<[number, number | null]> {
  return out[i]!.points;
}

function throwsCode(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (e: Error & { code?: string; details?: Array<{ field?: string }> }) => {
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    assert.match(e.message, /^cannot \w+ /);
    assert.ok(e.details && e.details.length > 0 && e.details[0]!.field, 'names the field');
    return true;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// hand-written cases (API.md text and docs/query-semantics.md)

describe('aggregate: windows', () => {
  it('aligns windows to the epoch; the first window is floor(start/step)*step, the last holds end-1', () => {
    const T = 1_700_000_000_000;
    const s = series('cpu', { host: 'a' }, [
      [T + 3000, 1],
      [T + 9999, 2],
      [T + 10_000, 3],
      [T + 24_999, 4],
    ]);
    const out = aggregate([s], { fn: 'count', start: T + 3000, end: T + 25_000, step: 10_000 });
    assert.deepEqual(out, [{ metric: 'cpu', tags: { host: 'a' }, points: [[T, 2], [T + 10_000, 1], [T + 20_000, 1]] }]);
    // end-1 in a window with no point: that window exists (fill=null shows it), a window at end does not
    const n = aggregate([s], { fn: 'count', start: T + 3000, end: T + 30_001, step: 10_000, fill: 'null' });
    assert.deepEqual(pts(n), [[T, 2], [T + 10_000, 1], [T + 20_000, 1], [T + 30_000, null]]);
  });

  it('floors negative times (true floor, not truncation)', () => {
    assert.equal(windowStart(-1, 1000), -1000);
    assert.equal(windowStart(-1000, 1000), -1000);
    assert.equal(windowStart(-1001, 1000), -2000);
    assert.equal(windowStart(0, 1000), 0);
    assert.equal(windowStart(999, 1000), 0);
    const s = series('m', {}, [[-1500, 1], [-1000, 2], [-1, 3], [0, 4]]);
    const out = aggregate([s], { fn: 'sum', start: -1700, end: 1, step: 1000 });
    assert.deepEqual(pts(out), [[-2000, 1], [-1000, 5], [0, 4]]);
  });

  it('without step: one window [start, end) stamped start', () => {
    const s = series('m', {}, [[5, 1], [7, 2], [9, 10]]);
    assert.deepEqual(pts(aggregate([s], { fn: 'max', start: 3, end: 9 })), [[3, 2]]);
  });

  it('points outside [start, end) never count, even if the input holds them', () => {
    const s = series('m', {}, [[0, 100], [10, 1], [19, 2], [20, 100]]);
    assert.deepEqual(pts(aggregate([s], { fn: 'sum', start: 10, end: 20, step: 5 })), [[10, 1], [15, 2]]);
  });
});

describe('aggregate: functions', () => {
  const vals = [2, 4, 4, 4, 5, 5, 7, 9];
  const s = series('m', {}, vals.map((v, i) => [i, v]));
  const one = (fn: AggFn, sp: SeriesPoints = s): number | null => pts(aggregate([sp], { fn, start: 0, end: 100 }))[0]![1];

  it('count sum min max avg first last', () => {
    assert.equal(one('count'), 8);
    assert.equal(one('sum'), 40);
    assert.equal(one('min'), 2);
    assert.equal(one('max'), 9);
    assert.equal(one('avg'), 5);
    assert.equal(one('first'), 2);
    assert.equal(one('last'), 9);
  });

  it('stddev is the sample standard deviation; fewer than 2 points have no value', () => {
    assert.equal(one('stddev'), Math.sqrt(32 / 7));
    const single = series('m', {}, [[1, 5]]);
    assert.deepEqual(aggregate([single], { fn: 'stddev', start: 0, end: 10 }), [], 'fill=none: no point, no series');
    assert.deepEqual(pts(aggregate([single], { fn: 'stddev', start: 0, end: 10, fill: 'null' })), [[0, null]]);
    assert.deepEqual(pts(aggregate([single], { fn: 'stddev', start: 0, end: 10, fill: 'zero' })), [[0, 0]]);
  });

  it('percentiles use nearest rank ceil(NN/100 * n)', () => {
    const ten = series('m', {}, [7, 3, 10, 1, 2, 9, 4, 8, 6, 5].map((v, i) => [i, v]));
    assert.equal(one('p50', ten), 5);
    assert.equal(one('p90', ten), 9);
    assert.equal(one('p95', ten), 10);
    assert.equal(one('p99', ten), 10);
    const single = series('m', {}, [[0, -3]]);
    for (const fn of ['p50', 'p90', 'p95', 'p99'] as const) assert.equal(one(fn, single), -3);
    // n = 20: p95 rank is exactly 19 (no floating-point 0.95*20 drift)
    const twenty = series('m', {}, Array.from({ length: 20 }, (_, i) => [i, i + 1] as [number, number]));
    assert.equal(one('p95', twenty), 19);
    assert.equal(one('p50', twenty), 10);
  });

  it('percentiles are exact up to exactPercentileMax values per window, sketched (within alpha) above', () => {
    const values = Array.from({ length: 10_001 }, (_, i) => 1 + ((i * 7919) % 10_001)); // 1..10001, shuffled
    const sorted = [...values].sort((a, b) => a - b);
    const sp = (n: number): SeriesPoints => series('m', {}, values.slice(0, n).map((v, i) => [i, v]));
    const one = (fn: AggFn, s: SeriesPoints): number | null => pts(aggregate([s], { fn, start: 0, end: 1e6 }))[0]![1];
    const sketch = (n: number): DDSketch => {
      const sk = new DDSketch(PERCENTILE_SKETCH_ALPHA);
      sk.addRange(values, 0, n);
      return sk;
    };
    // the default threshold: 10,000 values exact, 10,001 sketched
    assert.equal(DEFAULT_AGGREGATE_LIMITS.exactPercentileMax, 10_000);
    const exact10k = [...values.slice(0, 10_000)].sort((a, b) => a - b);
    for (const nn of [50, 90, 95, 99]) {
      const fn = `p${nn}` as AggFn;
      assert.equal(one(fn, sp(10_000)), exact10k[Math.ceil((nn * 10_000) / 100) - 1], `${fn} of 10,000 values is exact`);
      const v = one(fn, sp(10_001))!;
      const e = sorted[Math.ceil((nn * 10_001) / 100) - 1]!;
      assert.equal(v, sketch(10_001).percentile(nn), `${fn} of 10,001 values comes from the sketch`);
      assert.ok(Math.abs(v - e) <= PERCENTILE_SKETCH_ALPHA * e, `${fn}: ${v} within alpha of ${e}`);
      assert.notEqual(v, e, `${fn}: the sketch's representative, not the exact value`);
    }
    // a lowered threshold, and every strategy (one series, dense, heap) gives the sketch's answer
    const lim = (exactPercentileMax: number): typeof DEFAULT_AGGREGATE_LIMITS => ({ ...DEFAULT_AGGREGATE_LIMITS, exactPercentileMax });
    assert.equal(pts(aggregate([sp(101)], { fn: 'p50', start: 0, end: 1e6 }, lim(101)))[0]![1], [...values.slice(0, 101)].sort((a, b) => a - b)[50]);
    assert.equal(pts(aggregate([sp(101)], { fn: 'p50', start: 0, end: 1e6 }, lim(100)))[0]![1], sketch(101).percentile(50));
    assert.equal(pts(aggregate([sp(101)], { fn: 'p50', start: 0, end: 1e6 }, lim(Infinity)))[0]![1], [...values.slice(0, 101)].sort((a, b) => a - b)[50]);
    throwsCode(() => aggregate([sp(5)], { fn: 'p50', start: 0, end: 10 }, lim(-1)), 'TSDB_ERR_CONFIG_INVALID');
    throwsCode(() => aggregate([sp(5)], { fn: 'p50', start: 0, end: 10 }, lim(1.5)), 'TSDB_ERR_CONFIG_INVALID');
  });

  it('a sketched window does not depend on how its values are split into series or partitions', () => {
    const rnd = seededRandom('query-aggregate sketch split');
    const n = 5000;
    const vs = Array.from({ length: n }, () => Math.exp(rnd.next() * 10 - 3) * (rnd.next() < 0.2 ? -1 : 1));
    const whole = aggregate([series('m', { h: 'x' }, vs.map((v, i) => [i, v]))], { fn: 'p99', start: 0, end: n, step: 1000, by: ['h'] }, { ...DEFAULT_AGGREGATE_LIMITS, exactPercentileMax: 10 });
    // the same values spread over 7 series (round robin, distinct timestamps per series), grouped into one
    const parts: Array<Array<[number, number]>> = Array.from({ length: 7 }, () => []);
    vs.forEach((v, i) => parts[i % 7]!.push([i, v]));
    const members = parts.map((p, j) => series('m', { h: 'x', part: String(j) }, p, j));
    for (const multiSeries of ['auto', 'dense', 'heap'] as const) {
      strategy.multiSeries = multiSeries;
      try {
        const split = aggregate(members, { fn: 'p99', start: 0, end: n, step: 1000, by: ['h'] }, { ...DEFAULT_AGGREGATE_LIMITS, exactPercentileMax: 10 });
        assert.deepEqual(split, whole, multiSeries);
      } finally {
        strategy.multiSeries = 'auto';
      }
    }
    // and it is what merging per-partition sketches of each window gives
    for (const [k, [w, v]] of whole[0]!.points.entries()) {
      const merged = new DDSketch(PERCENTILE_SKETCH_ALPHA);
      for (const p of parts) {
        const part = new DDSketch(PERCENTILE_SKETCH_ALPHA);
        for (const [t, x] of p) if (t >= w && t < w + 1000) part.add(x);
        merged.merge(DDSketch.decode(part.encode())); // as shipped between nodes
      }
      assert.equal(v, merged.percentile(99), `window ${k}`);
    }
  });

  it('increase adds drops as counter resets; rate divides by step or range in seconds', () => {
    const c = series('reqs', {}, [[0, 10], [1000, 15], [2000, 3], [3000, 8]]);
    assert.equal(pts(aggregate([c], { fn: 'increase', start: 0, end: 10_000 }))[0]![1], 13);
    assert.equal(pts(aggregate([c], { fn: 'rate', start: 0, end: 10_000 }))[0]![1], 1.3);
    assert.deepEqual(pts(aggregate([c], { fn: 'rate', start: 0, end: 4000, step: 2000 })), [[0, 2.5], [2000, 2.5]]);
    // pairs never cross a window boundary: 15 -> 3 is between windows here, so no reset is counted
    assert.deepEqual(pts(aggregate([c], { fn: 'increase', start: 0, end: 4000, step: 2000 })), [[0, 5], [2000, 5]]);
  });

  it('increase of a window with one point is 0; a window with none has no value', () => {
    const c = series('reqs', {}, [[0, 10], [2500, 11]]);
    assert.deepEqual(pts(aggregate([c], { fn: 'increase', start: 0, end: 3000, step: 1000 })), [[0, 0], [2000, 0]]);
  });
});

describe('aggregate: fill', () => {
  // values in windows 1 and 4 of [0, 6000) step 1000; windows 0, 2, 3, 5 empty
  const s = series('m', {}, [[1500, 10], [4200, 40]]);
  const q = (fill: FillPolicy, fn: AggFn = 'sum'): Array<[number, number | null]> => pts(aggregate([s], { fn, start: 0, end: 6000, step: 1000, fill }));

  it('none omits empty windows; null emits null; zero emits 0', () => {
    assert.deepEqual(q('none'), [[1000, 10], [4000, 40]]);
    assert.deepEqual(q('null'), [[0, null], [1000, 10], [2000, null], [3000, null], [4000, 40], [5000, null]]);
    assert.deepEqual(q('zero'), [[0, 0], [1000, 10], [2000, 0], [3000, 0], [4000, 40], [5000, 0]]);
    assert.deepEqual(q('zero', 'count'), [[0, 0], [1000, 1], [2000, 0], [3000, 0], [4000, 1], [5000, 0]]);
  });

  it('previous repeats the previous value to the end of the range, nothing before the first', () => {
    assert.deepEqual(q('previous'), [[1000, 10], [2000, 10], [3000, 10], [4000, 40], [5000, 40]]);
  });

  it('linear interpolates between neighbouring values only', () => {
    assert.deepEqual(q('linear'), [[1000, 10], [2000, 20], [3000, 30], [4000, 40]]);
  });

  it('a group with no point in range is left out whatever the fill', () => {
    const empty = series('m', { host: 'x' }, []);
    for (const fill of FILL_POLICIES) assert.deepEqual(aggregate([empty], { fn: 'count', start: 0, end: 5000, step: 1000, fill }), []);
  });
});

describe('aggregate: groups', () => {
  const a = series('cpu', { host: 'a', dc: 'eu' }, [[0, 1], [10, 2]], 1);
  const b = series('cpu', { host: 'b', dc: 'eu' }, [[0, 5], [10, 6]], 2);
  const c = series('mem', { host: 'a' }, [[5, 100]], 3);

  it('without by every series is its own group, sorted by metric then tags', () => {
    const out = aggregate([c, b, a], { fn: 'sum', start: 0, end: 20 });
    assert.deepEqual(out.map((s) => [s.metric, s.tags]), [
      ['cpu', { host: 'a', dc: 'eu' }],
      ['cpu', { host: 'b', dc: 'eu' }],
      ['mem', { host: 'a' }],
    ]);
  });

  it('with by: output tags are the by keys; a missing tag groups as absent; metric is "" when members differ', () => {
    const out = aggregate([a, b, c], { fn: 'sum', start: 0, end: 20, by: ['dc'] });
    assert.deepEqual(out, [
      { metric: 'cpu', tags: { dc: 'eu' }, points: [[0, 14]] },
      { metric: 'mem', tags: {}, points: [[0, 100]] },
    ]);
    const byHost = aggregate([a, b, c], { fn: 'sum', start: 0, end: 20, by: ['host'] });
    assert.deepEqual(byHost, [
      { metric: '', tags: { host: 'a' }, points: [[0, 103]] },
      { metric: 'cpu', tags: { host: 'b' }, points: [[0, 11]] },
    ]);
    const nobody = aggregate([a, b, c], { fn: 'count', start: 0, end: 20, by: ['zone'] });
    assert.deepEqual(nobody, [{ metric: '', tags: {}, points: [[0, 5]] }]);
    const proto = aggregate([a, b], { fn: 'count', start: 0, end: 20, by: ['constructor'] });
    assert.deepEqual(proto, [{ metric: 'cpu', tags: {}, points: [[0, 4]] }], 'prototype names are not tags');
  });

  it('by __name__ groups by metric and is not an output tag', () => {
    const out = aggregate([a, b, c], { fn: 'count', start: 0, end: 20, by: ['__name__'] });
    assert.deepEqual(out, [
      { metric: 'cpu', tags: {}, points: [[0, 4]] },
      { metric: 'mem', tags: {}, points: [[0, 1]] },
    ]);
  });

  it('rate and increase are per series, then summed', () => {
    // merged in time order, a then b would look like 1,5,2,6 with "resets"; per series it is 1 + 1
    const out = aggregate([a, b], { fn: 'increase', start: 0, end: 20, by: ['dc'] });
    assert.deepEqual(pts(out), [[0, 2]]);
  });

  it('first/last timestamp ties go by series key: (timestamp, key) order', () => {
    assert.deepEqual(pts(aggregate([b, a], { fn: 'first', start: 0, end: 20, by: ['dc'] })), [[0, 1]]);
    assert.deepEqual(pts(aggregate([b, a], { fn: 'last', start: 0, end: 20, by: ['dc'] })), [[0, 6]]);
  });
});

describe('aggregate: limits and validation', () => {
  const s = series('m', {}, [[0, 1]]);
  it('bounds the windows per series', () => {
    throwsCode(() => aggregate([s], { fn: 'count', start: 0, end: 1_000_001, step: 1 }), 'TSDB_ERR_QUERY_LIMIT', /1000001 windows/);
    assert.equal(aggregate([s], { fn: 'count', start: 0, end: 1_000_000, step: 1 }).length, 1);
    throwsCode(() => aggregate([s], { fn: 'count', start: 0, end: 100, step: 1 }, { maxWindows: 99, maxOutputPoints: 1e9 }), 'TSDB_ERR_QUERY_LIMIT');
  });

  it('bounds the output points of dense fills', () => {
    const many = Array.from({ length: 5 }, (_, i) => series('m', { i: String(i) }, [[0, 1]]));
    const limits = { maxWindows: 1000, maxOutputPoints: 400 };
    assert.equal(aggregate(many, { fn: 'count', start: 0, end: 100, step: 1 }, limits).length, 5, 'fill=none: 5 points');
    throwsCode(() => aggregate(many, { fn: 'count', start: 0, end: 100, step: 1, fill: 'zero' }, limits), 'TSDB_ERR_QUERY_LIMIT', /more than 400 points/);
  });

  it('rejects malformed queries', () => {
    throwsCode(() => aggregate([s], { fn: 'median' as AggFn, start: 0, end: 1 }), 'TSDB_ERR_QUERY_INVALID');
    throwsCode(() => aggregate([s], { fn: 'sum', start: 0, end: 1, fill: 'nope' as FillPolicy }), 'TSDB_ERR_QUERY_INVALID');
    throwsCode(() => aggregate([s], { fn: 'sum', start: 5, end: 5 }), 'TSDB_ERR_QUERY_RANGE');
    throwsCode(() => aggregate([s], { fn: 'sum', start: 0, end: 10, step: 0 }), 'TSDB_ERR_QUERY_INVALID');
    throwsCode(() => aggregate([s], { fn: 'sum', start: 0, end: 10, step: 1.5 }), 'TSDB_ERR_QUERY_INVALID');
    throwsCode(() => aggregate([s], { fn: 'sum', start: 0, end: 10, by: ['a-b'] }), 'TSDB_ERR_QUERY_INVALID');
  });
});

describe('parseStep / parseBy / parseFn / parseFill', () => {
  it('parses steps', () => {
    assert.equal(parseStep('10s'), 10_000);
    assert.equal(parseStep('1m'), 60_000);
    assert.equal(parseStep('1h'), 3_600_000);
    assert.equal(parseStep('1d'), 86_400_000);
    assert.equal(parseStep('250ms'), 250);
    assert.equal(parseStep('1.5s'), 1500);
    assert.equal(parseStep('1500'), 1500);
    assert.equal(parseStep(1500), 1500);
    for (const bad of ['', '0', '0s', '-1s', '1x', 's', '10 s s', '0.5', '1e3', 'NaN'] as const) {
      throwsCode(() => parseStep(bad), 'TSDB_ERR_QUERY_INVALID', /^cannot parse step/);
    }
    for (const bad of [0, -5, 1.5, Number.NaN, Infinity, 2 ** 60]) throwsCode(() => parseStep(bad), 'TSDB_ERR_QUERY_INVALID', /step/);
  });

  it('parses by', () => {
    assert.deepEqual(parseBy('host'), ['host']);
    assert.deepEqual(parseBy('host, dc,host'), ['host', 'dc']);
    assert.deepEqual(parseBy('__name__,_x9'), ['__name__', '_x9']);
    for (const bad of ['', ' ', 'a,,b', 'a,', '9a', 'a-b', 'a.b', 'é']) throwsCode(() => parseBy(bad), 'TSDB_ERR_QUERY_INVALID', /^cannot parse by/);
  });

  it('parses fn and fill', () => {
    for (const f of AGG_FNS) assert.equal(parseFn(f), f);
    for (const f of FILL_POLICIES) assert.equal(parseFill(f), f);
    throwsCode(() => parseFn('p42'), 'TSDB_ERR_QUERY_INVALID', /^cannot parse fn/);
    throwsCode(() => parseFill('linear '), 'TSDB_ERR_QUERY_INVALID', /^cannot parse fill/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// differential: engine vs. reference on seeded random data

const CASES = Number(process.env.AGG_CASES ?? 3000);
const PCT_CASES = Number(process.env.AGG_PCT_CASES ?? 5000);
const PERCENTILE_FNS: readonly AggFn[] = ['p50', 'p90', 'p95', 'p99'];

interface DifferentialOptions {
  /** The run's name (seed line). */
  name: string;
  cases: number;
  /** fn and fill of case c. */
  query: (c: number, pick: <T>(xs: readonly T[]) => T) => { fn: AggFn; fill: FillPolicy };
  /** Points per series: few (up to 40) or many (up to 400, so windows hold hundreds of values). */
  maxPoints: number;
  /** Value distributions to draw from (indexes into randomValues' modes). */
  valueModes: readonly number[];
  /** exactPercentileMax passed to the engine and the reference for case c. */
  exactMax: (c: number, int: (lo: number, hi: number) => number) => number;
}

/**
 * Runs `cases` random (input, query) pairs through the engine (every multi-series strategy) and the reference, and
 * compares: exactly, or within 1e-9 relative for sums (rule 34), or within the reference's bound for sketched
 * percentiles (alpha·|v| for windows over exactPercentileMax, carried through fill).
 */
function runDifferential(o: DifferentialOptions): void {
  const rnd = seededRandom(o.name);
  const { int, next } = rnd;
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  const METRICS = ['cpu', 'cpu_x', 'mem'];
  const TAGS: Record<string, string[]> = { host: ['a', 'b', 'c'], dc: ['eu', 'us'], env: ['prod'] };
  const BYS: Array<string[] | undefined> = [undefined, undefined, ['host'], ['host', 'dc'], ['dc', 'host'], ['zone'], ['__name__'], ['env', '__name__'], []];
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());

  const randomValues = (n: number): number[] => {
    const mode = pick(o.valueModes);
    const out: number[] = [];
    let c = int(0, 50);
    for (let i = 0; i < n; i++) {
      let v: number;
      if (mode === 0) v = int(-5, 5); // small ints: many equal values, zeros, negatives
      else if (mode === 1) v = (next() - 0.5) * 2000; // arbitrary floats
      else if (mode === 2) v = int(-3, 3) * 0.25;
      else if (mode === 3) v = 7; // constant
      else if (mode === 4) {
        // counter with occasional resets
        c = next() < 0.1 ? int(0, 5) : c + int(0, 20) * (next() < 0.5 ? 1 : 0.5);
        v = c;
      } else if (mode === 5) v = Math.exp(gauss() * 2 + 2); // lognormal (latencies)
      else if (mode === 6) v = next() < 0.6 ? 0.001 * (1 + next()) : 500 * (1 + next()); // bimodal, far apart
      else if (mode === 7) v = next() < 0.2 ? 0 : (next() < 0.5 ? -1 : 1) * Math.exp(gauss() * 4); // signs, zeros, wide
      else v = (next() < 0.5 ? -1 : 1) * 10 ** (next() * 30 - 15); // magnitudes 1e-15..1e15
      out.push(v + 0); // never -0
    }
    return out;
  };

  const randomTimes = (n: number): number[] => {
    const set = new Set<number>();
    const mode = int(0, 3);
    const center = int(-3000, 3000);
    const grid = pick([10, 50, 100]); // >= 81 slots, more than the 40 points a series may have
    let t = int(-4000, 2000);
    while (set.size < n) {
      if (mode === 0) set.add(int(-4000, 4000)); // uniform, negative included
      else if (mode === 1) set.add(center + (n > 150 ? int(-600, 600) : int(-150, 150))); // a dense cluster
      else if (mode === 3 && n <= 81) set.add(grid * int(-4000 / grid, 4000 / grid)); // a shared grid: equal timestamps across series
      else {
        t += next() < 0.15 ? int(200, 2000) : int(1, 40); // runs with gaps
        set.add(t);
      }
    }
    return [...set].sort((a, b) => a - b);
  };

  const t0 = performance.now();
  let points = 0;
  let sketched = 0;
  let sketchedWindows = 0;
  for (let c = 0; c < o.cases; c++) {
    // data
    const input: SeriesPoints[] = [];
    const keys = new Set<string>();
    const nSeries = int(1, 8);
    const start = int(-4500, 3500);
    const end = start + (next() < 0.1 ? int(1, 60) : int(1, 5000));
    const restrict = next() < 0.9;
    for (let s = 0; s < nSeries; s++) {
      const metric = next() < 0.7 ? 'cpu' : pick(METRICS);
      const tags: Record<string, string> = {};
      for (const [k, vals] of Object.entries(TAGS)) if (next() < 0.6) tags[k] = pick(vals);
      const key = canonicalSeriesKey(metric, tags);
      if (keys.has(key)) continue;
      keys.add(key);
      const r = next();
      const n = r < 0.1 ? 0 : r < 0.45 ? int(1, 4) : int(1, o.maxPoints); // few points + small steps = sparse groups
      let ts = randomTimes(n);
      let vs = randomValues(n);
      if (restrict) {
        const keep = ts.map((t) => t >= start && t < end);
        vs = vs.filter((_, i) => keep[i]);
        ts = ts.filter((_, i) => keep[i]);
      }
      input.push({ series: { partition: int(0, 3), id: s, metric, tags, key }, points: { ts, vs } });
      points += ts.length;
    }
    // query: fn and fill as the run says; step and by at random
    const { fn, fill } = o.query(c, pick);
    const range = end - start;
    const stepKind = int(0, 5);
    const step =
      stepKind === 0
        ? undefined
        : stepKind === 1
          ? range <= 60
            ? int(1, 10)
            : int(Math.max(1, Math.ceil(range / 400)), 60) // small: many windows
          : stepKind === 2
            ? int(61, 700)
            : stepKind === 3
              ? int(701, 6000) // large: often one or two windows
              : stepKind === 4
                ? Math.max(1, Math.floor(range / int(1, 9)) + int(-3, 3)) // close to (not) dividing the range
                : pick([1000, 500, 250, 100]); // round steps, start/end unaligned
    const q: AggregateQuery = { fn, start, end, fill };
    if (step !== undefined) q.step = step;
    const by = pick(BYS);
    if (by !== undefined) q.by = by;
    const exactPercentileMax = o.exactMax(c, int);
    const limits = { ...DEFAULT_AGGREGATE_LIMITS, exactPercentileMax };

    const ctx = (): string =>
      `case ${c} (seed ${rnd.seed}): query ${JSON.stringify(q)}, exactPercentileMax ${exactPercentileMax}\ninput ${JSON.stringify(input.map((s) => [s.series.key, s.points.ts, s.points.vs]))}`;
    const expected = referenceAggregateWithBounds(input, q, { exactPercentileMax, alpha: PERCENTILE_SKETCH_ALPHA });
    sketched += expected.reduce((a, e) => a + e.sketchedWindows, 0) > 0 ? 1 : 0;
    sketchedWindows += expected.reduce((a, e) => a + e.sketchedWindows, 0);
    // every strategy for multi-series groups must agree with the reference (auto picks by density)
    for (const multiSeries of ['auto', 'dense', 'heap'] as const) {
      strategy.multiSeries = multiSeries;
      let actual: AggregatedSeries[];
      try {
        actual = aggregate(input, q, limits);
      } catch (e) {
        assert.fail(`engine (${multiSeries}) threw ${(e as Error).message}\n${ctx()}`);
      } finally {
        strategy.multiSeries = 'auto';
      }
      assertSameAnswer(actual, expected, INEXACT.has(fn) || fill === 'linear', () => `strategy ${multiSeries}, ${ctx()}`);
    }
  }
  const ms = performance.now() - t0;
  console.log(
    `# ${o.name}: ${o.cases} cases (${sketched} with ${sketchedWindows} sketched percentile windows), ${points} input points, ${ms.toFixed(0)} ms (${Math.round((o.cases / ms) * 1000)} cases/s, 3 engine strategies + reference)`,
  );
}

describe('aggregate: differential against the reference implementation', () => {
  it(`agrees on ${CASES} random cases (every fn × fill; percentiles exact or sketched)`, () => {
    runDifferential({
      name: 'query-aggregate differential',
      cases: CASES,
      // fn and fill cycle so every pair is covered
      query: (c) => ({ fn: AGG_FNS[c % AGG_FNS.length]!, fill: FILL_POLICIES[Math.floor(c / AGG_FNS.length) % FILL_POLICIES.length]! }),
      maxPoints: 40,
      valueModes: [0, 1, 2, 3, 4, 5],
      // the default (exact here: windows hold at most 320 values) in half the cases; a low threshold in the others
      exactMax: (c, int) => (c % 2 === 0 ? DEFAULT_EXACT_PERCENTILE_MAX : int(0, 5)),
    });
  });

  it(`agrees on ${PCT_CASES} random percentile cases, large windows sketched (within alpha = ${PERCENTILE_SKETCH_ALPHA})`, () => {
    runDifferential({
      name: 'query-aggregate percentile differential',
      cases: PCT_CASES,
      query: (c, pick) => ({ fn: PERCENTILE_FNS[c % PERCENTILE_FNS.length]!, fill: pick(FILL_POLICIES) }),
      maxPoints: 400,
      valueModes: [0, 1, 2, 3, 4, 5, 6, 7, 8],
      // mostly low thresholds, so most windows with data are sketched; sometimes none (Infinity)
      exactMax: (c, int) => [0, 1, int(0, 5), int(2, 20), int(20, 300), Infinity][c % 6]!,
    });
  });
});
