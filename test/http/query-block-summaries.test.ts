/**
 * Whole blocks answered from their headers (docs/query-semantics.md "Block summaries"), over HTTP: in-order data
 * flushed into many small blocks is aggregated mostly from block headers (tsdb_query_blocks_total{source="header"}
 * grows), and the answers equal the reference over the written points. Then duplicates and out-of-order points
 * (in the head, then flushed into overlapping blocks) make blocks overlap: those are decoded, answers stay equal.
 * Functions a header cannot answer (stddev, percentiles, rate, increase) never use headers; raw queries neither.
 * The max-points guard counts summarized points.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalSeriesKey } from '../../src/common/series-key.js';
import type { AggFn } from '../../src/query/aggregate/index.js';
import type { SeriesPoints } from '../../src/query/query-service.js';
import { referenceAggregate } from '../helpers/reference-aggregate.js';
import { testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;

const MINUTE = 60_000;
const T0 = 1_700_000_040_000; // not aligned to the block window
const HOSTS = ['a', 'b', 'c', 'd', 'e', 'f'];
const HEADER_FNS: AggFn[] = ['count', 'sum', 'min', 'max', 'avg', 'first', 'last'];
const OTHER_FNS: AggFn[] = ['stddev', 'p50', 'p99', 'rate', 'increase'];
const INEXACT = new Set<AggFn>(['sum', 'avg', 'stddev', 'rate', 'increase']);

describe('aggregates from block headers (over HTTP, with flushes, duplicates and out-of-order points)', () => {
  let node: Node;
  let token = '';
  /** host → (t → last value written) */
  const model = new Map<string, Map<number, number>>();

  const write = async (points: Array<{ host: string; t: number; v: number }>): Promise<void> => {
    const res = await node.app.inject({
      method: 'POST',
      url: '/api/v1/write',
      payload: { points: points.map((p) => ({ metric: 'bs', tags: { host: p.host, dc: p.host < 'd' ? 'eu' : 'us' }, timestamp: p.t, value: p.v })) },
    });
    assert.equal(res.statusCode, 200, res.body);
    token = res.json().token;
    for (const p of points) {
      if (!model.has(p.host)) model.set(p.host, new Map());
      model.get(p.host)!.set(p.t, p.v);
    }
  };

  const flush = async (): Promise<void> => {
    const res = await node.app.inject({ url: `/api/v1/query?selector=bs&start=0&end=1&after=${encodeURIComponent(token)}` });
    assert.equal(res.statusCode, 200, res.body);
    await node.materializer!.flushAll('test');
  };

  const blocks = async (): Promise<{ header: number; decoded: number }> => {
    const out = { header: 0, decoded: 0 };
    for (const v of (await node.metrics.queryBlocks.get()).values) out[v.labels.source as 'header' | 'decoded'] += v.value;
    return out;
  };

  const expected = (fn: AggFn, start: number, end: number, step: number | undefined, by: string[] | undefined) => {
    const input: SeriesPoints[] = [...model.entries()]
      .sort((x, y) => (x[0] < y[0] ? -1 : 1))
      .map(([host, m], id) => {
        const ts = [...m.keys()].filter((t) => t >= start && t < end).sort((x, y) => x - y);
        const tags = { host, dc: host < 'd' ? 'eu' : 'us' };
        return { series: { partition: 0, id, metric: 'bs', tags, key: canonicalSeriesKey('bs', tags) }, points: { ts, vs: ts.map((t) => m.get(t)!) } };
      })
      .filter((sp) => sp.points.ts.length > 0);
    return referenceAggregate(input, { fn, start, end, ...(step !== undefined ? { step } : {}), ...(by !== undefined ? { by } : {}) });
  };

  const check = async (fn: AggFn, start: number, end: number, step: number | undefined, by: string[] | undefined): Promise<void> => {
    const qs = new URLSearchParams({ selector: 'bs', start: String(start), end: String(end), fn, after: token });
    if (step !== undefined) qs.set('step', String(step));
    if (by !== undefined) qs.set('by', by.join(','));
    const res = await node.app.inject({ url: `/api/v1/query?${qs}` });
    assert.equal(res.statusCode, 200, res.body);
    const actual = res.json().series as Array<{ metric: string; tags: Record<string, string>; points: Array<[number, number]> }>;
    const exp = expected(fn, start, end, step, by);
    const ctx = `${fn} [${start}, ${end}) step ${step} by ${by}`;
    assert.equal(actual.length, exp.length, ctx);
    for (let s = 0; s < exp.length; s++) {
      assert.deepEqual(actual[s]!.tags, exp[s]!.tags, ctx);
      assert.equal(actual[s]!.points.length, exp[s]!.points.length, ctx);
      for (let i = 0; i < exp[s]!.points.length; i++) {
        const [at, av] = actual[s]!.points[i]!;
        const [et, ev] = exp[s]!.points[i]! as [number, number];
        assert.equal(at, et, ctx);
        if (INEXACT.has(fn)) assert.ok(Math.abs(av - ev) <= 1e-9 * Math.max(1, Math.abs(av), Math.abs(ev)), `${ctx}: ${av} != ${ev}`);
        else assert.equal(av, ev, `${ctx} @${et}`);
      }
    }
  };

  /** Queries whose windows hold whole blocks (1 min blocks; steps of 1, 2, 5 min; no step) and some that cut them. */
  const sweep = async (fns: AggFn[]): Promise<void> => {
    const end = T0 + 20 * MINUTE;
    for (const fn of fns) {
      for (const [start, stop] of [[T0 - MINUTE, end + MINUTE], [T0 + 90_000, end - 30_000], [T0 + 2 * MINUTE + 1, T0 + 9 * MINUTE - 7]]) {
        for (const step of [undefined, MINUTE, 2 * MINUTE, 5 * MINUTE, 45_000]) {
          for (const by of [undefined, ['dc'], ['zone']]) await check(fn, start!, stop!, step, by);
        }
      }
    }
  };

  before(async () => {
    // no result cache: the same query after a flush must read again
    node = await testNode({ partitions: 2, blockWindow: MINUTE, flushInterval: 3_600_000, queryCacheBytes: 0 });
    // 20 minutes of one point per host every 5 s, in order, flushed every 2 minutes: blocks are at most one
    // block window (1 min) long, strictly increasing, and overlap nothing.
    for (let m = 0; m < 20; m += 2) {
      const pts: Array<{ host: string; t: number; v: number }> = [];
      for (let t = T0 + m * MINUTE; t < T0 + (m + 2) * MINUTE; t += 5000) {
        for (const [i, host] of HOSTS.entries()) pts.push({ host, t, v: Math.round(Math.sin(t / 1e5 + i) * 1000) / 8 });
      }
      await write(pts);
      await flush();
    }
  });
  after(async () => node?.dispose());

  it('in-order flushed data: header-answerable functions read most blocks from headers, answers equal the reference', async () => {
    const before = await blocks();
    await sweep(HEADER_FNS);
    const used = await blocks();
    assert.ok(used.header - before.header > 1000, `blocks from headers: ${used.header - before.header}`);
  });

  it('stddev, percentiles, rate and increase decode every block; raw queries use no headers', async () => {
    const before = await blocks();
    await sweep(OTHER_FNS);
    const res = await node.app.inject({ url: `/api/v1/query?selector=bs&start=${T0}&end=${T0 + 20 * MINUTE}&after=${encodeURIComponent(token)}` });
    assert.equal(res.statusCode, 200);
    const used = await blocks();
    assert.equal(used.header, before.header, 'no block answered from a header');
    assert.ok(used.decoded > before.decoded);
  });

  it('duplicates and out-of-order points (head, then flushed) make blocks overlap: decoded, answers still equal', async () => {
    // rewrite existing timestamps with new values and add points between existing ones, in a few minutes only
    const pts: Array<{ host: string; t: number; v: number }> = [];
    for (const host of ['a', 'e']) {
      for (const m of [3, 7, 12]) {
        pts.push({ host, t: T0 + m * MINUTE + 10_000, v: 5000 + m });
        pts.push({ host, t: T0 + m * MINUTE + 12_345, v: -m });
      }
    }
    await write(pts);
    const b0 = await blocks();
    await sweep(HEADER_FNS); // overlapping the head
    const b1 = await blocks();
    await flush();
    await sweep(HEADER_FNS); // overlapping blocks
    const b2 = await blocks();
    assert.ok(b1.header > b0.header && b2.header > b1.header, 'blocks nobody overlaps still come from headers');
    assert.ok(b1.decoded > b0.decoded && b2.decoded > b1.decoded, 'overlapped blocks are decoded');
  });

  it('the max-points guard counts points answered from headers', async () => {
    const small = await testNode({ partitions: 1, blockWindow: MINUTE, flushInterval: 3_600_000, maxQueryPoints: 50 });
    try {
      const points = Array.from({ length: 60 }, (_, i) => ({ metric: 'g', tags: {}, timestamp: T0 + i * 1000, value: i }));
      const w = await small.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points } });
      const after = encodeURIComponent(w.json().token);
      await small.app.inject({ url: `/api/v1/query?selector=g&start=0&end=1&after=${after}` });
      await small.materializer!.flushAll('test');
      const res = await small.app.inject({ url: `/api/v1/query?selector=g&start=0&end=${T0 + 1e6}&fn=count&after=${after}` });
      assert.equal(res.statusCode, 422, res.body);
      assert.equal(res.json().error.code, 'TSDB_ERR_QUERY_LIMIT');
      let header = 0;
      for (const v of (await small.metrics.queryBlocks.get()).values) if (v.labels.source === 'header') header += v.value;
      assert.ok(header > 0, 'the points were counted from headers');
    } finally {
      await small.dispose();
    }
  });
});
