import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { encodePointBatch } from '../../src/codec/avro-record.js';
import { silentLogger } from '../../src/common/logger.js';
import { createMetrics } from '../../src/common/metrics.js';
import type { Point } from '../../src/common/point.js';
import { canonicalSeriesKey } from '../../src/common/series-key.js';
import { cardinalityProblem, createSeriesAdmission } from '../../src/materializer/cardinality.js';
import { PartitionState, type SetAsideRecord } from '../../src/materializer/partition-state.js';
import { seriesLimitsFrom } from '../../src/materializer/per-metric.js';
import { createClassicLevelStore } from '../../src/store/classic-level-store.js';
import { SeriesIndex } from '../../src/store/series-index.js';
import type { KvStore } from '../../src/store/types.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { tempDir } from '../helpers/temp-dir.js';

const tmp = tempDir('cardinality');
after(() => tmp.cleanup());

const LIMITS = seriesLimitsFrom(6, ['wide=12', 'free=0']);
const T0 = 1_700_000_000_000;

/** A random log: records of 1–8 points over metrics with different limits and a pool of hosts per metric. */
function randomLog(rnd: ReturnType<typeof seededRandom>, n: number): Buffer[] {
  const metrics = ['narrow', 'wide', 'free'];
  const out: Buffer[] = [];
  for (let r = 0; r < n; r++) {
    const points: Point[] = [];
    for (let i = rnd.int(1, 8); i > 0; i--) {
      points.push({ metric: metrics[rnd.int(0, 2)]!, tags: { host: `h${rnd.int(0, 20)}` }, timestamp: T0 + rnd.int(0, 6 * 3_600_000), value: rnd.int(0, 1000) / 10 });
    }
    out.push(encodePointBatch(points));
  }
  return out;
}

/** Independent model of the cap: per metric the set of series keys; a record fits iff all its new keys fit. */
function modelSetAside(log: Buffer[], decode: (b: Buffer) => Point[]): number[] {
  const have = new Map<string, Set<string>>();
  const out: number[] = [];
  log.forEach((rec, offset) => {
    const pts = decode(rec);
    const adds = new Map<string, Set<string>>();
    for (const p of pts) {
      const key = canonicalSeriesKey(p.metric, p.tags);
      if (have.get(p.metric)?.has(key)) continue;
      let s = adds.get(p.metric);
      if (!s) adds.set(p.metric, (s = new Set()));
      s.add(key);
    }
    const fits = [...adds].every(([m, s]) => LIMITS.of(m) === 0 || (have.get(m)?.size ?? 0) + s.size <= LIMITS.of(m));
    if (!fits) out.push(offset);
    else for (const [m, s] of adds) for (const k of s) (have.get(m) ?? have.set(m, new Set()).get(m)!).add(k);
  });
  return out;
}

async function dump(store: KvStore): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of store.iterate({})) out.push(`${k.toString('hex')}=${v.toString('hex')}`);
  return out;
}

/**
 * Replays `log` into a fresh store, flushing after every `flushEvery` records. With `crashAt`, the process "dies"
 * once that many records were applied (head lost, nothing flushed), then a new state loads the store and resumes.
 */
async function replay(name: string, log: Buffer[], flushEvery: number, crashAt?: number): Promise<{ store: string[]; setAside: Map<number, string> }> {
  const setAside = new Map<number, string>();
  const open = async (): Promise<{ state: PartitionState; store: KvStore }> => {
    const store = createClassicLevelStore({ location: join(tmp.dir, name) });
    await store.open();
    const state = new PartitionState({
      partition: 0,
      store,
      logger: silentLogger(),
      metrics: createMetrics({ defaultMetrics: false }),
      blockWindowMs: 3_600_000,
      seriesLimits: LIMITS,
      onSetAside: (r: SetAsideRecord) => setAside.set(r.offset, `${r.reason} ${r.message}`),
    });
    await state.load();
    return { state, store };
  };
  let { state, store } = await open();
  let crashed = crashAt === undefined;
  while (state.nextOffset < log.length) {
    const o = state.nextOffset;
    state.apply([{ offset: o, value: log[o]!, timestamp: T0 }]);
    if (!crashed && state.nextOffset === crashAt) {
      crashed = true;
      await store.close();
      ({ state, store } = await open());
      continue;
    }
    if (state.nextOffset % flushEvery === 0) await state.flush('test');
  }
  await state.flush('test');
  const out = await dump(store);
  await store.close();
  return { store: out, setAside };
}

describe('materializer per-metric series cap', () => {
  it('sets aside exactly the records that would exceed a cap, and replays to byte-identical stores (restart included)', async () => {
    const rnd = seededRandom('materializer-cardinality');
    const log = randomLog(rnd, 300);
    const { decodeLogRecord } = await import('../../src/codec/avro-record.js');
    const expected = modelSetAside(log, (b) => decodeLogRecord(b));
    assert.ok(expected.length > 10, `the random log should hit the caps (${expected.length} set aside)`);
    const a = await replay('a', log, 10);
    const b = await replay('b', log, 10);
    const c = await replay('c', log, 10, rnd.int(11, 289));
    assert.deepEqual([...a.setAside.keys()].sort((x, y) => x - y), expected);
    for (const msg of a.setAside.values()) {
      assert.match(msg, /^TSDB_ERR_WRITE_CARDINALITY point \d+: metric (narrow|wide) has \d+ series.*would exceed its limit of (6|12) series \(--max-series-per-metric\) in partition 0$/);
    }
    assert.deepEqual(b.store, a.store, 'two replays of one log must give byte-identical stores');
    assert.deepEqual(c.store, a.store, 'a crash and resume must give the same store');
    assert.deepEqual([...c.setAside].sort((x, y) => x[0] - y[0]), [...a.setAside].sort((x, y) => x[0] - y[0]));
  });

  it('counts series in order of first use and names the point that crosses the cap', () => {
    const idx = new SeriesIndex(0);
    idx.add(0, 'm{h="a"}', 'm', { h: 'a' });
    const limits = seriesLimitsFrom(3, []);
    const series = [{ metric: 'm' }, { metric: 'm' }, { metric: 'm' }, { metric: 'm' }];
    // Table entry 3 is never used by a point, so it creates nothing.
    const ids = [0, 'm{h="b"}', 'm{h="c"}', 'm{h="d"}'];
    assert.equal(cardinalityProblem(idx, limits, series, ids, [0, 1, 2, 1]), undefined);
    assert.match(cardinalityProblem(idx, seriesLimitsFrom(2, []), series, ids, [0, 1, 1, 2])!, /^point 3: metric m has 1 series and 1 more would be created before this point; new series m\{h="c"\}/);
    assert.equal(cardinalityProblem(idx, seriesLimitsFrom(0, []), series, ids, [0, 1, 2, 3]), undefined);
  });
});

describe('write-path admission (createSeriesAdmission)', () => {
  it('nearLimit is false only when refuse would accept without looking at keys (seeded)', () => {
    const rnd = seededRandom('admission-near-limit');
    for (let round = 0; round < 300; round++) {
      const index = new SeriesIndex(0);
      let id = 0;
      for (const metric of ['narrow', 'wide', 'free']) {
        for (let h = rnd.int(0, 14); h > 0; h--) index.add(id++, canonicalSeriesKey(metric, { host: `old${h}` }), metric, { host: `old${h}` });
      }
      const admission = createSeriesAdmission({ indexes: () => [index], limits: LIMITS });
      const series: Array<{ metric: string; tags: Record<string, string> }> = [];
      for (let i = rnd.int(0, 12); i > 0; i--) {
        const metric = ['narrow', 'wide', 'free'][rnd.int(0, 2)]!;
        series.push({ metric, tags: { host: rnd.int(0, 1) === 0 ? `old${rnd.int(1, 14)}` : `new${rnd.int(0, 9)}` } });
      }
      const names = [...new Set(series.map((s) => s.metric))];
      const counts = names.map((m) => series.filter((s) => s.metric === m).length);
      const refused = admission.refuse(series);
      if (!admission.nearLimit!(names, counts)) assert.equal(refused, undefined, `round ${round}`);
      if (refused !== undefined) assert.ok(admission.nearLimit!(names, counts), `round ${round}: refused but not near`);
    }
  });
});
