/**
 * The compact version-2 header of sealed blocks (docs/format/block.md §3): golden bytes, the same header
 * fields as the 76-byte version-1 header for the same points (bit-exact, edge values included), round trips,
 * and damage (bit flips, truncation) failing loudly.
 * Regenerate the golden file only for a deliberate format change:
 * `UPDATE_GOLDEN=1 node --test dist/test/unit/codec-block-sealed.test.js`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  BLOCK_HEADER_SIZE,
  BLOCK_VERSION_COMPACT,
  type BlockHeader,
  FLAG_SEALED,
  blockHeaderSize,
  decodeBlock,
  decodeBlockHeader,
  encodeBlock,
} from '../../src/codec/block.js';
import { isTsdbError } from '../../src/common/errors.js';
import { seededRandom } from '../helpers/seeded-random.js';

const FIXTURE = new URL('../../../test/fixtures/block-sealed-header.json', import.meta.url);

function fromBits(hex: string): number {
  return new Float64Array(BigUint64Array.of(BigInt(`0x${hex}`)).buffer)[0];
}

function bits(v: number): string {
  return new BigUint64Array(Float64Array.of(v).buffer)[0].toString(16).padStart(16, '0');
}

interface Case {
  name: string;
  cold?: boolean;
  ts: number[];
  vbits: string[];
  /** Compact header length in bytes, CRC included. */
  headerBytes: number;
  block: string;
}

function inputs(): Array<{ name: string; cold?: boolean; ts: number[]; vs: number[] }> {
  const t0 = 1_700_000_000_000;
  const every = (n: number, step: number): number[] => Array.from({ length: n }, (_, i) => t0 + i * step);
  const tsbs = [58, 59, 58, 57, 57, 58, 60, 61, 61, 60, 59, 59, 58, 58, 59, 57];
  return [
    { name: 'worked-example', ts: [1000, 11000, 21003, 31000], vs: [21.5, 21.7, 21.7, 21.6] },
    { name: 'tsbs-integers', ts: every(16, 10000), vs: tsbs },
    { name: 'non-decimal-raw-fields', ts: every(6, 10000), vs: [Math.PI, Math.E, 1 / 3, 2 / 3, Math.SQRT2, 0.1 + 0.2] },
    { name: 'edge-values', ts: every(5, 10000), vs: [fromBits('7ff8000000000abc'), Infinity, -0, 5e-324, -Infinity] },
    { name: 'mixed-exponents', ts: every(4, 60000), vs: [0.001, 1234567.5, -2.25, 1e-7] },
    { name: 'huge-timestamps', ts: [-9007199254740991, 0, 9007199254740991, 1], vs: [1, 2, 3, 4] },
    { name: 'const-regular', ts: every(720, 10000), vs: new Array<number>(720).fill(42.5) },
    { name: 'empty', ts: [], vs: [] },
    { name: 'cold-compressed', cold: true, ts: every(64, 10000), vs: Array.from({ length: 64 }, (_, i) => (i % 2 ? Math.PI : Math.E)) },
  ];
}

function build(): Case[] {
  return inputs().map(({ vs, ...c }) => {
    const b = encodeBlock(c.ts, vs, { sealed: true, cold: c.cold === true });
    return { ...c, vbits: vs.map(bits), headerBytes: blockHeaderSize(b), block: b.toString('hex') };
  });
}

if (process.env.UPDATE_GOLDEN === '1') {
  const doc = { format: 'docs/format/block.md §3', note: 'sealed blocks (version-2 header); vbits are float64 bit patterns (hex, big-endian)', cases: build() };
  writeFileSync(FIXTURE, `${JSON.stringify(doc, null, 2).replace(/\[\n\s+([^[\]{}]*?)\n\s+\]/g, (_, body: string) => `[${body.replace(/,\n\s+/g, ', ')}]`)}\n`);
  console.log(`wrote ${FIXTURE.pathname}`);
}

/** Same fields, float64 fields compared by bits; version and the sealed flag are what differ by design. */
function assertSameFields(v1: BlockHeader, v2: BlockHeader, what: string, nanPayloads = true): void {
  assert.equal(v1.version, 1, `${what}: hot version`);
  assert.equal(v2.version, BLOCK_VERSION_COMPACT, `${what}: sealed version`);
  assert.equal(v2.flags, v1.flags | FLAG_SEALED, `${what}: flags`);
  for (const f of ['encoding', 'count', 'minT', 'maxT'] as const) assert.equal(v2[f], v1[f], `${what}: ${f}`);
  for (const f of ['min', 'max', 'sum', 'first', 'last'] as const) {
    // Which NaN payload Math.min/max and + return can vary between V8 tiers, so two encodes may differ there.
    if (!nanPayloads && f !== 'first' && f !== 'last' && Number.isNaN(v1[f]) && Number.isNaN(v2[f])) continue;
    assert.equal(bits(v2[f]), bits(v1[f]), `${what}: ${f}`);
  }
}

test('golden (sealed): compact headers are reproduced byte for byte and read back the fields of the 76-byte header', () => {
  const doc = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Case[] };
  const want = inputs();
  assert.deepEqual(doc.cases.map((c) => c.name), want.map((c) => c.name));
  const now = build();
  for (const [i, c] of doc.cases.entries()) {
    const stored = Buffer.from(c.block, 'hex');
    assert.equal(now[i].block, c.block, `${c.name}: encoder output drifted from the golden bytes`);
    assert.equal(stored[2], BLOCK_VERSION_COMPACT, `${c.name}: version byte`);
    assert.equal(blockHeaderSize(stored), c.headerBytes, `${c.name}: header size`);
    assert.ok(c.headerBytes <= 72, `${c.name}: compact header ${c.headerBytes} B`);
    const vs = c.vbits.map(fromBits);
    const d = decodeBlock(stored);
    assert.deepEqual(d.ts, c.ts, `${c.name}: timestamps`);
    assert.deepEqual(d.vs.map(bits), c.vbits, `${c.name}: values`);
    const hot = encodeBlock(c.ts, vs, { cold: c.cold === true });
    assertSameFields(decodeBlockHeader(hot), decodeBlockHeader(stored), c.name);
    assert.deepEqual(decodeBlock(hot).header, { ...d.header, version: 1, flags: d.header.flags & ~FLAG_SEALED }, `${c.name}: decodeBlock headers`);
    // The body is the hot block's body, moved to after the compact header.
    assert.ok(stored.subarray(c.headerBytes).equals(hot.subarray(BLOCK_HEADER_SIZE)), `${c.name}: body`);
  }
});

test('golden (sealed): the worked example of docs/format/block.md §3', () => {
  const doc = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Case[] };
  const c = doc.cases.find((x) => x.name === 'worked-example')!;
  assert.equal(
    c.block.slice(0, c.headerBytes * 2),
    '5642' + '02' + '03' + '03' + '00' + '01' + '04' + 'd00f' + 'b0ea01' + 'ae03' + 'b203' + 'c20d' + 'ae03' + 'b003' + 'fa92c7a4',
  );
});

const EDGE = [
  -0, 0, 5e-324, -5e-324, 2.2250738585072014e-308, Infinity, -Infinity, NaN, fromBits('7ff8000000000abc'), fromBits('fff8000000000001'),
  Number.MAX_VALUE, -Number.MAX_VALUE, 0.1 + 0.2, 2 ** 53, -(2 ** 53) + 1, 1e300, 1e-300, 1e22, 1e23, 1 / 3, 123.456, -0.001, 9007199254740.993,
];

test('property (sealed): random blocks with edge values keep every header field and point bit-exact', () => {
  const r = seededRandom('codec-block-sealed property');
  const t0s = [0, 1_700_000_000_000, -(2 ** 52), 2 ** 53 - 1 - 1e6, -(2 ** 53) + 1];
  let raw = 0;
  let compact = 0;
  for (let iter = 0; iter < 3000; iter++) {
    const n = r.next() < 0.05 ? r.int(0, 2) : r.int(1, 800);
    const t0 = t0s[r.int(0, t0s.length - 1)];
    const step = [0, 1, 1000, 10_000][r.int(0, 3)];
    const jitter = r.next() < 0.3;
    const ts = Array.from({ length: n }, (_, i) => Math.max(-(2 ** 53) + 1, Math.min(2 ** 53 - 1, t0 + i * step + (jitter ? r.int(-500, 500) : 0))));
    if (r.next() < 0.1 && n > 1) ts[r.int(0, n - 1)] = r.next() < 0.5 ? 2 ** 53 - 1 : -(2 ** 53) + 1;
    const decimals = r.int(0, 6);
    const scale = [1, 1e3, 1e9, 1e15][r.int(0, 3)];
    const vs = Array.from({ length: n }, () => {
      const p = r.next();
      if (p < 0.08) return EDGE[r.int(0, EDGE.length - 1)];
      if (p < 0.15) return r.next() * scale;
      return Number((r.next() * scale * (r.next() < 0.3 ? -1 : 1)).toFixed(decimals));
    });
    const what = `iter ${iter} (n ${n}, t0 ${t0}, step ${step})`;
    const hot = encodeBlock(ts, vs);
    const sealed = encodeBlock(ts, vs, { sealed: true, cold: iter % 10 === 0 });
    const size = blockHeaderSize(sealed);
    assert.ok(size <= 72, `${what}: header ${size} B`);
    if (size >= 40) raw++;
    else compact++;
    const d = decodeBlock(sealed);
    const h1 = decodeBlockHeader(hot);
    // The cold path may choose a different body encoding; everything else must match.
    assertSameFields({ ...h1, encoding: d.header.encoding }, d.header, what, false);
    assert.deepEqual(d.ts, ts, `${what}: timestamps`);
    assert.deepEqual(d.vs.map(bits), vs.map(bits), `${what}: values`);
  }
  assert.ok(compact > 0 && raw > 0, `both short (${compact}) and long (${raw}) headers exercised`);
});

test('damage (sealed): every single-bit flip and every truncation of a sealed block fails loudly', () => {
  const blocks = [
    encodeBlock([1000, 11000, 21003, 31000], [21.5, 21.7, 21.7, 21.6], { sealed: true }),
    encodeBlock([-9007199254740991, 0, 9007199254740991], [NaN, -0, Infinity], { sealed: true }),
    encodeBlock([5, 10, 15], [7, 7, 7], { sealed: true }),
  ];
  for (const b of blocks) {
    for (let i = 0; i < b.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const c = Buffer.from(b);
        c[i] ^= 1 << bit;
        assert.throws(() => decodeBlock(c), (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_STORE_IO', `byte ${i} bit ${bit} of ${b.toString('hex')}`);
        assert.throws(() => decodeBlockHeader(c), (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_STORE_IO');
      }
    }
    for (let len = 0; len < b.length; len++) {
      assert.throws(() => decodeBlock(b.subarray(0, len)), (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_STORE_IO', `prefix ${len} of ${b.length}`);
    }
  }
});

test('hot blocks keep the 76-byte version-1 header', () => {
  const b = encodeBlock([1000, 11000, 21003, 31000], [21.5, 21.7, 21.7, 21.6]);
  assert.equal(b[2], 1);
  assert.equal(blockHeaderSize(b), BLOCK_HEADER_SIZE);
  assert.equal(encodeBlock([1000], [1], { cold: true })[2], 1, 'cold but not sealed: version 1');
});
