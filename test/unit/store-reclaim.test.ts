/**
 * Space reclaim (docs/storage-lifecycle.md, "Reclaiming space"): seals overwrite and delete fragments, and the storage
 * jobs then compact the stores they sealed in, so the on-disk bytes of dead fragments are given back. Real LevelDB.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { encodePointBatch } from '../../src/codec/avro-record.js';
import { silentLogger } from '../../src/common/logger.js';
import { createMetrics } from '../../src/common/metrics.js';
import type { Point } from '../../src/common/point.js';
import { PartitionState } from '../../src/materializer/partition-state.js';
import { startStorageJobs } from '../../src/materializer/storage-jobs.js';
import { createClassicLevelStore } from '../../src/store/classic-level-store.js';
import { storeDirBytes } from '../contracts/store.contract.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { tempDir } from '../helpers/temp-dir.js';

const W = 10_000;

async function settle(reclaim: boolean, dir: string): Promise<{ before: number; after: number; live: number; compactions: number }> {
  const rnd = seededRandom('store-reclaim');
  const hot = createClassicLevelStore({ location: join(dir, 'hot') });
  const cold = createClassicLevelStore({ location: join(dir, 'cold') });
  await hot.open();
  await cold.open();
  // Without the feature the store has no compact, which is what a store without it did.
  if (!reclaim) {
    delete (cold as { compact?: unknown }).compact;
    delete (hot as { compact?: unknown }).compact;
  }
  const metrics = createMetrics();
  const clock = { t: 10_000_000 };
  const state = new PartitionState({ partition: 1, store: hot, coldStore: cold, hotDurationMs: 1, now: () => clock.t, logger: silentLogger(), metrics, blockWindowMs: W });
  await state.load();
  // Old (cold) windows, each flushed as many small fragments (small integers, like counters and percentages).
  let offset = 0;
  let points = 0;
  for (let frag = 0; frag < 12; frag++) {
    const batch: Point[] = [];
    for (let s = 0; s < 20; s++) {
      for (let w = 0; w < 20; w++) {
        for (let i = 0; i < 10; i++) batch.push({ metric: 'r', tags: { s: `s${s}` }, timestamp: w * W + frag * 10 + i, value: rnd.int(0, 100) });
      }
    }
    points += batch.length;
    state.apply([{ offset: offset++, value: encodePointBatch(batch), timestamp: 0 }]);
    await state.flush('test');
  }
  const before = storeDirBytes(cold.location);
  const jobs = startStorageJobs({ states: () => [state], intervalMs: 5, graceMs: 0, maxFragments: 4, logger: silentLogger(), metrics, now: () => clock.t });
  // Wait for the pass that seals everything and the idle pass after it (the metric counts completed passes).
  const passes = async (): Promise<number> => (await metrics.storagePasses.get()).values[0]?.value ?? 0;
  while ((await passes()) < 3) await new Promise((r) => setTimeout(r, 5));
  await jobs.stop();
  const compactions = (await metrics.storeCompactions.get()).values.reduce((n, v) => n + v.value, 0);
  const after = storeDirBytes(cold.location);
  let stored = 0;
  for (let s = 0; s < 20; s++) {
    const id = state.index.idOf(`r{s="s${s}"}`)!;
    stored += (await state.read(id, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)).ts.length;
  }
  assert.equal(stored, points, 'every point still readable');
  // Live bytes: the sealed blocks' values plus their 19-byte keys.
  const live = state.tierStats.cold.bytes + 19 * state.tierStats.cold.blocks;
  await hot.close();
  await cold.close();
  return { before, after, live, compactions };
}

describe('store space reclaim after sealing', () => {
  const tmp = tempDir('reclaim');
  after(() => tmp.cleanup());

  it('the cold store is smaller on disk after the passes that sealed its fragments, and not without compact', async () => {
    const withIt = await settle(true, join(tmp.dir, 'with'));
    const without = await settle(false, join(tmp.dir, 'without'));
    assert.ok(withIt.compactions >= 1, `store compactions: ${withIt.compactions}`);
    assert.ok(withIt.after < withIt.before, `with compact: cold store ${withIt.before} -> ${withIt.after} bytes`);
    // Within 25% of the live bytes (LevelDB's index blocks and a little slack): no dead version was kept.
    assert.ok(withIt.after < withIt.live * 1.25, `with compact: ${withIt.after} bytes on disk for ${withIt.live} live`);
    assert.ok(withIt.after < without.after / 1.5, `cold store after settling: ${withIt.after} bytes with compact, ${without.after} without`);
    assert.equal(without.compactions, 0);
  });
});
