/**
 * Compaction and hot/cold tiering (docs/storage-lifecycle.md) on real LevelDB stores: reads equal a log-order model
 * while flushes, seals and moves interleave; a crash between the two stores' batches (flush and move) loses and
 * duplicates nothing after a restart; replicas given the same log and flush points end byte-identical.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeBlock } from '../../src/codec/block.js';
import { encodePointBatch } from '../../src/codec/avro-record.js';
import { silentLogger } from '../../src/common/logger.js';
import { createMetrics } from '../../src/common/metrics.js';
import type { Point } from '../../src/common/point.js';
import type { LogRecord } from '../../src/log/types.js';
import { compactPartition, encodeBlockFor, sealWindow } from '../../src/materializer/compactor.js';
import { PartitionState } from '../../src/materializer/partition-state.js';
import { createClassicLevelStore } from '../../src/store/classic-level-store.js';
import { PREFIX_BLOCK, PREFIX_INTENT, decodeBlockKey } from '../../src/store/row-keys.js';
import type { BatchOp, KvStore } from '../../src/store/types.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { tempDir } from '../helpers/temp-dir.js';

const W = 10_000;
const HOT = 30_000;
const P = 3;
const ALL = [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] as const;

/** A store whose next batches can be made to fail, as if the process died right before them. */
function failingStore(inner: KvStore): KvStore & { failWhen: ((ops: BatchOp[]) => boolean) | null } {
  const s = {
    ...inner,
    failWhen: null as ((ops: BatchOp[]) => boolean) | null,
    async batch(ops: BatchOp[], o?: { sync?: boolean }) {
      if (s.failWhen?.(ops)) throw new Error('simulated crash before this batch');
      return inner.batch(ops, o);
    },
  };
  return s;
}

interface Rig {
  hot: ReturnType<typeof failingStore>;
  cold: KvStore;
  clock: { t: number };
  state: PartitionState;
  close(): Promise<void>;
}

async function openRig(dir: string, clock = { t: 1_000_000 }): Promise<Rig> {
  const hotInner = createClassicLevelStore({ location: join(dir, 'hot') });
  const cold = createClassicLevelStore({ location: join(dir, 'cold') });
  await hotInner.open();
  await cold.open();
  const hot = failingStore(hotInner);
  const state = newState(hot, cold, clock);
  await state.load();
  return { hot, cold, clock, state, close: async () => (await hotInner.close(), await cold.close()) };
}

function newState(hot: KvStore, cold: KvStore, clock: { t: number }): PartitionState {
  return new PartitionState({ partition: P, store: hot, coldStore: cold, hotDurationMs: HOT, now: () => clock.t, logger: silentLogger(), metrics: createMetrics(), blockWindowMs: W });
}

const jobOpts = (graceMs = 0, deferBusy = false, maxFragments = 4) => ({ graceMs, maxFragments, deferBusy, logger: silentLogger(), metrics: createMetrics(), stopped: () => false });

/** A store that counts its synced batches. */
function countingStore(inner: KvStore): KvStore & { synced: number } {
  const s = {
    ...inner,
    synced: 0,
    async batch(ops: BatchOp[], o?: { sync?: boolean }) {
      if (o?.sync) s.synced++;
      return inner.batch(ops, o);
    },
  };
  return s;
}

/** The log and what reading it in order must give: per series, timestamp → last value. */
class Model {
  readonly records: LogRecord[] = [];
  readonly points = new Map<string, Map<number, number>>();
  add(points: Point[]): LogRecord {
    const rec = { offset: this.records.length, value: encodePointBatch(points), timestamp: 0 };
    this.records.push(rec);
    for (const p of points) {
      const s = p.tags['s']!;
      if (!this.points.has(s)) this.points.set(s, new Map());
      this.points.get(s)!.set(p.timestamp, p.value);
    }
    return rec;
  }
  expected(s: string): { ts: number[]; vs: number[] } {
    const m = [...(this.points.get(s) ?? new Map<number, number>()).entries()].sort((a, b) => a[0] - b[0]);
    return { ts: m.map((e) => e[0]), vs: m.map((e) => e[1]) };
  }
}

/** `unique`: every timestamp once per series (so a raw count of stored copies must be exactly one). */
function randomPoints(rnd: ReturnType<typeof seededRandom>, now: number, n: number, unique?: Set<string>): Point[] {
  const out = Array.from({ length: n }, () => ({
    metric: 'lc',
    tags: { s: `s${rnd.int(0, 5)}` },
    // Mostly recent, some late (cold windows), integer steps so duplicates are common.
    timestamp: now - (rnd.next() < 0.3 ? rnd.int(0, 200) * 500 : rnd.int(0, 40) * 250),
    value: rnd.int(-50, 50) / 4,
  }));
  if (!unique) return out;
  return out.filter((p) => {
    const k = `${p.tags.s}@${p.timestamp}`;
    if (unique.has(k)) return false;
    unique.add(k);
    return true;
  });
}

async function checkReads(state: PartitionState, model: Model, why: string): Promise<void> {
  for (const s of model.points.keys()) {
    const id = state.index.idOf(`lc{s="${s}"}`);
    assert.ok(id !== undefined, `series ${s} unknown (${why})`);
    const expected = model.expected(s);
    assert.deepEqual(await state.read(id, ...ALL), expected, `series ${s} reads wrong (${why})`);
    const n = expected.ts.length - 1;
    assert.deepEqual(await state.lastPoint(id), { t: expected.ts[n], v: expected.vs[n] }, `series ${s}: wrong last point (${why})`);
  }
}

/** Every stored point of the partition in both tiers: "id@t" → how many blocks hold it; plus per-window block counts. */
async function rawPoints(hot: KvStore, cold: KvStore): Promise<{ copies: Map<string, number>; windows: Map<string, string[]>; intents: number; coldReencoded: number }> {
  const copies = new Map<string, number>();
  let coldReencoded = 0;
  const windows = new Map<string, string[]>();
  for (const [tier, store] of [['hot', hot], ['cold', cold]] as const) {
    for await (const [k, v] of store.iterate({ gte: Buffer.from([PREFIX_BLOCK]), lt: Buffer.from([PREFIX_BLOCK + 1]) })) {
      const key = decodeBlockKey(k);
      const wk = `${key.seriesId}@${key.windowStart}`;
      windows.set(wk, [...(windows.get(wk) ?? []), `${tier}#${key.flushSeq}`]);
      const block = decodeBlock(v);
      for (const t of block.ts) copies.set(`${key.seriesId}@${t}`, (copies.get(`${key.seriesId}@${t}`) ?? 0) + 1);
      if (tier === 'cold' && !encodeBlockFor('cold', block.ts, block.vs, true).equals(v)) coldReencoded++;
    }
  }
  let intents = 0;
  for await (const _ of cold.iterate({ gte: Buffer.from([PREFIX_INTENT]), lt: Buffer.from([PREFIX_INTENT + 1]) })) intents++;
  return { copies, windows, intents, coldReencoded };
}

/**
 * After a pass with no grace: every window that ended is one block, in the tier its age says, each point once
 * (a window still open may hold several fragments, and a fragment the same timestamp twice).
 */
async function checkSettled(rig: Rig, model: Model): Promise<void> {
  const { copies, windows, intents, coldReencoded } = await rawPoints(rig.hot, rig.cold);
  assert.equal(coldReencoded, 0, 'cold blocks not in the cold encoding');
  let expected = 0;
  for (const m of model.points.values()) expected += m.size;
  assert.equal(copies.size, expected, 'stored points differ from the model');
  const ended = (window: number): boolean => window + W <= rig.clock.t;
  for (const [k, n] of copies) {
    const [id, t] = k.split('@').map(Number) as [number, number];
    const wk = `${id}@${Math.floor(t / W) * W}`;
    if (ended(Math.floor(t / W) * W)) assert.equal(n, 1, `point ${k} stored ${n} times (window blocks ${JSON.stringify(windows.get(wk))})`);
  }
  for (const [wk, blocks] of windows) {
    const window = Number(wk.split('@')[1]);
    if (!ended(window)) continue;
    assert.equal(blocks.length, 1, `window ${wk} not sealed: ${blocks.join(', ')}`);
    assert.equal(blocks[0]!.startsWith('cold'), rig.state.isColdWindow(window), `window ${wk} in the wrong tier: ${blocks[0]}`);
  }
  assert.equal(intents, 0, 'cold intents left behind');
}

describe('storage lifecycle: compaction and hot/cold tiers', () => {
  const tmp = tempDir('lifecycle');
  after(() => tmp.cleanup());

  it('reads equal the log-order model while flushes, seals and tier moves interleave', async () => {
    const rnd = seededRandom('lifecycle-interleave');
    const rig = await openRig(join(tmp.dir, 'interleave'));
    const model = new Model();
    const pending: Promise<unknown>[] = [];
    let job: Promise<void> | null = null;
    for (let step = 0; step < 400; step++) {
      const r = rnd.next();
      if (r < 0.45) rig.state.apply([model.add(randomPoints(rnd, rig.clock.t, rnd.int(1, 30)))]);
      else if (r < 0.6) pending.push(rig.state.flush('test'));
      else if (r < 0.75) {
        if (!job) job = compactPartition(rig.state, jobOpts(rnd.int(0, 2) * 5000, rnd.next() < 0.5)).finally(() => (job = null));
      } else if (r < 0.85) rig.clock.t += rnd.int(0, 4000);
      else await checkReads(rig.state, model, `step ${step}`);
      if (rnd.next() < 0.3) await new Promise((res) => setImmediate(res));
    }
    await Promise.all(pending);
    await job;
    await checkReads(rig.state, model, 'after the run');
    await rig.state.flush('test');
    await compactPartition(rig.state, jobOpts());
    await checkReads(rig.state, model, 'after the final compaction');
    await checkSettled(rig, model);
    const before = rig.state.tierStats;
    assert.ok(before.cold.blocks > 0 && before.hot.blocks > 0, `both tiers used: ${JSON.stringify(before)}`);
    // The statistics kept along the way equal a fresh scan.
    const kept = JSON.stringify(rig.state.tierStats);
    assert.ok(await rig.state.scanBlocks());
    assert.equal(JSON.stringify(rig.state.tierStats), kept);
    await rig.close();
  });

  it('a crash between the cold blocks and the hot batch of a flush loses and duplicates nothing', async () => {
    const rnd = seededRandom('lifecycle-flush-crash');
    const dir = join(tmp.dir, 'flush-crash');
    let rig = await openRig(dir);
    const model = new Model();
    const unique = new Set<string>();
    for (let i = 0; i < 20; i++) rig.state.apply([model.add(randomPoints(rnd, rig.clock.t, 20, unique))]);
    await rig.state.flush('test');
    const committed = rig.state.durableOffset;
    for (let i = 0; i < 20; i++) rig.state.apply([model.add(randomPoints(rnd, rig.clock.t, 20, unique))]);
    rig.hot.failWhen = () => true;
    await assert.rejects(rig.state.flush('test'), /simulated crash/);
    const torn = await rawPoints(rig.hot, rig.cold);
    assert.equal(torn.intents, 1, 'the torn flush wrote its cold blocks and intent');
    await rig.close();
    // Restart: the torn flush's cold blocks are dropped, the log is replayed from the committed offset with other
    // flush boundaries (so the same flushSeq now names other points).
    rig = await openRig(dir, rig.clock);
    assert.equal(rig.state.nextOffset, committed);
    const rest = model.records.slice(committed);
    const cut = rnd.int(0, rest.length);
    rig.state.apply(rest.slice(0, cut));
    await rig.state.flush('test');
    rig.state.apply(rest.slice(cut));
    await rig.state.flush('test');
    await checkReads(rig.state, model, 'after restart');
    const { copies, intents } = await rawPoints(rig.hot, rig.cold);
    for (const [k, n] of copies) assert.equal(n, 1, `point ${k} stored ${n} times`);
    assert.equal(intents, 0);
    await compactPartition(rig.state, jobOpts());
    await checkSettled(rig, model);
    await rig.close();
  });

  it('a crash between the cold write and the hot delete of a move reads correctly, and the re-run settles it', async () => {
    const rnd = seededRandom('lifecycle-move-crash');
    const dir = join(tmp.dir, 'move-crash');
    let rig = await openRig(dir);
    const model = new Model();
    // Points in hot windows only, several fragments each, then the clock moves past the hot duration.
    for (let f = 0; f < 3; f++) {
      rig.state.apply([model.add(randomPoints(rnd, rig.clock.t, 60).map((p) => ({ ...p, timestamp: rig.clock.t - rnd.int(0, 30) * 100 })))]);
      await rig.state.flush('test');
    }
    rig.clock.t += HOT + 2 * W;
    rig.hot.failWhen = (ops) => ops.every((o) => o.type === 'del');
    await assert.rejects(compactPartition(rig.state, jobOpts()), /simulated crash/);
    const gap = await rawPoints(rig.hot, rig.cold);
    assert.ok([...gap.windows.values()].some((b) => b.some((x) => x.startsWith('hot')) && b.some((x) => x.startsWith('cold'))), 'a window is in both tiers');
    await checkReads(rig.state, model, 'in the gap');
    // A late point for the now-cold window goes straight to cold while the gap is open.
    rig.hot.failWhen = null;
    rig.state.apply([model.add([{ metric: 'lc', tags: { s: 's1' }, timestamp: rig.clock.t - HOT - 2 * W + 1, value: 42 }])]);
    await rig.state.flush('test');
    await checkReads(rig.state, model, 'late point in the gap');
    await rig.close();
    rig = await openRig(dir, rig.clock);
    await checkReads(rig.state, model, 'after restart in the gap');
    await compactPartition(rig.state, jobOpts());
    await checkReads(rig.state, model, 'after the re-run');
    await checkSettled(rig, model);
    // Idempotent: another pass changes nothing.
    const once = await rawPoints(rig.hot, rig.cold);
    await compactPartition(rig.state, jobOpts());
    assert.deepEqual(await rawPoints(rig.hot, rig.cold), once);
    await rig.close();
  });

  it('replicas with the same log and flush points end byte-identical after compaction and moves', async () => {
    const rnd = seededRandom('lifecycle-replicas');
    const model = new Model();
    for (let i = 0; i < 30; i++) model.add(randomPoints(rnd, 1_000_000 + i * 1000, 25));
    const dumps: string[][] = [];
    for (const name of ['r1', 'r2']) {
      const rig = await openRig(join(tmp.dir, name));
      for (let i = 0; i < model.records.length; i += 5) {
        rig.state.apply(model.records.slice(i, i + 5));
        await rig.state.flush('test');
        rig.clock.t += 1000;
        if (i % 10 === 0) await compactPartition(rig.state, name === 'r1' ? jobOpts(0) : jobOpts(2000, true)); // different job timing
      }
      rig.clock.t += HOT;
      await compactPartition(rig.state, jobOpts());
      await checkSettled(rig, model);
      const dump: string[] = [];
      for (const store of [rig.hot, rig.cold]) for await (const [k, v] of store.iterate({})) dump.push(`${k.toString('hex')}=${v.toString('hex')}`);
      dumps.push(dump);
      await rig.close();
    }
    assert.deepEqual(dumps[0], dumps[1]);
  });

  it('a window still receiving fragments is sealed once it is quiet for a pass, or when it reaches max fragments', async () => {
    const rig = await openRig(join(tmp.dir, 'busy'));
    const model = new Model();
    // A cold window (as in a bulk load of old data), two series: s0 keeps receiving fragments, s1 gets one.
    const window = Math.floor((rig.clock.t - HOT - 3 * W) / W) * W;
    let t = window;
    const fragment = async (s: string): Promise<void> => {
      rig.state.apply([model.add([{ metric: 'lc', tags: { s }, timestamp: t++, value: t % 7 }])]);
      await rig.state.flush('test');
    };
    const pass = () => compactPartition(rig.state, jobOpts(0, true, 8));
    const blocksOf = async (s: string): Promise<string[]> => (await rawPoints(rig.hot, rig.cold)).windows.get(`${rig.state.index.idOf(`lc{s="${s}"}`)}@${window}`) ?? [];
    await pass(); // the first pass: only from here on does "since the previous pass" mean something
    await fragment('s0');
    await fragment('s1');
    await pass();
    assert.equal((await blocksOf('s0')).length, 1, 'busy since the previous pass: not sealed');
    assert.equal(rig.state.tierStats.cold.blocks, 2);
    await fragment('s0');
    await pass();
    assert.deepEqual(await blocksOf('s0'), ['cold#0', 'cold#2'], 'still busy: the fragments wait');
    await pass();
    assert.deepEqual(await blocksOf('s0'), ['cold#2'], 'quiet for a pass: sealed once');
    assert.deepEqual(await blocksOf('s1'), ['cold#1']);
    await checkSettled(rig, model);
    // A window that never goes quiet is still sealed once a series holds maxFragments worth (cold fragments weigh 2).
    for (let i = 0; i < 3; i++) {
      await fragment('s0');
      await pass();
      assert.equal((await blocksOf('s0')).length, i + 2, `fragment ${i + 1}: busy, below max`);
    }
    await fragment('s0');
    await pass();
    assert.equal((await blocksOf('s0')).length, 1, 'sealed at max fragments while busy');
    await checkReads(rig.state, model, 'after the busy passes');
    await rig.close();
  });

  it('a pass writes many windows\' seals in a few synced batches, with the same result as one seal at a time', async () => {
    const rnd = seededRandom('lifecycle-grouped');
    const model = new Model();
    const clock = { t: 1_000_000 };
    for (let f = 0; f < 3; f++) model.add(Array.from({ length: 300 }, (_, i) => ({ metric: 'lc', tags: { s: `g${i % 40}` }, timestamp: clock.t - HOT - W - rnd.int(0, 60) * 500, value: rnd.int(0, 100) })));
    const dumps: string[] = [];
    const synced: number[] = [];
    for (const grouped of [true, false]) {
      const dir = join(tmp.dir, grouped ? 'grouped' : 'single');
      const hot = createClassicLevelStore({ location: join(dir, 'hot') });
      const inner = createClassicLevelStore({ location: join(dir, 'cold') });
      await hot.open();
      await inner.open();
      const cold = countingStore(inner);
      const state = newState(hot, cold, { ...clock });
      await state.load();
      for (const rec of model.records) {
        state.apply([rec]);
        await state.flush('test');
      }
      const before = cold.synced;
      if (grouped) await compactPartition(state, jobOpts());
      else for (const w of state.tracker.windowStarts()) for (let id = 0; id < 40; id++) await sealWindow(state, id, w, 'cold');
      synced.push(cold.synced - before);
      await checkReads(state, model, grouped ? 'grouped' : 'single');
      let dump = '';
      for (const store of [hot, cold]) for await (const [k, v] of store.iterate({ gte: Buffer.from([PREFIX_BLOCK]), lt: Buffer.from([PREFIX_BLOCK + 1]) })) dump += `${k.toString('hex')}=${v.toString('hex')}\n`;
      dumps.push(dump);
      await hot.close();
      await inner.close();
    }
    assert.equal(dumps[0], dumps[1], 'grouped and one-at-a-time seals store the same blocks');
    assert.ok(synced[1]! > 40, `one synced batch per seal: ${synced[1]}`);
    assert.ok(synced[0]! <= 2, `grouped: ${synced[0]} synced cold batches`);
  });

  it('sealing a window keeps a fragment flushed after the seal read its snapshot, and that fragment still wins', async () => {
    const rig = await openRig(join(tmp.dir, 'race'));
    const model = new Model();
    const t0 = rig.clock.t - 1000;
    for (let f = 0; f < 3; f++) {
      rig.state.apply([model.add([0, 1, 2].map((i) => ({ metric: 'lc', tags: { s: 's0' }, timestamp: t0 + i, value: f * 10 + i })))]);
      await rig.state.flush('test');
    }
    const id = rig.state.index.idOf('lc{s="s0"}')!;
    const window = Math.floor(t0 / W) * W;
    const sealing = sealWindow(rig.state, id, window, 'hot');
    // Applied and flushed while the seal is between its snapshot and its batch: a newer fragment of the same window.
    rig.state.apply([model.add([{ metric: 'lc', tags: { s: 's0' }, timestamp: t0 + 1, value: 99 }])]);
    const flushing = rig.state.flush('test');
    const r = await sealing;
    await flushing;
    assert.equal(r?.merged, 3);
    await checkReads(rig.state, model, 'after the race');
    const { windows } = await rawPoints(rig.hot, rig.cold);
    assert.deepEqual(windows.get(`${id}@${window}`), ['hot#2', 'hot#3']);
    await rig.close();
  });
});
