/**
 * Rollup sections of sealed blocks (header version 3, docs/format/block.md §9): golden bytes, the worked example,
 * rollups equal to buckets computed from the decoded points (random blocks with edge values), the rest of the block
 * identical to the version-2 block of the same points, and damage (bit flips, truncation) failing loudly.
 * Regenerate the golden file only for a deliberate format change:
 * `UPDATE_GOLDEN=1 node --test dist/test/unit/codec-block-rollup.test.js`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  BLOCK_VERSION_COMPACT,
  BLOCK_VERSION_ROLLUP,
  blockHeaderSize,
  blockRollupBytes,
  decodeBlock,
  decodeBlockHeader,
  decodeBlockRollups,
  encodeBlock,
  type Rollup,
} from '../../src/codec/block.js';
import { normalizeResolutions } from '../../src/codec/block-rollup.js';
import { isTsdbError } from '../../src/common/errors.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { H1, M5, W2H, bits, every, fromBits, walk } from '../helpers/block-inputs.js';

const FIXTURE = new URL('../../../test/fixtures/block-rollup.json', import.meta.url);

/** Buckets computed from points directly (stored order, Math.min/max, left-to-right sum): what a rollup must hold. */
function reference(ts: readonly number[], vs: readonly number[], resolutions: readonly number[]): Rollup[] {
  const out: Rollup[] = [];
  for (const r of [...new Set(resolutions)].sort((a, b) => a - b)) {
    const m = new Map<number, { start: number; count: number; min: number; max: number; sum: number }>();
    ts.forEach((t, i) => {
      const start = t - (((t % r) + r) % r);
      const b = m.get(start);
      if (b === undefined) m.set(start, { start, count: 1, min: vs[i]!, max: vs[i]!, sum: vs[i]! });
      else {
        b.count++;
        b.min = Math.min(b.min, vs[i]!);
        b.max = Math.max(b.max, vs[i]!);
        b.sum += vs[i]!;
      }
    });
    if (m.size >= 2) out.push({ resolution: r, buckets: [...m.values()].sort((a, b) => a.start - b.start) });
  }
  return out;
}

/** Rollups compared with float fields as bit patterns (NaN payloads of Math.min/max/+ may vary: any NaN matches). */
function assertSameRollups(got: Rollup[], want: Rollup[], what: string): void {
  const norm = (rs: Rollup[]) =>
    rs.map((r) => ({ resolution: r.resolution, buckets: r.buckets.map((b) => ({ ...b, min: key(b.min), max: key(b.max), sum: key(b.sum) })) }));
  const key = (v: number) => (Number.isNaN(v) ? 'NaN' : bits(v));
  assert.deepEqual(norm(got), norm(want), what);
}

interface Case {
  name: string;
  rollups: number[];
  cold?: boolean;
  ts: number[];
  vbits: string[];
  headerBytes: number;
  rollupBytes: number;
  block: string;
}

function inputs(): Array<{ name: string; rollups: number[]; cold?: boolean; ts: number[]; vs: number[] }> {
  const w = W2H;
  return [
    { name: 'worked-example', rollups: [M5, H1], ts: [3_540_000, 3_600_000, 3_660_000, 7_200_000], vs: [21.5, 21.7, 21.7, 21.6] },
    { name: 'tsbs-2h-1h', rollups: [H1], ts: every(720, 10_000), vs: walk(720) },
    { name: 'tsbs-2h-5m-and-1h', rollups: [M5, H1], ts: every(720, 10_000), vs: walk(720) },
    { name: 'sparse-buckets', rollups: [M5], ts: [w, w + 1000, w + 3 * M5, w + 7 * M5 + 5, w + 23 * M5], vs: [1, 2, 3, 4, 5] },
    { name: 'raw-values', rollups: [H1], ts: [w, w + H1, w + H1 + 1], vs: [fromBits('7ff8000000000abc'), -0, Math.PI] },
    { name: 'negative-timestamps', rollups: [H1], ts: [-H1 - 1, -1, 0, 1], vs: [-1.5, 2.25, 3, 4] },
    { name: 'one-bucket-stays-version-2', rollups: [H1], ts: every(360, 10_000), vs: walk(360) },
    { name: 'cold-compressed', rollups: [H1], cold: true, ts: every(64, 120_000), vs: Array.from({ length: 64 }, (_, i) => (i % 2 ? Math.PI : Math.E)) },
  ];
}

function build(): Case[] {
  return inputs().map(({ vs, ...c }) => {
    const b = encodeBlock(c.ts, vs, { sealed: true, cold: c.cold === true, rollups: c.rollups });
    return { ...c, vbits: vs.map(bits), headerBytes: blockHeaderSize(b), rollupBytes: blockRollupBytes(b), block: b.toString('hex') };
  });
}

if (process.env.UPDATE_GOLDEN === '1') {
  const doc = { format: 'docs/format/block.md §9', note: 'sealed blocks with rollup sections (version-3 header); vbits are float64 bit patterns (hex, big-endian)', cases: build() };
  writeFileSync(FIXTURE, `${JSON.stringify(doc, null, 2).replace(/\[\n\s+([^[\]{}]*?)\n\s+\]/g, (_, body: string) => `[${body.replace(/,\n\s+/g, ', ')}]`)}\n`);
  console.log(`wrote ${FIXTURE.pathname}`);
}

test('golden (rollup): version-3 blocks are reproduced byte for byte; header and body are those of the version-2 block', () => {
  const cases = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Case[] }).cases;
  const fresh = new Map(build().map((c) => [c.name, c.block]));
  assert.deepEqual([...fresh.keys()], cases.map((c) => c.name), 'fixture cases');
  for (const c of cases) {
    assert.equal(fresh.get(c.name), c.block, `${c.name}: encoder output drifted from the golden bytes`);
    const stored = Buffer.from(c.block, 'hex');
    const vs = c.vbits.map(fromBits);
    const d = decodeBlock(stored);
    assert.deepEqual(d.ts, c.ts, `${c.name}: timestamps`);
    assert.deepEqual(d.vs.map(bits), c.vbits, `${c.name}: values`);
    const ref = reference(c.ts, vs, c.rollups);
    assertSameRollups(decodeBlockRollups(stored), ref, `${c.name}: rollups`);
    assert.equal(stored[2], ref.length > 0 ? BLOCK_VERSION_ROLLUP : BLOCK_VERSION_COMPACT, `${c.name}: version byte`);
    assert.equal(blockRollupBytes(stored), c.rollupBytes, `${c.name}: rollup bytes`);
    const v2 = encodeBlock(c.ts, vs, { sealed: true, cold: c.cold === true });
    assert.deepEqual(d.header, { ...decodeBlockHeader(v2), version: stored[2] }, `${c.name}: header fields`);
    // Version 3 = the version-2 header, a length-prefixed section, the CRC, the same body.
    const h2 = blockHeaderSize(v2);
    assert.ok(stored.subarray(c.headerBytes).equals(v2.subarray(h2)), `${c.name}: body`);
    if (ref.length > 0) {
      assert.ok(stored.subarray(3, h2 - 4).equals(v2.subarray(3, h2 - 4)), `${c.name}: header fields bytes`);
      assert.ok(c.headerBytes - h2 >= c.rollupBytes + 1, `${c.name}: section + its length prefix`);
    } else {
      assert.equal(c.block, v2.toString('hex'), `${c.name}: no rollup, the version-2 block`);
    }
  }
});

test('golden (rollup): the worked example of docs/format/block.md §9', () => {
  const doc = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Case[] };
  const c = doc.cases.find((x) => x.name === 'worked-example')!;
  const section =
    // 5 m: code 11 (5 minutes), 3 buckets of 14 (gap 0 before the middle one), layout e = 1 | last sum derived,
    // count 1, min/max/sum 21.5; count 2, 21.7, 21.7, 43.4; last bucket min/max 21.6 (count and sum derived)
    '0b' + '03' + '00' + '41' + '01' + 'ae03ae03ae03' + '02' + 'b203b203e406' + 'b003b003' +
    // 1 h: code 121 (60 minutes), 3 dense buckets (no gaps), the same numbers
    '79' + '03' + '41' + '01' + 'ae03ae03ae03' + '02' + 'b203b203e406' + 'b003b003';
  // 7 fixed bytes, count 04, minT c0 90 b0 03, span e0 b1 df 01, five stats (10 bytes), then the section length 43
  const at = (7 + 1 + 4 + 4 + 10) * 2;
  assert.equal(c.block.slice(0, at), '5642' + '03' + '03' + '03' + '00' + '01' + '04' + 'c090b003' + 'e0b1df01' + 'ae03b203c20dae03b003');
  assert.equal(c.block.slice(at, at + 2), '2b');
  assert.equal(c.rollupBytes, section.length / 2);
  assert.equal(c.block.slice(at + 2, at + 2 + section.length), section);
});

const EDGE = [
  -0, 0, 5e-324, -5e-324, Infinity, -Infinity, NaN, fromBits('7ff8000000000abc'), Number.MAX_VALUE, -Number.MAX_VALUE, 0.1 + 0.2, 2 ** 53,
  1e300, 1e-300, 1e22, 1e23, 1 / 3, 123.456, -0.001,
];

test('property (rollup): random blocks with edge values: rollups equal buckets of the decoded points, points unchanged', () => {
  const r = seededRandom('codec-block-rollup property');
  const resolutionSets = [[H1], [M5], [M5, H1], [1000], [7000, H1], [86_400_000]];
  const t0s = [0, 1_700_000_000_000, -(2 ** 52), 2 ** 53 - 1 - 1e8, -(2 ** 53) + 1, -5 * H1 - 17];
  let withRollups = 0;
  let without = 0;
  let raw = 0;
  for (let iter = 0; iter < 2000; iter++) {
    const n = r.next() < 0.05 ? r.int(0, 2) : r.int(1, 800);
    const t0 = t0s[r.int(0, t0s.length - 1)]!;
    const step = [1, 1000, 10_000, 60_000, 600_000][r.int(0, 4)]!;
    const order = r.next();
    let ts = Array.from({ length: n }, (_, i) => t0 + i * step + (r.next() < 0.3 ? r.int(0, step - 1) : 0));
    ts = ts.map((t) => Math.max(-(2 ** 53) + 1, Math.min(2 ** 53 - 1, t)));
    if (order < 0.1) ts.reverse();
    else if (order < 0.2 && n > 1) ts[r.int(0, n - 1)] = ts[r.int(0, n - 1)]!;
    const decimals = r.int(0, 4);
    const vs = Array.from({ length: n }, () => {
      const p = r.next();
      if (p < 0.05) return EDGE[r.int(0, EDGE.length - 1)]!;
      if (p < 0.1) return r.next() * 1e6;
      return Number((r.next() * 100 * (r.next() < 0.3 ? -1 : 1)).toFixed(decimals));
    });
    const resolutions = resolutionSets[r.int(0, resolutionSets.length - 1)]!;
    const what = `iter ${iter} (n ${n}, t0 ${t0}, step ${step}, rollups ${resolutions.join(',')})`;
    const b = encodeBlock(ts, vs, { sealed: true, cold: iter % 10 === 0, rollups: resolutions });
    const d = decodeBlock(b);
    assert.deepEqual(d.ts, ts, `${what}: timestamps`);
    assert.deepEqual(d.vs.map(bits), vs.map(bits), `${what}: values`);
    const ref = reference(d.ts, d.vs, resolutions);
    const got = decodeBlockRollups(b);
    assertSameRollups(got, ref, what);
    if (got.length > 0) withRollups++;
    else without++;
    if (b[2] === BLOCK_VERSION_ROLLUP && got.some((x) => x.buckets.some((k) => !Number.isFinite(k.sum) || Object.is(k.min, -0)))) raw++;
    assert.equal(b[2], got.length > 0 ? BLOCK_VERSION_ROLLUP : BLOCK_VERSION_COMPACT, `${what}: version`);
    const v2 = decodeBlockHeader(encodeBlock(ts, vs, { sealed: true, cold: iter % 10 === 0 }));
    assert.deepEqual({ ...d.header, version: 0 }, { ...v2, version: 0 }, `${what}: header fields`);
  }
  assert.ok(withRollups > 100 && without > 50 && raw > 0, `exercised: ${withRollups} with, ${without} without rollups, ${raw} with raw values`);
});

test('damage (rollup): every single-bit flip and every truncation of a version-3 block fails loudly', () => {
  const w = 1_699_999_200_000;
  const blocks = [
    encodeBlock([3_540_000, 3_600_000, 3_660_000, 7_200_000], [21.5, 21.7, 21.7, 21.6], { sealed: true, rollups: [M5, H1] }),
    encodeBlock([w, w + 1000, w + 3 * M5, w + 23 * M5], [NaN, -0, Infinity, 1 / 3], { sealed: true, rollups: [M5] }),
    encodeBlock([-H1 - 1, -1, 0, 1], [7, 7, 7, 7], { sealed: true, rollups: [H1] }),
  ];
  const storeIo = (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_STORE_IO';
  for (const b of blocks) {
    assert.equal(b[2], BLOCK_VERSION_ROLLUP);
    for (let i = 0; i < b.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const c = Buffer.from(b);
        c[i]! ^= 1 << bit;
        const where = `byte ${i} bit ${bit} of ${b.toString('hex')}`;
        assert.throws(() => decodeBlock(c), storeIo, where);
        assert.throws(() => decodeBlockHeader(c), storeIo, where);
        assert.throws(() => decodeBlockRollups(c), storeIo, where);
      }
    }
    for (let len = 0; len < b.length; len++) {
      assert.throws(() => decodeBlock(b.subarray(0, len)), storeIo, `prefix ${len} of ${b.length}`);
      assert.throws(() => decodeBlockRollups(b.subarray(0, len)), storeIo, `prefix ${len} of ${b.length}`);
    }
  }
});

test('rollup: hot blocks, unsealed blocks and blocks inside one bucket carry none; resolutions are whole seconds', () => {
  const ts = [0, H1, 2 * H1];
  assert.equal(encodeBlock(ts, [1, 2, 3], { rollups: [H1] })[2], 1, 'not sealed: version 1, rollups ignored');
  assert.deepEqual(decodeBlockRollups(encodeBlock(ts, [1, 2, 3], { rollups: [H1] })), []);
  assert.equal(encodeBlock([0, 1000], [1, 2], { sealed: true, rollups: [H1] })[2], BLOCK_VERSION_COMPACT);
  assert.equal(encodeBlock([0], [1], { sealed: true, rollups: [1000] })[2], BLOCK_VERSION_COMPACT);
  assert.deepEqual(normalizeResolutions([H1, M5, H1]), [M5, H1]);
  for (const r of [0, 500, 1500, -H1, 1.5e3, Number.MAX_VALUE]) assert.throws(() => normalizeResolutions([r]), /rollup resolution/);
});
