import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { DDSketch, DEFAULT_SKETCH_ALPHA, DEFAULT_SKETCH_MAX_BUCKETS, SKETCH_MIN_INDEXABLE, nearestRank } from '../../src/query/aggregate/sketch.js';
import { isTsdbError } from '../../src/common/errors.js';
import { seededRandom } from '../helpers/seeded-random.js';

// Compiled to dist/test/unit; the checked-in fixture lives in the source tree.
const FIXTURE = new URL('../../../test/fixtures/sketch.json', import.meta.url);
const ALPHA = DEFAULT_SKETCH_ALPHA;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function sketchOf(values: ArrayLike<number>, alpha = ALPHA, maxBuckets = DEFAULT_SKETCH_MAX_BUCKETS): DDSketch {
  const s = new DDSketch(alpha, maxBuckets);
  s.addRange(values, 0, values.length);
  return s;
}

/** The exact nearest-rank value at 1-based rank r of ascending values. */
function exactAt(sorted: Float64Array, r: number): number {
  return sorted[Math.min(sorted.length, Math.max(1, r)) - 1]!;
}

type Rnd = ReturnType<typeof seededRandom>;

/** Standard normal (Box-Muller). */
function gauss(rnd: Rnd): number {
  const u = 1 - rnd.next();
  const v = rnd.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Named random distributions; none produces subnormals (they count as zero, outside the guarantee). */
const DISTRIBUTIONS: Record<string, (rnd: Rnd, n: number) => number[]> = {
  uniform: (rnd, n) => Array.from({ length: n }, () => rnd.next() * 1000),
  'uniform ints (ties)': (rnd, n) => Array.from({ length: n }, () => rnd.int(-5, 20)),
  lognormal: (rnd, n) => Array.from({ length: n }, () => Math.exp(gauss(rnd) * 2 + 3)),
  'lognormal wide': (rnd, n) => Array.from({ length: n }, () => Math.exp(gauss(rnd) * 15)),
  bimodal: (rnd, n) => Array.from({ length: n }, () => (rnd.next() < 0.7 ? 0.002 * (1 + rnd.next()) : 150 + 50 * rnd.next())),
  'negatives and zeros': (rnd, n) =>
    Array.from({ length: n }, () => {
      const r = rnd.next();
      return r < 0.2 ? 0 : r < 0.6 ? -Math.exp(gauss(rnd) * 3) : Math.exp(gauss(rnd) * 3);
    }),
  'all negative': (rnd, n) => Array.from({ length: n }, () => -rnd.next() * 1e6 - 1e-3),
  constant: (_, n) => Array.from({ length: n }, () => 42.125),
  'constant negative': (_, n) => Array.from({ length: n }, () => -0.1),
  'all zero': (_, n) => Array.from({ length: n }, () => 0),
  'extreme magnitudes': (rnd, n) => Array.from({ length: n }, () => (rnd.next() < 0.5 ? -1 : 1) * 10 ** (rnd.next() * 600 - 300)),
  'near the largest double': (rnd, n) => Array.from({ length: n }, () => (rnd.next() < 0.5 ? -1 : 1) * Number.MAX_VALUE * (1 - rnd.next() * 1e-3)),
  'near the smallest normal double': (rnd, n) => Array.from({ length: n }, () => (rnd.next() < 0.5 ? -1 : 1) * SKETCH_MIN_INDEXABLE * (1 + rnd.next() * 10)),
  'powers of gamma (bucket edges)': (rnd, n) => {
    const g = new DDSketch().gamma;
    return Array.from({ length: n }, () => g ** rnd.int(-500, 500));
  },
  'integers and exact edges': (rnd, n) => Array.from({ length: n }, () => [1, 2, 10, 100, 1000, 1e6, -1, 0.5, 0.25][rnd.int(0, 8)]!),
};

/** Big enough that no test distribution collapses, even at alpha 0.001 (counters grow with the span only). */
const NO_COLLAPSE = 1 << 20;

/** Asserts every percentile 1..100 (and a few random ranks) of s is within alpha of the exact nearest-rank value. */
function assertWithinBound(s: DDSketch, values: number[], alpha: number, ctx: string): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  assert.equal(s.count, n, `${ctx}: count`);
  let worst = 0;
  const check = (r: number, what: string): void => {
    const exact = exactAt(sorted, r);
    const est = s.valueAtRank(r);
    const err = Math.abs(est - exact);
    if (!(err <= alpha * Math.abs(exact))) assert.fail(`${ctx}: ${what} (rank ${r} of ${n}): sketch ${est}, exact ${exact}, error ${err / Math.abs(exact)} > ${alpha}`);
    if (exact !== 0) worst = Math.max(worst, err / Math.abs(exact));
  };
  for (let nn = 1; nn <= 100; nn++) {
    check(nearestRank(nn, n), `p${nn}`);
    assert.equal(s.percentile(nn), s.valueAtRank(nearestRank(nn, n)));
  }
  for (let i = 0; i < 20; i++) check(1 + Math.floor((i / 20) * n), 'rank');
  check(1, 'min');
  check(n, 'max');
  assert.equal(s.valueAtRank(1), sorted[0], `${ctx}: rank 1 is the exact min`);
  assert.equal(s.valueAtRank(n), sorted[n - 1], `${ctx}: rank n is the exact max`);
  return worst;
}

describe('DDSketch: accuracy against exact nearest rank', () => {
  it('every percentile of random distributions is within alpha relative error', () => {
    const rnd = seededRandom('query-sketch accuracy');
    let cases = 0;
    let worst = 0;
    // quantile look-ups walk the buckets: spans of 1e5+ keys (wide data at alpha 0.001) would only make this slow
    const WIDE = new Set(['lognormal wide', 'extreme magnitudes', 'near the largest double', 'near the smallest normal double']);
    for (const [name, gen] of Object.entries(DISTRIBUTIONS)) {
      for (let round = 0; round < 12; round++) {
        const n = round === 0 ? 1 : round === 1 ? 2 : rnd.int(3, round < 8 ? 300 : 30_000);
        const values = gen(rnd, n);
        for (const alpha of WIDE.has(name) ? [ALPHA, 0.05] : [ALPHA, 0.05, 0.001]) {
          const err = assertWithinBound(sketchOf(values, alpha, NO_COLLAPSE), values, alpha, `${name}, n=${n}, alpha=${alpha} (seed ${rnd.seed})`);
          worst = Math.max(worst, err / alpha);
          cases++;
        }
      }
    }
    console.log(`# query-sketch accuracy: ${cases} sketches, worst relative error ${worst.toFixed(7)} × alpha`);
  });

  it('percentile uses nearest rank ceil(NN·n/100), with no floating-point drift', () => {
    assert.equal(nearestRank(95, 20), 19);
    assert.equal(nearestRank(50, 1), 1);
    assert.equal(nearestRank(99, 100), 99);
    assert.equal(nearestRank(1, 1000), 10);
    // 20 values far apart: every rank maps to its own value, so a rank off by one would be off by ~2x
    const values = Array.from({ length: 20 }, (_, i) => 2 ** (i + 1));
    const s = sketchOf(values);
    assert.ok(Math.abs(s.percentile(95) - 2 ** 19) <= ALPHA * 2 ** 19);
    assert.ok(Math.abs(s.percentile(50) - 2 ** 10) <= ALPHA * 2 ** 10);
  });

  it('zeros, -0 and subnormals count as zero; only subnormals lose the relative bound (absolute error < 2^-1022)', () => {
    const s = sketchOf([0, -0, 5e-324, -1e-310, 3, -3]);
    assert.equal(s.zeroCount, 4);
    assert.equal(s.count, 6);
    assert.deepEqual(s.buckets().positive.length, 1);
    assert.equal(s.valueAtRank(3), 0);
    assert.equal(s.valueAtRank(1), -3);
    assert.equal(s.valueAtRank(6), 3);
    const tiny = sketchOf([1e-310, 2e-310, 3e-310]);
    assert.equal(tiny.valueAtRank(2), 1e-310, 'clamped to [min, max]');
    assert.ok(Math.abs(tiny.valueAtRank(2) - 2e-310) < SKETCH_MIN_INDEXABLE);
  });

  it('an empty sketch has no value; non-finite values are rejected', () => {
    const s = new DDSketch();
    assert.ok(Number.isNaN(s.percentile(50)));
    assert.equal(s.count, 0);
    for (const bad of [NaN, Infinity, -Infinity]) {
      assert.throws(() => s.add(bad), (e: unknown) => isTsdbError(e) && /not finite/.test(e.message));
      assert.throws(() => s.addRange([1, bad, 2], 0, 3), (e: unknown) => isTsdbError(e) && /index 1/.test(e.message));
    }
    assert.throws(() => new DDSketch(0), /relative accuracy/);
    assert.throws(() => new DDSketch(1), /relative accuracy/);
    assert.throws(() => new DDSketch(0.01, 0), /maxBuckets/);
  });

  it('add and addRange agree; clear empties', () => {
    const rnd = seededRandom('query-sketch add');
    const values = DISTRIBUTIONS['negatives and zeros']!(rnd, 5000);
    const a = sketchOf(values);
    const b = new DDSketch();
    for (const v of values) b.add(v);
    assert.equal(hex(a.encode()), hex(b.encode()));
    a.clear();
    assert.equal(hex(a.encode()), hex(new DDSketch().encode()));
    a.addRange(values, 0, values.length);
    assert.equal(hex(a.encode()), hex(b.encode()), 'a cleared sketch is as good as new');
  });
});

describe('DDSketch: merge', () => {
  /** Splits values into k random parts (random assignment, so each part is in a random order of its own). */
  function split(rnd: Rnd, values: number[], k: number): number[][] {
    const parts: number[][] = Array.from({ length: k }, () => []);
    for (const v of values) parts[rnd.int(0, k - 1)]!.push(v);
    return parts;
  }

  /** Merges the parts' sketches in a random tree order. */
  function mergeAll(rnd: Rnd, parts: number[][], maxBuckets: number): DDSketch {
    const sketches = parts.map((p) => sketchOf(p, ALPHA, maxBuckets));
    while (sketches.length > 1) {
      const i = rnd.int(0, sketches.length - 1);
      const [a] = sketches.splice(i, 1);
      const j = rnd.int(0, sketches.length - 1);
      sketches[j]!.merge(a!);
    }
    return sketches[0]!;
  }

  it('the merge of the parts equals the sketch of all values, bucket for bucket', () => {
    const rnd = seededRandom('query-sketch merge');
    let cases = 0;
    for (const [name, gen] of Object.entries(DISTRIBUTIONS)) {
      for (let round = 0; round < 8; round++) {
        const values = gen(rnd, rnd.int(1, 5000));
        const k = rnd.int(1, 9);
        const whole = sketchOf(values);
        const merged = mergeAll(rnd, split(rnd, values, k), DEFAULT_SKETCH_MAX_BUCKETS);
        const ctx = `${name}, ${values.length} values in ${k} parts (seed ${rnd.seed})`;
        assert.deepEqual(merged.buckets(), whole.buckets(), ctx);
        assert.equal(merged.min, whole.min, ctx);
        assert.equal(merged.max, whole.max, ctx);
        assert.equal(hex(merged.encode()), hex(whole.encode()), ctx);
        for (const nn of [50, 90, 95, 99]) assert.equal(merged.percentile(nn), whole.percentile(nn), ctx);
        cases++;
      }
    }
    console.log(`# query-sketch merge: ${cases} splits`);
  });

  it('collapsing past maxBuckets keeps merge exact and bounds the buckets; kept buckets keep the guarantee', () => {
    const rnd = seededRandom('query-sketch collapse');
    for (let round = 0; round < 200; round++) {
      const maxBuckets = rnd.int(1, 64);
      const values = DISTRIBUTIONS[round % 2 === 0 ? 'lognormal wide' : 'negatives and zeros']!(rnd, rnd.int(1, 3000));
      const whole = sketchOf(values, ALPHA, maxBuckets);
      const merged = mergeAll(rnd, split(rnd, values, rnd.int(2, 6)), maxBuckets);
      const ctx = `maxBuckets ${maxBuckets}, ${values.length} values (seed ${rnd.seed})`;
      assert.deepEqual(merged.buckets(), whole.buckets(), ctx);
      assert.equal(hex(merged.encode()), hex(whole.encode()), ctx);
      const b = whole.buckets();
      for (const store of [b.positive, b.negative]) {
        if (store.length > 0) assert.ok(store[store.length - 1]![0] - store[0]![0] + 1 <= maxBuckets, `${ctx}: span over maxBuckets`);
      }
      // positives: every key >= the lowest kept key is exact, so ranks whose true value lies there keep the bound
      const sorted = Float64Array.from(values).sort();
      const nNeg = values.filter((v) => v <= -SKETCH_MIN_INDEXABLE).length;
      const nZero = whole.zeroCount;
      const lowKept = b.positive.length > 0 ? b.positive[0]![0] : Infinity;
      for (let r = nNeg + nZero + 1; r <= sorted.length; r++) {
        const v = sorted[r - 1]!;
        if (whole.keyOf(v) < lowKept) continue; // collapsed into the lowest kept bucket
        assert.ok(Math.abs(whole.valueAtRank(r) - v) <= ALPHA * v, `${ctx}: rank ${r}`);
      }
      // negatives: every key <= the highest kept key (of |v|) is exact
      const highKept = b.negative.length > 0 ? b.negative[b.negative.length - 1]![0] : -Infinity;
      for (let r = 1; r <= nNeg; r++) {
        const v = sorted[r - 1]!;
        if (whole.keyOf(-v) > highKept) continue; // collapsed into the highest kept bucket
        assert.ok(Math.abs(whole.valueAtRank(r) - v) <= ALPHA * -v, `${ctx}: rank ${r}`);
      }
    }
  });

  it('the default bucket bound never collapses data between 1e-15 and 1e15', () => {
    const s = sketchOf([1e-15, 1e15, -1e-15, -1e15, 1, -1]);
    const b = s.buckets();
    assert.equal(b.positive.length, 3);
    assert.equal(b.negative.length, 3);
    assert.ok(s.keyOf(1e15) - s.keyOf(1e-15) + 1 <= DEFAULT_SKETCH_MAX_BUCKETS);
    assert.ok(Math.abs(s.valueAtRank(2) - -1) <= ALPHA, 'not collapsed');
  });

  it('refuses to merge sketches with a different accuracy or bucket bound', () => {
    assert.throws(() => new DDSketch(0.01).merge(new DDSketch(0.02)), /sketches differ/);
    assert.throws(() => new DDSketch(0.01, 100).merge(new DDSketch(0.01, 101)), /sketches differ/);
  });
});

describe('DDSketch: serialization', () => {
  it('round-trips: decode(encode(s)) has the same buckets, min, max, answers and bytes', () => {
    const rnd = seededRandom('query-sketch serialization');
    for (const [name, gen] of Object.entries(DISTRIBUTIONS)) {
      for (let round = 0; round < 6; round++) {
        const maxBuckets = round < 3 ? DEFAULT_SKETCH_MAX_BUCKETS : rnd.int(1, 100);
        const values = gen(rnd, rnd.int(1, 3000));
        const s = sketchOf(values, ALPHA, maxBuckets);
        const bytes = s.encode();
        const d = DDSketch.decode(bytes);
        const ctx = `${name}, ${values.length} values, maxBuckets ${maxBuckets} (seed ${rnd.seed})`;
        assert.deepEqual(d.buckets(), s.buckets(), ctx);
        assert.equal(d.count, s.count, ctx);
        assert.equal(d.min, s.min, ctx);
        assert.equal(d.max, s.max, ctx);
        assert.equal(d.alpha, s.alpha, ctx);
        assert.equal(d.maxBuckets, s.maxBuckets, ctx);
        for (let nn = 1; nn <= 100; nn++) assert.equal(d.percentile(nn), s.percentile(nn), ctx);
        assert.equal(hex(d.encode()), hex(bytes), ctx);
        // a decoded sketch keeps working: adding more equals sketching everything
        const more = gen(rnd, 100);
        d.addRange(more, 0, more.length);
        assert.equal(hex(d.encode()), hex(sketchOf([...values, ...more], ALPHA, maxBuckets).encode()), ctx);
      }
    }
    const empty = new DDSketch();
    assert.equal(empty.encode().length, 33);
    assert.equal(hex(DDSketch.decode(empty.encode()).encode()), hex(empty.encode()));
  });

  it('is compact: one byte per occupied bucket with a small count, zero runs coded as runs', () => {
    const s = sketchOf([0.001, 1000]); // keys ~690 apart
    assert.ok(s.encode().length < 45, `${s.encode().length} bytes`);
    const rnd = seededRandom('query-sketch size');
    const lat = DISTRIBUTIONS.lognormal!(rnd, 1_000_000);
    const big = sketchOf(lat);
    console.log(`# query-sketch size: 1M lognormal values -> ${big.encode().length} bytes, ${big.buckets().positive.length} buckets`);
    assert.ok(big.encode().length < 4096);
  });

  it('rejects malformed bytes', () => {
    const good = sketchOf([-2, 0, 1, 5, 5, 1000]).encode();
    const bad = (bytes: Uint8Array, re: RegExp): void => {
      assert.throws(
        () => DDSketch.decode(bytes),
        (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_INTERNAL' && /^cannot decode sketch/.test(e.message) && re.test(e.message),
      );
    };
    const edit = (f: (b: Uint8Array, dv: DataView) => void): Uint8Array => {
      const b = good.slice();
      f(b, new DataView(b.buffer));
      return b;
    };
    bad(good.subarray(0, 10), /truncated/);
    bad(good.subarray(0, good.length - 1), /truncated/);
    bad(Uint8Array.from([...good, 0]), /trailing/);
    bad(edit((b) => (b[0] = 2)), /version/);
    bad(edit((b) => (b[1] = 1)), /flags/);
    bad(edit((_, dv) => dv.setFloat64(2, 1.5, true)), /relative accuracy/);
    bad(edit((_, dv) => dv.setUint32(10, 0, true)), /maxBuckets/);
    bad(edit((_, dv) => dv.setFloat64(14, NaN, true)), /min/);
    bad(edit((_, dv) => dv.setFloat64(14, 2000, true)), /min/); // min > max
    bad(edit((_, dv) => dv.setFloat64(14, 1, true)), /min/); // negatives present but min >= 0
    bad(Uint8Array.from([...good.subarray(0, good.length - 1), 0x80]), /truncated/); // a varint cut short
    // a store spanning more keys than maxBuckets
    bad(edit((_, dv) => dv.setUint32(10, 3, true)), /over maxBuckets/);
    // hand-made: one positive store whose zero run reaches its end
    const header = good.slice(0, 30);
    const withBody = (...body: number[]): Uint8Array => Uint8Array.from([...header, ...body]);
    new DataView(header.buffer).setFloat64(14, 1, true);
    new DataView(header.buffer).setFloat64(22, 2, true);
    bad(withBody(0, 3, 0, 1, 0, 0, 0, 0), /zero run/); // len 3, key 0: count 1, run of 1, then a run past the end
    bad(withBody(0, 3, 0, 0, 0, 1, 0), /zero run/); // starts with a zero run
    bad(withBody(0, 4, 0, 1, 0, 0, 0, 0, 1, 0), /two zero runs/);
    bad(withBody(0, 1, 0, 0x81, 0x00, 0), /not minimal/);
    bad(withBody(0, 1, 0xff, 0xff, 0x07, 1, 0), /outside/); // key -65536
    assert.equal(DDSketch.decode(withBody(0, 3, 0, 1, 0, 0, 1, 0)).count, 2, 'the hand-made well-formed one decodes');
  });

  // ---- golden fixture (regenerate with UPDATE_GOLDEN=1 only when the format deliberately changes) ----
  interface GoldenCase {
    name: string;
    alpha: number;
    maxBuckets: number;
    values: number[];
    hex: string;
    count: number;
    percentiles: Record<string, number>;
  }
  const goldenInputs = (): Array<Omit<GoldenCase, 'hex' | 'count' | 'percentiles'>> => [
    { name: 'empty', alpha: 0.01, maxBuckets: 4096, values: [] },
    { name: 'one value', alpha: 0.01, maxBuckets: 4096, values: [1] },
    { name: 'zeros only', alpha: 0.01, maxBuckets: 4096, values: [0, 0, 0] },
    { name: 'latencies (ms)', alpha: 0.01, maxBuckets: 4096, values: [0.8, 1.2, 1.25, 3, 3, 3, 7.5, 12, 15, 15.2, 40, 250, 1200] },
    { name: 'mixed signs, zero runs, a count over 127', alpha: 0.01, maxBuckets: 4096, values: [-1000, -999, -0.5, 0, 0.001, 2.5, 1e6, ...new Array<number>(200).fill(100)] },
    { name: 'collapsed (maxBuckets 8)', alpha: 0.01, maxBuckets: 8, values: [1, 2, 4, 8, 1.1, 1.12, 1.15, -1, -2, -4] },
    { name: 'alpha 0.05', alpha: 0.05, maxBuckets: 100, values: [1, 10, 100, 1000, 10000, -3.5] },
  ];
  const build = (g: Omit<GoldenCase, 'hex' | 'count' | 'percentiles'>): GoldenCase => {
    const s = sketchOf(g.values, g.alpha, g.maxBuckets);
    const percentiles: Record<string, number> = {};
    if (s.count > 0) for (const nn of [50, 90, 95, 99]) percentiles[`p${nn}`] = s.percentile(nn);
    return { ...g, hex: hex(s.encode()), count: s.count, percentiles };
  };

  it('matches the golden fixture (test/fixtures/sketch.json)', () => {
    const golden = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: GoldenCase[] };
    assert.equal(golden.cases.length, goldenInputs().length);
    for (const g of golden.cases) {
      const s = sketchOf(g.values, g.alpha, g.maxBuckets);
      assert.equal(hex(s.encode()), g.hex, `${g.name}: encode`);
      const d = DDSketch.decode(Buffer.from(g.hex, 'hex'));
      assert.equal(hex(d.encode()), g.hex, `${g.name}: decode + encode`);
      assert.equal(d.count, g.count, g.name);
      for (const [k, v] of Object.entries(g.percentiles)) {
        assert.equal(d.percentile(Number(k.slice(1))), v, `${g.name}: ${k}`);
        assert.equal(s.percentile(Number(k.slice(1))), v, `${g.name}: ${k}`);
      }
    }
    // the documented example (docs/format/sketch.md): one value 1
    assert.equal(golden.cases[1]!.hex, '0100' + '7b14ae47e17a843f' + '00100000' + '000000000000f03f' + '000000000000f03f' + '00' + '01' + '00' + '01' + '00');
  });

  if (process.env.UPDATE_GOLDEN === '1') {
    it('rewrites the golden fixture', () => {
      const cases = goldenInputs().map(build);
      writeFileSync(FIXTURE, JSON.stringify({ note: 'DDSketch bytes, docs/format/sketch.md; regenerate with UPDATE_GOLDEN=1 only for a deliberate format change', cases }, null, 1) + '\n');
    });
  }
});
