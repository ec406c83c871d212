/**
 * PartitionState.readPartsMany (batched series reads: one store scanner per tier, one seek per series) answers
 * exactly what readParts answers series by series, on real LevelDB hot and cold stores while flushes, seals and tier
 * moves interleave; and while those run concurrently with the read, its merged points still equal the log-order
 * model (heads and both scanners are captured in one tick). Also checked through the fallback for stores without
 * openScanner (one iterator per series and tier, all opened at once).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { encodePointBatch } from '../../src/codec/avro-record.js';
import { silentLogger } from '../../src/common/logger.js';
import { createMetrics } from '../../src/common/metrics.js';
import type { Point } from '../../src/common/point.js';
import type { LogRecord } from '../../src/log/types.js';
import { compactPartition } from '../../src/materializer/compactor.js';
import { PartitionState } from '../../src/materializer/partition-state.js';
import { createClassicLevelStore } from '../../src/store/classic-level-store.js';
import type { ReadPartsOptions } from '../../src/store/read-model.js';
import type { KvStore } from '../../src/store/types.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { tempDir } from '../helpers/temp-dir.js';

const W = 10_000;
const HOT = 30_000;
const SERIES = 12;

type Rnd = ReturnType<typeof seededRandom>;

function withoutScanner(s: KvStore): KvStore {
  const { openScanner: _, ...rest } = s;
  return rest;
}

async function rig(dir: string, scanners: boolean) {
  const hot = createClassicLevelStore({ location: join(dir, 'hot') });
  const cold = createClassicLevelStore({ location: join(dir, 'cold') });
  await hot.open();
  await cold.open();
  const clock = { t: 1_000_000 };
  const state = new PartitionState({
    partition: 2,
    store: scanners ? hot : withoutScanner(hot),
    coldStore: scanners ? cold : withoutScanner(cold),
    hotDurationMs: HOT,
    now: () => clock.t,
    logger: silentLogger(),
    metrics: createMetrics(),
    blockWindowMs: W,
  });
  await state.load();
  return { state, clock, close: async () => (await hot.close(), await cold.close()) };
}

/** The log, and per series (id by creation order) timestamp → last value. */
class Model {
  private offset = 0;
  readonly points = new Map<string, Map<number, number>>();
  add(points: Point[]): LogRecord {
    for (const p of points) {
      const s = p.tags['s']!;
      if (!this.points.has(s)) this.points.set(s, new Map());
      this.points.get(s)!.set(p.timestamp, p.value);
    }
    return { offset: this.offset++, value: encodePointBatch(points), timestamp: 0 };
  }
  expected(s: string, start: number, end: number): { ts: number[]; vs: number[] } {
    const m = [...(this.points.get(s) ?? new Map<number, number>()).entries()].filter(([t]) => t >= start && t < end).sort((a, b) => a[0] - b[0]);
    return { ts: m.map((e) => e[0]), vs: m.map((e) => e[1]) };
  }
}

function randomPoints(rnd: Rnd, now: number, n: number): Point[] {
  return Array.from({ length: n }, () => ({
    metric: 'rm',
    tags: { s: `s${rnd.int(0, SERIES - 1)}` },
    timestamp: now - (rnd.next() < 0.4 ? rnd.int(0, 300) * 500 : rnd.int(0, 40) * 250),
    value: rnd.int(-80, 80) / 8,
  }));
}

/** Some of the known series, shuffled, sometimes one twice, sometimes an id that does not exist. */
function pickIds(rnd: Rnd, state: PartitionState): number[] {
  const ids: number[] = [];
  for (let id = 0; id < state.index.size; id++) if (rnd.next() < 0.6) ids.push(id);
  if (rnd.next() < 0.3 && ids.length > 0) ids.push(ids[rnd.int(0, ids.length - 1)]!);
  if (rnd.next() < 0.2) ids.push(state.index.size + 3);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = rnd.int(0, i);
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  return ids;
}

function randomRange(rnd: Rnd, now: number): { start: number; end: number; opts: ReadPartsOptions } {
  const start = now - rnd.int(0, 320) * 500 + rnd.int(-300, 300);
  const end = rnd.next() < 0.1 ? start - rnd.int(0, 5) : start + rnd.int(1, 320) * 500 + rnd.int(0, 300);
  const step = rnd.next() < 0.3 ? undefined : [1000, 5000, 10_000, 30_000][rnd.int(0, 3)]!;
  return { start, end, opts: { step, summaries: rnd.next() < 0.7, rollups: rnd.next() < 0.5 } };
}

async function sameAsOneByOne(rnd: Rnd, state: PartitionState, why: string): Promise<void> {
  const ids = pickIds(rnd, state);
  const { start, end, opts } = randomRange(rnd, state.now());
  const many = await state.readPartsMany(ids, start, end, opts);
  const one = await Promise.all(ids.map((id) => state.readParts(id, start, end, opts)));
  assert.deepEqual(many, one, `${why}: ids ${JSON.stringify(ids)}, [${start}, ${end}), ${JSON.stringify(opts)}`);
}

for (const scanners of [true, false]) {
  describe(`readPartsMany (${scanners ? 'store scanners' : 'stores without openScanner'})`, () => {
    const tmp = tempDir(`read-parts-many-${scanners}`);
    after(() => tmp.cleanup());

    it('equals readParts series by series while flushes, seals and moves interleave', async () => {
      const rnd = seededRandom(`read-parts-many-${scanners}`);
      const r = await rig(join(tmp.dir, 'a'), scanners);
      try {
        const model = new Model();
        let job: Promise<void> | null = null;
        let checks = 0;
        for (let step = 0; step < 300; step++) {
          const x = rnd.next();
          if (x < 0.4) r.state.apply([model.add(randomPoints(rnd, r.clock.t, rnd.int(1, 40)))]);
          else if (x < 0.55) await r.state.flush('test');
          else if (x < 0.65) {
            if (!job) job = compactPartition(r.state, { graceMs: rnd.int(0, 2) * 5000, maxFragments: 4, deferBusy: false, logger: silentLogger(), metrics: createMetrics(), stopped: () => false }).finally(() => (job = null));
            await job;
          } else if (x < 0.75) r.clock.t += rnd.int(0, 4000);
          else {
            await sameAsOneByOne(rnd, r.state, `step ${step}`);
            checks++;
          }
        }
        assert.ok(checks > 50, `only ${checks} checks ran`);
      } finally {
        await r.close();
      }
    });

    it('merged points equal the log-order model while flushes and seals run during the read', async () => {
      const rnd = seededRandom(`read-parts-many-concurrent-${scanners}`);
      const r = await rig(join(tmp.dir, 'b'), scanners);
      try {
        const model = new Model();
        const running: Promise<unknown>[] = [];
        for (let step = 0; step < 200; step++) {
          r.state.apply([model.add(randomPoints(rnd, r.clock.t, rnd.int(1, 40)))]);
          if (rnd.next() < 0.3) r.clock.t += rnd.int(0, 3000);
          // Start a flush and a seal pass, then read before either finished.
          if (rnd.next() < 0.4) running.push(r.state.flush('test'));
          if (rnd.next() < 0.2) running.push(compactPartition(r.state, { graceMs: 0, maxFragments: 2, deferBusy: false, logger: silentLogger(), metrics: createMetrics(), stopped: () => false }));
          const ids = pickIds(rnd, r.state);
          const start = r.clock.t - 200_000;
          const end = r.clock.t + 1;
          const got = await r.state.readPartsMany(ids, start, end, { summaries: false });
          for (const [i, id] of ids.entries()) {
            const info = r.state.index.get(id);
            const want = info ? model.expected(info.tags['s']!, start, end) : { ts: [], vs: [] };
            assert.deepEqual(got[i]!.points, want, `step ${step}: series ${id}`);
            assert.equal(got[i]!.summaries.length, 0);
          }
          if (running.length > 4) await Promise.all(running.splice(0));
        }
        await Promise.all(running);
      } finally {
        await r.close();
      }
    });
  });
}
