import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { encodePointBatch } from '../../src/codec/avro-record.js';
import { encodeBlock } from '../../src/codec/block.js';
import { manualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { createMetrics, type Metrics } from '../../src/common/metrics.js';
import type { Point } from '../../src/common/point.js';
import { PartitionState } from '../../src/materializer/partition-state.js';
import { retentionFrom } from '../../src/materializer/per-metric.js';
import { createRetention, type Retention } from '../../src/materializer/retention.js';
import { PREFIX_BLOCK, PREFIX_SERIES, blockKey, decodeBlockKey, decodeState, stateKey } from '../../src/store/row-keys.js';
import { createClassicLevelStore } from '../../src/store/classic-level-store.js';
import type { KvStore, RangeOptions } from '../../src/store/types.js';
import { tempDir } from '../helpers/temp-dir.js';

const tmp = tempDir('retention');
after(() => tmp.cleanup());

const H = 3_600_000;
const T0 = 1_700_002_800_000; // a whole hour
let dirs = 0;

async function openStore(name = `s${dirs++}`): Promise<KvStore> {
  const store = createClassicLevelStore({ location: join(tmp.dir, name) });
  await store.open();
  return store;
}

async function openState(store: KvStore, metrics: Metrics = createMetrics({ defaultMetrics: false })): Promise<PartitionState> {
  const state = new PartitionState({ partition: 0, store, logger: silentLogger(), metrics, blockWindowMs: H });
  await state.load();
  return state;
}

function apply(state: PartitionState, points: Array<[string, string, number]>): void {
  const pts: Point[] = points.map(([metric, host, t]) => ({ metric, tags: { host }, timestamp: t, value: t / 1000 }));
  state.apply([{ offset: state.nextOffset, value: encodePointBatch(pts), timestamp: T0 }]);
}

/** Series keys by id (S keys) and "id@window" of every block, per store. */
async function contents(store: KvStore): Promise<{ series: Record<number, string>; blocks: string[] }> {
  const series: Record<number, string> = {};
  for await (const [k, v] of store.iterate({ gte: Buffer.from([PREFIX_SERIES]), lt: Buffer.from([PREFIX_SERIES + 1]) })) series[k.readUInt32BE(3)] = v.toString();
  const blocks: string[] = [];
  for await (const [k] of store.iterate({ gte: Buffer.from([PREFIX_BLOCK]), lt: Buffer.from([PREFIX_BLOCK + 1]) })) {
    const b = decodeBlockKey(k);
    blocks.push(`${b.seriesId}@${(b.windowStart - T0) / H}h`);
  }
  return { series, blocks };
}

/** The crash-safety invariant: every block's series has an S key in the first store. */
async function assertNoOrphanBlocks(stores: KvStore[]): Promise<void> {
  const { series } = await contents(stores[0]!);
  for (const s of stores) for (const b of (await contents(s)).blocks) assert.ok(series[Number(b.split('@')[0])] !== undefined, `block ${b} has no S key`);
}

function retentionFor(state: PartitionState, stores: KvStore[], clock: { now(): number }, metrics: Metrics, spec: [number, string[]] = [3 * H, ['keep=0', 'short=1h']]): Retention {
  return createRetention({ stores: () => stores, partitions: () => [state], retention: retentionFrom(...spec), blockWindowMs: H, clock, logger: silentLogger(), metrics });
}

describe('retention', () => {
  it('deletes expired blocks, then series with nothing left; keeps ids counting; a restart loads the gaps', async () => {
    const store = await openStore('main');
    const metrics = createMetrics({ defaultMetrics: false });
    let state = await openState(store, metrics);
    apply(state, [
      ['old', 'a', T0 + 10], // id 0: only an old window
      ['mixed', 'b', T0 + 20], // id 1: an old and a recent window
      ['mixed', 'b', T0 + 8 * H],
      ['keep', 'c', T0 + 30], // id 2: kept forever (override 0)
      ['inhead', 'd', T0 + 40], // id 3: old block, and an old point still in the head
      ['short', 'e', T0 + 9 * H], // id 4: 1 h retention (cutoff 9 h): its window ends at 10 h, kept
      ['short', 'f', T0 + 8 * H], // id 5: its window ends at 9 h, not after the cutoff: gone
    ]);
    await state.flush('test');
    apply(state, [['inhead', 'd', T0 + 50]]);
    const clock = manualClock(T0 + 10 * H); // cutoff 7 h for the 3 h default
    const retention = retentionFor(state, [store], clock, metrics);
    // Blocks go at once; series found empty go when the next pass finds them empty again.
    assert.deepEqual(await retention.runOnce(), { blocks: 4, series: 0 });
    assert.equal(state.index.live, 6);
    assert.deepEqual(await retention.runOnce(), { blocks: 0, series: 2 });
    assert.deepEqual(await contents(store), {
      series: { 1: 'mixed{host="b"}', 2: 'keep{host="c"}', 3: 'inhead{host="d"}', 4: 'short{host="e"}' },
      blocks: ['1@8h', '2@0h', '4@9h'],
    });
    assert.equal(state.index.get(0), undefined);
    assert.equal(state.index.size, 6);
    assert.equal(state.index.live, 4);
    assert.deepEqual(state.index.tagValues('__name__').sort(), ['inhead', 'keep', 'mixed', 'short']);
    const m = await metrics.registry.metrics();
    assert.match(m, /^tsdb_retention_blocks_deleted_total 4$/m);
    assert.match(m, /^tsdb_retention_series_deleted_total 2$/m);
    assert.match(m, /^tsdb_retention_runs_total\{outcome="ok"\} 2$/m);
    assert.match(m, /^tsdb_head_series\{partition="0"\} 4$/m);
    // The head's old point is flushed as a late block into a deleted window: the next full pass (a window expires,
    // or 10 passes went by) deletes it; passes in between only re-check series found empty. Then the series goes.
    await state.flush('test');
    let late = { blocks: 0, series: 0 };
    let passes = 0;
    while (late.blocks === 0 && passes < 10) {
      late = await retention.runOnce();
      passes++;
    }
    assert.deepEqual(late, { blocks: 1, series: 0 });
    assert.equal(passes, 9, 'the late block goes with the tenth pass after the last full one');
    assert.deepEqual(await retention.runOnce(), { blocks: 0, series: 1 });
    assert.deepEqual(Object.keys((await contents(store)).series), ['1', '2', '4']);
    assert.deepEqual(await retention.runOnce(), { blocks: 0, series: 0 });
    // A window expiring (the clock crosses a window boundary) triggers a full pass at once.
    clock.advance(H);
    assert.deepEqual(await retention.runOnce(), { blocks: 1, series: 0 }); // short{host="e"}'s 9 h window
    await assertNoOrphanBlocks([store]);

    // Restart: gaps load; new series (and a removed series written again) take fresh ids, never old ones.
    state = await openState(store);
    assert.equal(state.index.size, 6);
    assert.equal(state.index.live, 3);
    assert.equal(decodeState((await store.get(stateKey(0)))!).nextSeriesId, 6);
    apply(state, [['old', 'a', T0 + 9 * H], ['new', 'z', T0 + 9 * H]]);
    await state.flush('test');
    assert.deepEqual(state.index.select([]).map((s) => `${s.id}:${s.key}`), ['1:mixed{host="b"}', '2:keep{host="c"}', '4:short{host="e"}', '6:old{host="a"}', '7:new{host="z"}']);
    assert.deepEqual((await state.read(6, T0, T0 + 10 * H)).ts, [T0 + 9 * H]);
    state = await openState(store);
    assert.equal(state.index.size, 8);
    await store.close();
  });

  it('works across several stores (tiers): expired blocks go from each, a series with a live block in any store stays', async () => {
    const hot = await openStore();
    const cold = await openStore();
    const state = await openState(hot);
    apply(state, [['m', 'a', T0], ['m', 'b', T0], ['m', 'c', T0 + 9 * H]]);
    await state.flush('test');
    // Blocks a cold tier holds: an expired one of a (id 0), a recent one of b (id 1).
    await cold.batch([
      { type: 'put', key: blockKey(0, 0, T0 - 24 * H, 0), value: encodeBlock([T0 - 24 * H], [1]) },
      { type: 'put', key: blockKey(0, 1, T0 + 9 * H, 0), value: encodeBlock([T0 + 9 * H], [1]) },
    ]);
    const metrics = createMetrics({ defaultMetrics: false });
    const retention = retentionFor(state, [hot, cold], manualClock(T0 + 10 * H), metrics);
    assert.deepEqual(await retention.runOnce(), { blocks: 3, series: 0 });
    assert.deepEqual(await retention.runOnce(), { blocks: 0, series: 1 });
    assert.deepEqual(await contents(hot), { series: { 1: 'm{host="b"}', 2: 'm{host="c"}' }, blocks: ['2@9h'] });
    assert.deepEqual((await contents(cold)).blocks, ['1@9h']);
    await assertNoOrphanBlocks([hot, cold]);
    await hot.close();
    await cold.close();
  });

  it('a crash between deleting blocks and deleting S keys leaves a consistent store that the next run finishes', async () => {
    const real = await openStore();
    // A real store whose S-key batch fails once, as a kill -9 right before it would.
    let failed = false;
    const store: KvStore = {
      ...real,
      batch: async (ops, o) => {
        if (!failed && ops.some((op) => op.type === 'del' && op.key[0] === PREFIX_SERIES)) {
          failed = true;
          throw new Error('killed');
        }
        return real.batch(ops, o);
      },
    };
    let state = await openState(store);
    apply(state, [['m', 'a', T0], ['m', 'b', T0 + 9 * H]]);
    await state.flush('test');
    const metrics = createMetrics({ defaultMetrics: false });
    const first = retentionFor(state, [store], manualClock(T0 + 10 * H), metrics);
    assert.deepEqual(await first.runOnce(), { blocks: 1, series: 0 });
    await assert.rejects(first.runOnce(), /killed/);
    assert.match(await metrics.registry.metrics(), /^tsdb_retention_runs_total\{outcome="error"\} 1$/m);
    assert.deepEqual(await contents(real), { series: { 0: 'm{host="a"}', 1: 'm{host="b"}' }, blocks: ['1@9h'] });
    await assertNoOrphanBlocks([real]);
    // "Restart": the series without blocks loads; the first pass (which checks every series) and the next remove it.
    state = await openState(store);
    assert.equal(state.index.live, 2);
    const second = retentionFor(state, [store], manualClock(T0 + 10 * H), metrics);
    assert.deepEqual(await second.runOnce(), { blocks: 0, series: 0 });
    assert.deepEqual(await second.runOnce(), { blocks: 0, series: 1 });
    assert.deepEqual(Object.keys((await contents(real)).series), ['1']);
    await real.close();
  });

  it('does not remove a series whose blocks a flush commits while retention looks (the next run decides)', async () => {
    const real = await openStore();
    let state: PartitionState | undefined;
    let raced = false;
    let armed = false;
    const store: KvStore = {
      ...real,
      // While retention checks whether series 0 has blocks left, a point for it arrives and is flushed.
      iterate: (range: RangeOptions) => {
        const target = range.gte !== undefined && range.limit === 1 && range.gte.equals(blockKey(0, 0, T0 + 7 * H, 0));
        if (!target || raced || !armed) return real.iterate(range);
        raced = true;
        return (async function* () {
          // The store iterator (and its snapshot) is opened before the flush commits, as in a real race.
          const it = real.iterate(range)[Symbol.asyncIterator]();
          const first = it.next();
          apply(state!, [['m', 'a', T0 + 9 * H]]);
          await state!.flush('race');
          for (let r = await first; !r.done; r = await it.next()) yield r.value;
        })();
      },
    };
    state = await openState(store);
    apply(state, [['m', 'a', T0]]);
    await state.flush('test');
    const retention = retentionFor(state, [store], manualClock(T0 + 10 * H), createMetrics({ defaultMetrics: false }));
    assert.deepEqual(await retention.runOnce(), { blocks: 1, series: 0 }); // found empty once
    armed = true; // the race happens while the second pass confirms it empty
    assert.deepEqual(await retention.runOnce(), { blocks: 0, series: 0 });
    assert.ok(raced);
    assert.deepEqual(await contents(real), { series: { 0: 'm{host="a"}' }, blocks: ['0@9h'] });
    assert.deepEqual((await state.read(0, T0, T0 + 10 * H)).ts, [T0 + 9 * H]);
    await real.close();
  });
});
