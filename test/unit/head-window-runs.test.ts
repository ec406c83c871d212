import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBlock } from '../../src/codec/block.js';
import { Head, runsOf } from '../../src/materializer/head.js';
import { flushBatch, mergeHeads } from '../../src/materializer/head-flush.js';
import { mergeLogOrdered } from '../../src/materializer/merge-points.js';
import { blockKey } from '../../src/store/row-keys.js';
import { SeriesIndex } from '../../src/store/series-index.js';
import { seededRandom } from '../helpers/seeded-random.js';

const W = 7_200_000;
type Pt = [number, number];

/** Appended points per series, split by window, in log order: what the head must give back. */
function expected(points: Array<[number, number, number]>): Map<number, Map<number, Pt[]>> {
  const out = new Map<number, Map<number, Pt[]>>();
  for (const [id, t, v] of points) {
    let byWin = out.get(id);
    if (!byWin) out.set(id, (byWin = new Map()));
    const win = Math.floor(t / W) * W;
    let pts = byWin.get(win);
    if (!pts) byWin.set(win, (pts = []));
    pts.push([t, v]);
  }
  return out;
}

function randomPoints(r: ReturnType<typeof seededRandom>, n: number): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  const base = 1_451_606_400_000 + r.int(-3, 3) * W;
  for (let i = 0; i < n; i++) {
    const id = r.int(0, 20);
    // Mostly in-order scrape times, some late (earlier windows), some duplicates of a recent timestamp.
    const k = r.next();
    const t = k < 0.1 ? base + r.int(-3 * W, 0) : k < 0.15 && out.length > 0 ? out[r.int(0, out.length - 1)]![1] : base + i * 1000 + r.int(-500, 500);
    const v = r.next() < 0.05 ? -0 : r.next() < 0.5 ? r.int(0, 3) : r.next() * 1e6;
    out.push([id, t, v]);
  }
  return out;
}

function windowRuns(h: Head, id: number): Map<number, Pt[]> {
  const out = new Map<number, Pt[]>();
  for (const run of h.read(id)) {
    assert.ok(run.ts.length > 0, 'no empty runs');
    const win = Math.floor(run.ts[0]! / W) * W;
    assert.ok(!out.has(win), `one run per window (${win})`);
    for (const t of run.ts) assert.equal(Math.floor(t / W) * W, win, 'a run holds one window');
    out.set(win, run.ts.map((t, i) => [t, run.vs[i]!]));
  }
  return out;
}

const bits = (v: number): bigint => new BigUint64Array(Float64Array.of(v).buffer)[0]!;
function sameRuns(got: Map<number, Pt[]>, want: Map<number, Pt[]>, what: string): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), `${what}: windows`);
  for (const [win, pts] of want) {
    const g = got.get(win)!;
    assert.deepEqual(g.map((p) => p[0]), pts.map((p) => p[0]), `${what}: timestamps of window ${win}`);
    assert.deepEqual(g.map((p) => bits(p[1])), pts.map((p) => bits(p[1])), `${what}: value bits of window ${win}`);
  }
}

test('a head keeps one run per (series, window), each reading back exactly what was appended, in log order', () => {
  const r = seededRandom('head-window-runs');
  for (let round = 0; round < 20; round++) {
    const pts = randomPoints(r, r.int(1, 3000));
    const h = new Head(W);
    for (const [id, t, v] of pts) h.append(id, t, v);
    const want = expected(pts);
    assert.equal(h.points, pts.length);
    assert.equal(h.series.size, want.size);
    for (const [id, byWin] of want) sameRuns(windowRuns(h, id), byWin, `round ${round} series ${id}`);
    assert.deepEqual(h.read(999), []);
    let bytes = 0;
    for (const first of h.series.values()) for (const run of runsOf(first)) bytes += run.enc.byteLength;
    assert.equal(h.byteLength(), bytes);
    assert.ok(h.byteLength() > 0);
  }
});

test('mergeHeads keeps log order per window (older head first), so the last write of a timestamp wins', () => {
  const r = seededRandom('head-window-runs-merge');
  for (let round = 0; round < 10; round++) {
    const a = randomPoints(r, r.int(1, 1500));
    const b = randomPoints(r, r.int(1, 1500));
    const older = new Head(W);
    const newer = new Head(W);
    for (const [id, t, v] of a) older.append(id, t, v);
    for (const [id, t, v] of b) newer.append(id, t, v);
    const merged = mergeHeads(older, newer);
    const want = expected([...a, ...b]);
    for (const [id, byWin] of want) {
      sameRuns(windowRuns(merged, id), byWin, `round ${round} series ${id}`);
      // Same answer as reading the two heads as separate runs, older first.
      const lo = -Infinity;
      const hi = Infinity;
      assert.deepEqual(mergeLogOrdered(merged.read(id), lo, hi), mergeLogOrdered([...older.read(id), ...newer.read(id)], lo, hi));
    }
  }
});

test('a flush writes one block per (series, window) that decodes to the run, cold windows without re-encoding', () => {
  const r = seededRandom('head-window-runs-flush');
  const pts = randomPoints(r, 2000);
  const h = new Head(W);
  for (const [id, t, v] of pts) h.append(id, t, v);
  const index = new SeriesIndex(0);
  const want = expected(pts);
  // Every window but the newest is cold: both tiers get blocks.
  const coldBelow = Math.floor(Math.max(...pts.map((p) => p[1])) / W) * W;
  const batch = flushBatch({ partition: 0, head: h, seq: 3, isColdWindow: (w) => w < coldBelow, index, persistedSeries: 0, seriesCount: 0, nextOffset: 42 });
  const blocks = [...batch.written];
  let runs = 0;
  for (const byWin of want.values()) runs += byWin.size;
  assert.equal(blocks.length, runs);
  assert.equal(batch.coldOps.length, blocks.filter((b) => b.tier === 'cold').length);
  assert.ok(blocks.some((b) => b.tier === 'cold') && blocks.some((b) => b.tier === 'hot'), 'both tiers exercised');
  assert.equal(batch.ops.length, blocks.length - batch.coldOps.length + 1, 'hot blocks and the state');
  const byKey = new Map<string, { value: Uint8Array; cold: boolean }>();
  for (const op of batch.coldOps) if (op.type === 'put') byKey.set(Buffer.from(op.key).toString('hex'), { value: op.value, cold: true });
  for (const op of batch.ops) if (op.type === 'put') byKey.set(Buffer.from(op.key).toString('hex'), { value: op.value, cold: false });
  let checked = 0;
  for (const b of blocks) {
    const pts = want.get(b.id)!.get(b.window)!;
    const got = byKey.get(Buffer.from(blockKey(0, b.id, b.window, 3)).toString('hex'));
    assert.ok(got, `block of series ${b.id} window ${b.window}`);
    assert.equal(got.cold, b.window < coldBelow);
    assert.equal(got.value.length, b.bytes);
    const d = decodeBlock(got.value);
    assert.deepEqual(d.ts, pts.map((p) => p[0]));
    assert.deepEqual(d.vs.map(bits), pts.map((p) => bits(p[1])));
    checked++;
  }
  assert.equal(checked, runs);
});
