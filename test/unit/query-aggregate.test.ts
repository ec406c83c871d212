import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalSeriesKey } from '../../src/common/series-key.js';
import { AGG_FNS, FILL_POLICIES, aggregate, parseBy, parseFill, parseFn, parseStep, windowStart } from '../../src/query/aggregate/index.js';
import type { AggFn, AggregateQuery, AggregatedSeries, FillPolicy } from '../../src/query/aggregate/index.js';
import { strategy } from '../../src/query/aggregate/aggregate.js';
import type { SeriesPoints } from '../../src/query/query-service.js';
import { referenceAggregate } from '../helpers/reference-aggregate.js';
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
 * differ (INEXACT fns, and fill=linear which interpolates between such values): there |a-b| <= 1e-9 * max(1,|a|,|b|).
 */
function assertSameAnswer(actual: AggregatedSeries[], expected: AggregatedSeries[], tolerant: boolean, ctx: () => string): void {
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
      if (tolerant ? !(Math.abs(av - ev) <= 1e-9 * Math.max(1, Math.abs(av), Math.abs(ev))) : av !== ev) {
        fail(`series ${s} point ${i}: value ${av} != ${ev}`);
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

describe('aggregate: differential against the reference implementation', () => {
  it(`agrees on ${CASES} random cases`, () => {
    const rnd = seededRandom('query-aggregate differential');
    const { int, next } = rnd;
    const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
    const METRICS = ['cpu', 'cpu_x', 'mem'];
    const TAGS: Record<string, string[]> = { host: ['a', 'b', 'c'], dc: ['eu', 'us'], env: ['prod'] };
    const BYS: Array<string[] | undefined> = [undefined, undefined, ['host'], ['host', 'dc'], ['dc', 'host'], ['zone'], ['__name__'], ['env', '__name__'], []];

    const randomValues = (n: number): number[] => {
      const mode = int(0, 4);
      const out: number[] = [];
      let c = int(0, 50);
      for (let i = 0; i < n; i++) {
        let v: number;
        if (mode === 0) v = int(-5, 5); // small ints: many equal values, zeros, negatives
        else if (mode === 1) v = (next() - 0.5) * 2000; // arbitrary floats
        else if (mode === 2) v = int(-3, 3) * 0.25;
        else if (mode === 3) v = 7; // constant
        else {
          // counter with occasional resets
          c = next() < 0.1 ? int(0, 5) : c + int(0, 20) * (next() < 0.5 ? 1 : 0.5);
          v = c;
        }
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
        else if (mode === 1) set.add(center + int(-150, 150)); // a dense cluster
        else if (mode === 3) set.add(grid * int(-4000 / grid, 4000 / grid)); // a shared grid: equal timestamps across series
        else {
          t += next() < 0.15 ? int(200, 2000) : int(1, 40); // runs with gaps
          set.add(t);
        }
      }
      return [...set].sort((a, b) => a - b);
    };

    const t0 = performance.now();
    let points = 0;
    for (let c = 0; c < CASES; c++) {
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
        const n = r < 0.1 ? 0 : r < 0.45 ? int(1, 4) : int(1, 40); // few points + small steps = sparse groups
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
      // query: fn and fill cycle so every pair is covered; step and by at random
      const fn = AGG_FNS[c % AGG_FNS.length]!;
      const fill = FILL_POLICIES[Math.floor(c / AGG_FNS.length) % FILL_POLICIES.length]!;
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

      const ctx = (): string => `case ${c} (seed ${rnd.seed}): query ${JSON.stringify(q)}\ninput ${JSON.stringify(input.map((s) => [s.series.key, s.points.ts, s.points.vs]))}`;
      const expected = referenceAggregate(input, q);
      // every strategy for multi-series groups must agree with the reference (auto picks by density)
      for (const multiSeries of ['auto', 'dense', 'heap'] as const) {
        strategy.multiSeries = multiSeries;
        let actual: AggregatedSeries[];
        try {
          actual = aggregate(input, q);
        } catch (e) {
          assert.fail(`engine (${multiSeries}) threw ${(e as Error).message}\n${ctx()}`);
        } finally {
          strategy.multiSeries = 'auto';
        }
        assertSameAnswer(actual, expected, INEXACT.has(fn) || fill === 'linear', () => `strategy ${multiSeries}, ${ctx()}`);
      }
    }
    const ms = performance.now() - t0;
    console.log(`# query-aggregate differential: ${CASES} cases, ${points} input points, ${ms.toFixed(0)} ms (${Math.round((CASES / ms) * 1000)} cases/s, 3 engine strategies + reference)`);
  });
});
