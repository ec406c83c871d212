/**
 * Partial aggregates (docs/query-semantics.md "Partial aggregates"): random inputs, series spread over random
 * "partitions", runs of points turned into block summaries, partials computed per partition in random series order,
 * merged in random partition order, finalized — against the single-pass engine `aggregate` (itself checked against
 * the reference in query-aggregate.test.ts). Exact for count min max first last and percentiles (exact and sketched:
 * a sketch depends only on the multiset), 1e-9 relative for sum avg stddev rate increase and fill=linear (rule 34).
 * Small exactPercentileMax values make merges cross the exact → sketch switch.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { canonicalSeriesKey } from '../../src/common/series-key.js';
import {
  AGG_FNS,
  FILL_POLICIES,
  aggregate,
  addSeriesPartial,
  decodePartial,
  encodePartial,
  finalizePartials,
  mergePartials,
  planAggregate,
  summariesAnswer,
  windowStart,
  type AggFn,
  type AggregateQuery,
  type AggregatedSeries,
  type PartialAggregate,
} from '../../src/query/aggregate/index.js';
import type { SeriesPoints } from '../../src/query/query-service.js';
import type { BlockSummary, PointColumns } from '../../src/store/read-model.js';
import { seededRandom } from '../helpers/seeded-random.js';

const INEXACT: ReadonlySet<AggFn> = new Set<AggFn>(['sum', 'avg', 'stddev', 'rate', 'increase']);

function diff(actual: AggregatedSeries[], expected: AggregatedSeries[], tolerant: boolean): string | undefined {
  if (actual.length !== expected.length) return `series count ${actual.length} != ${expected.length}`;
  for (let s = 0; s < expected.length; s++) {
    const a = actual[s]!;
    const e = expected[s]!;
    if (a.metric !== e.metric || JSON.stringify(a.tags) !== JSON.stringify(e.tags)) return `series ${s}: ${a.metric}${JSON.stringify(a.tags)} != ${e.metric}${JSON.stringify(e.tags)}`;
    if (a.points.length !== e.points.length) return `series ${s}: ${a.points.length} points != ${e.points.length}`;
    for (let i = 0; i < e.points.length; i++) {
      const [at, av] = a.points[i]!;
      const [et, ev] = e.points[i]!;
      if (at !== et) return `series ${s} point ${i}: t ${at} != ${et}`;
      if (av === null || ev === null) {
        if (av !== ev) return `series ${s} point ${i}: ${av} != ${ev}`;
        continue;
      }
      const ok = av === ev || (tolerant && Math.abs(av - ev) <= 1e-9 * Math.max(1, Math.abs(av), Math.abs(ev)));
      if (!ok) return `series ${s} point ${i} @${et}: ${av} != ${ev}`;
    }
  }
  return undefined;
}

/** The header a block of these (ascending, distinct) points would carry. */
function summaryOf(ts: number[], vs: number[], from: number, to: number): BlockSummary {
  let min = vs[from]!;
  let max = min;
  let sum = min;
  for (let i = from + 1; i < to; i++) {
    min = Math.min(min, vs[i]!);
    max = Math.max(max, vs[i]!);
    sum += vs[i]!;
  }
  return { count: to - from, minT: ts[from]!, maxT: ts[to - 1]!, min, max, sum, first: vs[from]!, last: vs[to - 1]! };
}

describe('partial aggregates: per partition, merged, finalized = the single-pass engine', () => {
  it('thousands of random queries, series spread over partitions, runs answered from block summaries', () => {
    const r = seededRandom('query-partial');
    const pick = <T>(xs: readonly T[]): T => xs[r.int(0, xs.length - 1)]!;
    const shuffle = <T>(xs: T[]): T[] => {
      for (let i = xs.length - 1; i > 0; i--) {
        const j = r.int(0, i);
        [xs[i], xs[j]] = [xs[j]!, xs[i]!];
      }
      return xs;
    };
    const CASES = 4000;
    let summarized = 0;
    let sketchedMerges = 0;
    let encoded = 0;
    for (let c = 0; c < CASES; c++) {
      const base = 1_000_000 + r.int(-5000, 5000);
      const input: SeriesPoints[] = [];
      const nSeries = r.int(1, 7);
      const keys = new Set<string>();
      for (let s = 0; s < nSeries; s++) {
        const metric = pick(['a', 'a', 'b']);
        const tags: Record<string, string> = {};
        if (r.next() < 0.7) tags.host = pick(['x', 'y', 'z']);
        if (r.next() < 0.5) tags.dc = pick(['eu', 'us']);
        const key = canonicalSeriesKey(metric, tags);
        if (keys.has(key)) continue;
        keys.add(key);
        const n = pick([0, 1, 2, 5, 20, 60, 150]);
        const grid = pick([1, 7, 100, 1000]);
        const tset = new Set<number>();
        for (let i = 0; i < n; i++) tset.add(base + grid * r.int(-20, 200));
        const ts = [...tset].sort((x, y) => x - y);
        const mode = r.int(0, 4);
        const vs = ts.map((t, i) => {
          const v = mode === 0 ? r.int(-5, 5) : mode === 1 ? (r.next() - 0.5) * 2000 : mode === 2 ? (i % 17) * 3 : mode === 3 ? 7 : (r.next() < 0.5 ? -1 : 1) * 10 ** (r.next() * 12 - 6);
          return v + 0;
        });
        input.push({ series: { partition: 0, id: s, metric, tags, key }, points: { ts, vs } });
      }
      const fn = pick(AGG_FNS);
      const start = base + r.int(-3000, 60_000);
      const end = start + r.int(1, 200_000);
      const step = r.next() < 0.25 ? undefined : pick([1, 7, 100, 1000, 5000, 20_000, 100_000]);
      const by = pick([undefined, undefined, ['host'], ['dc'], ['host', 'dc'], ['__name__'], ['zone'], []]);
      const q: AggregateQuery = { fn, start, end, fill: pick(FILL_POLICIES), ...(step !== undefined ? { step } : {}), ...(by !== undefined ? { by } : {}) };
      const exactPercentileMax = pick([0, 1, 3, 10, 50, 10_000, Infinity]);
      const limits = { maxWindows: 1_000_000, maxOutputPoints: 10_000_000, exactPercentileMax };
      if (step !== undefined && Math.floor((end - 1) / step) - Math.floor(start / step) > 100_000) continue;
      // as the query service always did: series without points in [start, end) are not aggregated (rules 9, 14)
      const expected = aggregate(input.filter((sp) => sp.points.ts.some((t) => t >= start && t < end)), q, limits);

      const p = planAggregate(q, limits);
      const partitions = r.int(1, 4);
      const accs: PartialAggregate[] = Array.from({ length: partitions }, () => new Map());
      const useSummaries = summariesAnswer(p.kind);
      for (const sp of shuffle(input.slice())) {
        const { ts, vs } = sp.points;
        const summaries: BlockSummary[] = [];
        const rest: PointColumns = { ts: [], vs: [] };
        let i = 0;
        while (i < ts.length) {
          // a run of points inside [start, end) and one window becomes a "block" answered from its header
          const inRange = (k: number): boolean => ts[k]! >= start && ts[k]! < end;
          const win = (t: number): number => (step === undefined ? 0 : windowStart(t, step));
          if (useSummaries && inRange(i) && r.next() < 0.4) {
            let to = i + 1;
            const want = r.int(1, 30);
            while (to < ts.length && to - i < want && inRange(to) && win(ts[to]!) === win(ts[i]!)) to++;
            summaries.push(summaryOf(ts, vs, i, to));
            summarized++;
            i = to;
          } else {
            rest.ts.push(ts[i]!);
            rest.vs.push(vs[i]!);
            i++;
          }
        }
        addSeriesPartial(accs[r.int(0, partitions - 1)]!, p, q.by, sp.series, rest, shuffle(summaries));
      }
      const merged: PartialAggregate = new Map();
      for (const acc of shuffle(accs)) {
        // some partials travel as JSON, as between nodes (docs/format/partial-aggregate.md)
        const travelled = r.next() < 0.5 ? decodePartial(JSON.parse(JSON.stringify(encodePartial(acc, p, q))), p, q) : acc;
        if (travelled !== acc) encoded++;
        mergePartials(merged, travelled, p);
      }
      if (fn.startsWith('p')) for (const g of merged.values()) for (const sk of g.sk) if (sk) sketchedMerges++;
      const actual = finalizePartials(merged, p, limits);
      const why = diff(actual, expected, INEXACT.has(fn) || q.fill === 'linear');
      if (why) assert.fail(`case ${c}: ${why}\nquery ${JSON.stringify(q)} exactPercentileMax ${exactPercentileMax}\nactual   ${JSON.stringify(actual)}\nexpected ${JSON.stringify(expected)}`);
    }
    console.log(`# query-partial: ${CASES} cases, ${summarized} block summaries, ${sketchedMerges} sketched percentile windows, ${encoded} partials through JSON`);
    assert.ok(summarized > 1000, 'many runs were answered from summaries');
    assert.ok(sketchedMerges > 100, 'many percentile windows crossed into a sketch');
  });

  it('first/last ties across partitions go to the smallest/largest series key, whatever the merge order', () => {
    const q: AggregateQuery = { fn: 'first', start: 0, end: 100 };
    const limits = { maxWindows: 10, maxOutputPoints: 100 };
    const mk = (key: string, v: number): SeriesPoints => ({ series: { partition: 0, id: 0, metric: 'm', tags: { h: key }, key: canonicalSeriesKey('m', { h: key }) }, points: { ts: [10, 20], vs: [v, v + 1] } });
    for (const fn of ['first', 'last'] as const) {
      for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0]]) {
        const p = planAggregate({ ...q, fn, by: [] }, limits);
        const series = [mk('a', 1), mk('b', 10), mk('c', 100)];
        const merged: PartialAggregate = new Map();
        for (const i of order) {
          const acc: PartialAggregate = new Map();
          addSeriesPartial(acc, p, [], series[i]!.series, series[i]!.points, []);
          mergePartials(merged, acc, p);
        }
        assert.deepEqual(finalizePartials(merged, p, limits)[0]!.points, [[0, fn === 'first' ? 1 : 101]]);
      }
    }
  });
});

describe('partial aggregate JSON (docs/format/partial-aggregate.md)', () => {
  const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/partial-aggregate.json', import.meta.url));
  const T = 1_700_000_000_000;
  const series = (host: string, dc: string | undefined, pts: Array<[number, number]>): SeriesPoints => {
    const tags: Record<string, string> = dc === undefined ? { host } : { host, dc };
    return { series: { partition: 0, id: 0, metric: 'cpu', tags, key: canonicalSeriesKey('cpu', tags) }, points: { ts: pts.map((x) => x[0]), vs: pts.map((x) => x[1]) } };
  };
  const input = [
    series('a', 'eu', [[T, 1], [T + 1000, -0.5], [T + 61_000, 3], [T + 62_000, 1.5e308]]),
    series('b', 'eu', [[T, 2], [T + 30_000, 2.25], [T + 61_000, 1.7e308]]),
    series('c', undefined, [[T + 5000, -0], [T + 6000, 0.2], [T + 7000, 0.3]]),
  ];
  const cases = (): Array<{ q: AggregateQuery; exactPercentileMax: number }> => [
    ...AGG_FNS.map((fn) => ({ q: { fn, start: T, end: T + 120_000, step: 60_000, by: ['dc'] }, exactPercentileMax: 10_000 })),
    { q: { fn: 'p90', start: T, end: T + 120_000 }, exactPercentileMax: 2 },
    { q: { fn: 'sum', start: T, end: T + 120_000, step: 60_000 }, exactPercentileMax: 10_000 },
  ];
  const encodeCase = ({ q, exactPercentileMax }: { q: AggregateQuery; exactPercentileMax: number }) => {
    const limits = { maxWindows: 100, maxOutputPoints: 1000, exactPercentileMax };
    const p = planAggregate(q, limits);
    const acc: PartialAggregate = new Map();
    for (const sp of input) addSeriesPartial(acc, p, q.by, sp.series, sp.points, []);
    return { p, limits, encoded: encodePartial(acc, p, q) };
  };

  it('encodes every fn as the golden fixture says, and decodes back to the same answer', () => {
    const got = cases().map((c) => JSON.parse(JSON.stringify(encodeCase(c).encoded)));
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(FIXTURE)) {
      const note = 'partial aggregates, docs/format/partial-aggregate.md; regenerate with UPDATE_GOLDEN=1 only for a deliberate format change';
      writeFileSync(FIXTURE, `{"note": ${JSON.stringify(note)},\n "cases": [\n  ${got.map((c) => JSON.stringify(c)).join(',\n  ')}\n ]}\n`);
    }
    const golden = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: unknown[] };
    assert.deepEqual(got, golden.cases);
    for (const c of cases()) {
      const { p, limits, encoded } = encodeCase(c);
      const expected = aggregate(input, c.q, limits);
      const again = finalizePartials(decodePartial(JSON.parse(JSON.stringify(encoded)), p, c.q), p, limits);
      assert.equal(diff(again, expected, INEXACT.has(c.q.fn)), undefined, c.q.fn);
    }
    // a sum past the float range and a -0 minimum survive JSON as strings
    const text = (fn: AggFn): string => JSON.stringify(encodeCase({ q: { fn, start: T, end: T + 120_000, step: 60_000, by: ['dc'] }, exactPercentileMax: 0 }).encoded);
    assert.match(text('sum'), /\[1,3,"Infinity"\]/);
    assert.match(text('min'), /\[0,3,"-0"\]/);
  });

  it('refuses a partial of another query, another version or a malformed window', () => {
    const c = cases()[0]!;
    const { p, encoded } = encodeCase(c);
    const code = (f: () => unknown, re: RegExp): void =>
      assert.throws(f, (e: Error & { code?: string }) => e.code === 'TSDB_ERR_INTERNAL' && /^cannot decode partial aggregate: /.test(e.message) && re.test(e.message));
    code(() => decodePartial(encoded, p, { ...c.q, end: c.q.end + 1 }), /answers/);
    code(() => decodePartial({ ...encoded, v: 2 }, p, c.q), /version/);
    const bad = JSON.parse(JSON.stringify(encoded));
    bad.groups[0].windows[0][0] = 99;
    code(() => decodePartial(bad, p, c.q), /window index/);
    const dup = JSON.parse(JSON.stringify(encoded));
    dup.groups.push(dup.groups[0]);
    code(() => decodePartial(dup, p, c.q), /twice/);
  });
});
