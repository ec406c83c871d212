/**
 * Bucket sketches in rollup sections (`--rollups …,sketch`, docs/format/block.md §9.6): golden bytes and the worked
 * example, each bucket's sketch equal to the sketch of the bucket's decoded values and their merge equal to the sketch
 * of the whole block (random blocks, seeded), blocks without sketches unchanged, damage failing loudly, the setting.
 * Regenerate the golden file only for a deliberate format change:
 * `UPDATE_GOLDEN=1 node --test dist/test/unit/codec-rollup-sketch.test.js`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { BLOCK_VERSION_ROLLUP, blockRollupBytes, decodeBlock, decodeBlockHeader, decodeBlockRollups, encodeBlock } from '../../src/codec/block.js';
import { ROLLUP_SKETCH, bucketStart } from '../../src/codec/block-rollup.js';
import { rollupSketch } from '../../src/codec/rollup-sketch.js';
import { DDSketch } from '../../src/codec/sketch.js';
import { resolveServeConfig, rollupResolutions } from '../../src/common/config.js';
import { isTsdbError } from '../../src/common/errors.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { H1, M5, W2H, bits, every, fromBits, walk } from '../helpers/block-inputs.js';

const FIXTURE = new URL('../../../test/fixtures/block-rollup-sketch.json', import.meta.url);
const S = ROLLUP_SKETCH;

/** Sketch state compared as buckets, count and (by ==, so −0 matches 0) min/max. */
function assertSameSketch(got: DDSketch | undefined, want: DDSketch, what: string): void {
  assert.ok(got !== undefined, `${what}: no sketch`);
  assert.deepEqual(got.buckets(), want.buckets(), `${what}: buckets`);
  assert.equal(got.count, want.count, `${what}: count`);
  assert.ok(got.min == want.min && got.max == want.max, `${what}: min/max ${got.min}/${got.max} vs ${want.min}/${want.max}`);
}

function sketchOf(vs: readonly number[]): DDSketch {
  const s = rollupSketch();
  for (const v of vs) s.add(v);
  return s;
}

interface Case {
  name: string;
  rollups: number[];
  cold?: boolean;
  ts: number[];
  vbits: string[];
  rollupBytes: number;
  block: string;
}

function inputs(): Array<{ name: string; rollups: number[]; cold?: boolean; ts: number[]; vs: number[] }> {
  const w = W2H;
  return [
    { name: 'worked-example', rollups: [S, H1], ts: [3_540_000, 3_600_000, 3_660_000, 7_200_000], vs: [21.5, 21.7, 21.7, 21.6] },
    { name: 'tsbs-2h-1h-sketch', rollups: [S, H1], ts: every(720, 10_000), vs: walk(720) },
    { name: 'tsbs-2h-5m-1h-sketch-on-1h', rollups: [S, M5, H1], ts: every(720, 10_000), vs: walk(720) },
    { name: 'signs-zeros-sparse', rollups: [S, H1], ts: [w, w + 1, w + 2, w + 3, w + H1, w + H1 + 1, w + H1 + 2], vs: [-1e6, -0.5, 0, 5e-324, 1e-9, 1e12, -0] },
    { name: 'non-finite-no-sketch', rollups: [S, H1], ts: [w, w + H1, w + H1 + 1], vs: [fromBits('7ff8000000000abc'), -0, Math.PI] },
    { name: 'cold-compressed', rollups: [S, H1], cold: true, ts: every(64, 120_000), vs: Array.from({ length: 64 }, (_, i) => (i % 2 ? Math.PI : Math.E)) },
  ];
}

function build(): Case[] {
  return inputs().map(({ vs, ...c }) => {
    const b = encodeBlock(c.ts, vs, { sealed: true, cold: c.cold === true, rollups: c.rollups });
    return { ...c, vbits: vs.map(bits), rollupBytes: blockRollupBytes(b), block: b.toString('hex') };
  });
}

if (process.env.UPDATE_GOLDEN === '1') {
  const doc = { format: 'docs/format/block.md §9.6', note: 'sealed blocks whose coarsest rollup carries bucket sketches (rollups entry 0 = sketch); vbits are float64 bit patterns (hex, big-endian)', cases: build() };
  writeFileSync(FIXTURE, `${JSON.stringify(doc, null, 2).replace(/\[\n\s+([^[\]{}]*?)\n\s+\]/g, (_, body: string) => `[${body.replace(/,\n\s+/g, ', ')}]`)}\n`);
  console.log(`wrote ${FIXTURE.pathname}`);
}

test('golden (rollup sketch): blocks are reproduced byte for byte; bucket sketches are those of the bucket values', () => {
  const cases = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Case[] }).cases;
  const fresh = build();
  assert.deepEqual(fresh.map((c) => c.name), cases.map((c) => c.name), 'fixture cases');
  for (const c of cases) {
    const b = Buffer.from(c.block, 'hex');
    assert.equal(encodeBlock(c.ts, c.vbits.map(fromBits), { sealed: true, cold: c.cold === true, rollups: c.rollups }).toString('hex'), c.block, c.name);
    assert.equal(blockRollupBytes(b), c.rollupBytes, c.name);
    const vs = c.vbits.map(fromBits);
    const rollups = decodeBlockRollups(b);
    const coarsest = rollups[rollups.length - 1]!;
    for (const r of rollups.slice(0, -1)) assert.ok(r.buckets.every((x) => x.sketch === undefined), `${c.name}: only the coarsest carries sketches`);
    if (c.name === 'non-finite-no-sketch') {
      assert.ok(coarsest.buckets.every((x) => x.sketch === undefined), 'a block with NaN gets no sketches');
      continue;
    }
    for (const bk of coarsest.buckets) {
      const inBucket = vs.filter((_, i) => bucketStart(c.ts[i]!, coarsest.resolution) === bk.start);
      assertSameSketch(bk.sketch, sketchOf(inBucket), `${c.name} bucket ${bk.start}`);
    }
    // the same block without the sketch entry: identical but for the section (layout bit 7 clear, no sketches)
    const plain = encodeBlock(c.ts, vs, { sealed: true, cold: c.cold === true, rollups: c.rollups.filter((r) => r !== S) });
    assert.deepEqual(decodeBlock(plain), decodeBlock(b), `${c.name}: points`);
    assert.deepEqual(decodeBlockHeader(plain), decodeBlockHeader(b), `${c.name}: header`);
  }
});

test('golden (rollup sketch): the worked example of docs/format/block.md §9.6', () => {
  const c = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Case[] }).cases.find((x) => x.name === 'worked-example')!;
  // 1 h entry: code 79, K 3, layout 0xc1 (e 1 | last sum derived | sketches), buckets, then per bucket: negative
  // store empty (00), positive store dense with one key (03), first key as a delta, count
  // 21.5, 21.6 and 21.7 are within one bucket of the mapping (ratio < γ = 1.0202): key 154 each
  assert.deepEqual([21.5, 21.6, 21.7].map((v) => rollupSketch().keyOf(v)), [154, 154, 154]);
  assert.equal(c.rollupBytes, 34);
  assert.match(c.block, /^5642030303000104c090b003e0b1df01ae03b203c20dae03b003227903c101ae03ae03ae0302b203b203e406b003b0030003b402010003000200030001e4f184b4/);
});

test('property (rollup sketch): random blocks: each bucket sketch is the sketch of its values, their merge the sketch of the block', () => {
  const rnd = seededRandom('rollup-sketch-property').next;
  const edge = [0, -0, 1, -1, 5e-324, -5e-324, 2.2250738585072014e-308, Number.MAX_VALUE, -Number.MAX_VALUE, 1e-300, 0.1, 1e300, 45, 46, 47];
  for (let iter = 0; iter < 300; iter++) {
    const n = 2 + Math.floor(rnd() * 400);
    const base = Math.floor(rnd() * 1e6) * 10_000 - 5e9;
    const step = [1000, 10_000, 60_000, 700_000][Math.floor(rnd() * 4)]!;
    const ts = Array.from({ length: n }, (_, i) => base + i * step);
    const kind = Math.floor(rnd() * 4);
    const vs = ts.map(() => (kind === 0 ? edge[Math.floor(rnd() * edge.length)]! : kind === 1 ? Math.round(rnd() * 100) : kind === 2 ? (rnd() - 0.5) * 10 ** Math.floor(rnd() * 40 - 20) : Math.round(rnd() * 1000) / 10));
    const spec = rnd() < 0.5 ? [S, H1] : [S, M5, H1];
    const b = encodeBlock(ts, vs, { sealed: true, cold: rnd() < 0.5, rollups: spec });
    const rollups = decodeBlockRollups(b);
    const what = `iter ${iter} (n ${n}, step ${step}, kind ${kind})`;
    if (b[2] !== BLOCK_VERSION_ROLLUP || rollups[rollups.length - 1]!.resolution !== H1) {
      assert.ok(rollups.every((r) => r.buckets.every((x) => x.sketch === undefined)), `${what}: no 1 h entry, no sketches`);
      continue;
    }
    const top = rollups[rollups.length - 1]!;
    const merged = rollupSketch();
    for (const bk of top.buckets) {
      const inBucket = vs.filter((_, i) => bucketStart(ts[i]!, H1) === bk.start);
      assertSameSketch(bk.sketch, sketchOf(inBucket), `${what} bucket ${bk.start}`);
      merged.merge(bk.sketch!);
    }
    assertSameSketch(merged, sketchOf(vs), `${what} merged`);
    for (const pct of [50, 90, 95, 99]) assert.equal(merged.percentile(pct), sketchOf(vs).percentile(pct), `${what} p${pct}`);
  }
});

test('damage (rollup sketch): every single-bit flip and every truncation fails loudly', () => {
  const w = 1_699_999_200_000;
  const blocks = [
    encodeBlock([3_540_000, 3_600_000, 3_660_000, 7_200_000], [21.5, 21.7, 21.7, 21.6], { sealed: true, rollups: [S, M5, H1] }),
    encodeBlock([w, w + 1, w + H1, w + H1 + 5], [-3, 0, 1e-9, 1e12], { sealed: true, rollups: [S, H1] }),
  ];
  const storeIo = (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_STORE_IO';
  for (const b of blocks) {
    assert.ok(decodeBlockRollups(b).at(-1)!.buckets.every((x) => x.sketch !== undefined));
    for (let i = 0; i < b.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const c = Buffer.from(b);
        c[i]! ^= 1 << bit;
        const where = `byte ${i} bit ${bit} of ${b.toString('hex')}`;
        assert.throws(() => decodeBlock(c), storeIo, where);
        assert.throws(() => decodeBlockRollups(c), storeIo, where);
      }
    }
    for (let len = 0; len < b.length; len++) assert.throws(() => decodeBlockRollups(b.subarray(0, len)), storeIo, `prefix ${len} of ${b.length}`);
  }
});

test('--rollups sketch: adds the sketch entry to the resolutions; needs a resolution, not with none', () => {
  assert.deepEqual(rollupResolutions(resolveServeConfig({ rollups: '1h,sketch' }, {}).rollups), [S, H1]);
  assert.deepEqual(rollupResolutions(resolveServeConfig({ rollups: 'sketch,5m,1h' }, {}).rollups), [S, M5, H1]);
  assert.throws(() => rollupResolutions(['sketch']), /"sketch" needs a resolution/);
  assert.throws(() => rollupResolutions(['none', 'sketch']), /"none" cannot be combined/);
});
