import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import {
  BLOCK_HEADER_SIZE,
  ENCODING_COLUMNAR,
  ENCODING_CONST_REGULAR,
  ENCODING_GORILLA,
  FLAG_STRICTLY_INCREASING,
  decodeBlock,
  decodeBlockHeader,
  encodeBlock,
} from '../../src/codec/block.js';
import { GorillaEncoder, decodeGorilla } from '../../src/codec/gorilla.js';
import { isTsdbError } from '../../src/common/errors.js';
import { mulberry32 } from '../helpers/seeded-random.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const SEED = process.env.TEST_SEED !== undefined ? Number(process.env.TEST_SEED) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;
console.log(`codec-block seed ${SEED} (override with TEST_SEED=${SEED})`);
// Compiled to dist/test/unit; the checked-in fixture lives in the source tree.
const FIXTURE = new URL('../../../test/fixtures/gorilla.json', import.meta.url);


function toBits(vs: ArrayLike<number>): string[] {
  return Array.from(new BigUint64Array(Float64Array.from(vs).buffer), (b) => b.toString(16).padStart(16, '0'));
}

function fromBits(bits: string[]): Float64Array {
  return new Float64Array(BigUint64Array.from(bits, (b) => BigInt(`0x${b}`)).buffer);
}

function assertSameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.deepEqual(toBits(actual), toBits(expected), what);
}

function isStoreError(re?: RegExp): (e: unknown) => boolean {
  return (e) => isTsdbError(e) && e.code === 'TSDB_ERR_STORE_IO' && e.retriable === false && (!re || re.test(e.message));
}

test('block: header fields sit at the documented offsets (worked example, docs/format/block.md §7)', () => {
  const b = encodeBlock([1000, 11000, 21003, 31000], [21.5, 21.7, 21.7, 21.6]);
  assert.equal(b.length, BLOCK_HEADER_SIZE + 14);
  const hex = (from: number, to: number): string => b.subarray(from, to).toString('hex');
  assert.equal(hex(0, 8), '5642' + '01' + '03' + '01' + '000000'); // magic "VB", version, columnar, increasing
  assert.equal(hex(8, 12), '04000000'); // count
  assert.equal(hex(12, 16), '0e000000'); // body length 14
  assert.equal(hex(16, 24), 'e803000000000000'); // minT 1000
  assert.equal(hex(24, 32), '1879000000000000'); // maxT 31000
  assert.equal(hex(32, 40), '0000000000803540'); // min 21.5
  assert.equal(hex(40, 48), '3333333333b33540'); // max 21.7
  assert.equal(hex(48, 56), '0000000000a05540'); // sum 86.5
  assert.equal(hex(56, 64), '0000000000803540'); // first 21.5
  assert.equal(hex(64, 72), '9a99999999993540'); // last 21.6
  const crc = crc32(Buffer.concat([b.subarray(0, 72), b.subarray(76)]));
  assert.equal(b.readUInt32LE(72), crc);
  // Body: modes (ts dod, values decimal delta), exponent 1, t0 − minT = 0, varint zigzag(215) = 430, stream.
  assert.equal(hex(76, 81), '09' + '01' + '00' + 'ae03');
  assert.equal(hex(81, 90), 'fffc343ea4c69c9265');
});

test('block: statistics, first/last ties and the strictly-increasing flag', () => {
  const h1 = decodeBlockHeader(encodeBlock([30, 10, 20, 10, 30], [1, 2, 3, -4, 5]));
  assert.deepEqual(h1, {
    version: 1, encoding: ENCODING_COLUMNAR, flags: 0, count: 5, minT: 10, maxT: 30,
    min: -4, max: 5, sum: 7, first: -4, last: 5,
  });
  const h2 = decodeBlockHeader(encodeBlock([-5, 7, 8], [-0, 0, 3]));
  assert.equal(h2.flags & FLAG_STRICTLY_INCREASING, FLAG_STRICTLY_INCREASING);
  assert.ok(Object.is(h2.min, -0) && Object.is(h2.first, -0));
  const h3 = decodeBlockHeader(encodeBlock([1, 1], [2, 3]));
  assert.equal(h3.flags, 0, 'equal timestamps are not strictly increasing');
  assert.equal(h3.first, 3);
  assert.equal(h3.last, 3);
  const h4 = decodeBlockHeader(encodeBlock([-MAX_SAFE, MAX_SAFE], [NaN, 1]));
  assert.equal(h4.minT, -MAX_SAFE);
  assert.equal(h4.maxT, MAX_SAFE);
  assert.ok(Number.isNaN(h4.min) && Number.isNaN(h4.sum));
});

test('block: constant-regular encoding is chosen only when exact', () => {
  const ts = [0, 15000, 30000, 45000];
  const b = encodeBlock(ts, [42.5, 42.5, 42.5, 42.5]);
  assert.equal(b.length, BLOCK_HEADER_SIZE);
  const d = decodeBlock(b);
  assert.equal(d.header.encoding, ENCODING_CONST_REGULAR);
  assert.deepEqual(d.ts, ts);
  assert.deepEqual(d.vs, [42.5, 42.5, 42.5, 42.5]);
  const typed = new Float64Array(3).fill(fromBits(['7ff0000000000123'])[0]); // signalling NaN, via header.first
  const nan = decodeBlock(encodeBlock([5, 5, 5], typed));
  assert.equal(nan.header.encoding, ENCODING_CONST_REGULAR);
  const one = new Float64Array(1);
  one[0] = nan.header.first; // not via an array literal: V8 may quiet signalling NaNs in number[]
  assert.deepEqual(toBits(one), ['7ff0000000000123']);
  assert.equal(decodeBlock(encodeBlock([7], [1])).header.encoding, ENCODING_CONST_REGULAR);
  const notConst: Array<[number[], number[]]> = [
    [[0, 10, 20], [0, -0, 0]], // -0 differs bitwise
    [[0, 10, 21], [1, 1, 1]],
    [[20, 10, 0], [1, 1, 1]],
    [[-MAX_SAFE, 0, MAX_SAFE], [1, 1, 1]], // span is not a safe integer
  ];
  for (const [t, v] of notConst) {
    const r = decodeBlock(encodeBlock(t, v));
    assert.notEqual(r.header.encoding, ENCODING_CONST_REGULAR, JSON.stringify(t));
    assert.deepEqual(r.ts, t);
    assertSameBits(r.vs, v, JSON.stringify(t));
  }
});

test('block: empty block, length mismatch in input, unaligned Uint8Array input', () => {
  const e = decodeBlock(encodeBlock([], []));
  assert.equal(e.header.count, 0);
  assert.deepEqual(e.ts, []);
  assert.throws(() => encodeBlock([1, 2], [1]), (x: unknown) => isTsdbError(x) && x.code === 'TSDB_ERR_INTERNAL');
  assert.throws(() => encodeBlock([1.5], [1]), (x: unknown) => isTsdbError(x) && /not a safe integer/.test(x.message));
  const b = encodeBlock([1, 2, 4], [1, 2, 3]);
  const shifted = new Uint8Array(b.length + 3);
  shifted.set(b, 3);
  assert.deepEqual(decodeBlock(shifted.subarray(3)).ts, [1, 2, 4]);
});

test('block: every single-byte corruption is detected', () => {
  const b = encodeBlock([1000, 2000, 3500, 3400, 9000], [1, 2.5, -3, 1e300, 5e-324]);
  for (let i = 0; i < b.length; i++) {
    const c = Buffer.from(b);
    c[i] ^= 1 << i % 8;
    const structural = i < 3 || (i >= 12 && i < 16);
    assert.throws(() => decodeBlock(c), isStoreError(structural ? undefined : /^cannot decode block \(\d+ bytes\): crc mismatch/), `byte ${i}`);
  }
  assert.throws(() => decodeBlock(b.subarray(0, b.length - 1)), isStoreError(/body length/));
  assert.throws(() => decodeBlock(b.subarray(0, 10)), isStoreError(/shorter/));
  const c = Buffer.from(b);
  c[b.length - 1] ^= 0x10;
  assert.equal(decodeBlockHeader(c, { verifyCrc: false }).count, 5, 'header-only reads may skip the crc');
});

test('block: randomized blocks round-trip with exact header statistics', () => {
  const rnd = mulberry32(SEED);
  for (let s = 0; s < 1500; s++) {
    const n = Math.floor(rnd() * 200);
    const ts: number[] = [];
    const vs: number[] = [];
    const step = Math.floor(rnd() * 20000);
    const regular = rnd() < 0.3;
    const constant = rnd() < 0.3;
    let t = Math.floor((rnd() - 0.5) * 2 * MAX_SAFE);
    let v = Math.round(rnd() * 1000) / 8;
    for (let i = 0; i < n; i++) {
      t += regular ? step : Math.floor((rnd() - 0.3) * step);
      if (Math.abs(t) > MAX_SAFE) t = 0;
      if (!constant) v = rnd() < 0.05 ? [NaN, -0, Infinity, 5e-324][Math.floor(rnd() * 4)] : v + Math.floor(rnd() * 9) / 4;
      ts.push(t);
      vs.push(v);
    }
    const got = decodeBlock(encodeBlock(ts, vs));
    assert.deepEqual(got.ts, ts, `seed ${SEED} block ${s}`);
    assertSameBits(got.vs, vs, `seed ${SEED} block ${s}`);
    const h = got.header;
    assert.equal(h.count, n);
    if (n === 0) continue;
    const minT = Math.min(...ts);
    const maxT = Math.max(...ts);
    assert.equal(h.minT, minT);
    assert.equal(h.maxT, maxT);
    assert.ok(Object.is(h.min, vs.reduce((a, b) => Math.min(a, b))));
    assert.ok(Object.is(h.max, vs.reduce((a, b) => Math.max(a, b))));
    assert.ok(Object.is(h.sum, vs.reduce((a, b) => a + b)));
    assert.ok(Object.is(h.first, vs[ts.lastIndexOf(minT)]));
    assert.ok(Object.is(h.last, vs[ts.lastIndexOf(maxT)]));
    assert.equal(h.flags === FLAG_STRICTLY_INCREASING, ts.every((x, i) => i === 0 || x > ts[i - 1]));
    const sameBits = new Set(toBits(vs)).size === 1;
    const evenSteps = ts.every((x, i) => i === 0 || x - ts[i - 1] === ts[1] - ts[0]) && (n === 1 || ts[1] >= ts[0]);
    assert.equal(h.encoding === ENCODING_CONST_REGULAR, sameBits && evenSteps, `seed ${SEED} block ${s}: encoding`);
  }
});

// ---- golden fixtures (regenerate with UPDATE_GOLDEN=1 only when the format deliberately changes) ----

interface GoldenCase {
  name: string;
  ts: number[];
  vbits: string[];
  stream: string;
  block: string;
}

function goldenInputs(): Array<{ name: string; ts: number[]; vs: ArrayLike<number> }> {
  const jitter = [0, 3, -2, 7, 1, -5, 0, 12, -9, 2, 0, 1, -1, 4, -3, 0];
  const gauge = [21.5, 21.5, 21.52, 21.55, 21.6, 21.58, 21.58, 21.61, 21.7, 21.69, 21.7, 21.7, 21.71, 21.75, 21.8, 21.79];
  return [
    { name: 'worked-example', ts: [1000, 2000, 3000], vs: [1, 1, 1.5] },
    { name: 'const-regular', ts: [0, 1, 2, 3, 4].map((i) => 1_700_000_000_000 + i * 15000), vs: [42.5, 42.5, 42.5, 42.5, 42.5] },
    { name: 'scrape-10s-jitter-gauge', ts: jitter.map((j, i) => 1_700_000_000_000 + i * 10000 + j), vs: gauge },
    { name: 'counter-log-order', ts: [5000, 6000, 6000, 5500, 7000, 8000, 9000, 8999, 10000, 11000], vs: [0, 3, 7, 7, 12, 12, 20, 31, 31, 1e6] },
    {
      name: 'edge-values',
      ts: [MAX_SAFE, -MAX_SAFE, 0, 0, -1, 2 ** 40, 2 ** 40 - 5, 1_000_000_000_000],
      vs: fromBits([
        '8000000000000000', '0000000000000001', '7fefffffffffffff', 'ffefffffffffffff',
        '7ff0000000000000', '7ff8000000000abc', 'fff0000000000000', '000fffffffffffff',
      ]),
    },
    {
      name: 'dod-buckets',
      ts: [0, 10000, 20000, 30127, 40000, 52048, 60000, 594288, 600000, 2148083648, 2148093648],
      vs: [0.5, 0.5, 0.25, -0.25, 1e-300, 1e300, 3, 3, 3.0000000000000004, 7, 7],
    },
    { name: 'single', ts: [-1], vs: [0.1] },
    { name: 'empty', ts: [], vs: [] },
  ];
}

function encodeStreamHex(ts: ArrayLike<number>, vs: ArrayLike<number>): string {
  const enc = new GorillaEncoder();
  for (let i = 0; i < ts.length; i++) enc.append(ts[i], vs[i]);
  return Buffer.from(enc.view()).toString('hex');
}

/** Legacy blocks are never regenerated: they are the bytes version-1 stores hold. */
function legacyBlockHex(name: string): string {
  const doc = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: GoldenCase[] };
  const c = doc.cases.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no legacy block for ${name}`);
  return c.block;
}

if (process.env.UPDATE_GOLDEN === '1') {
  const cases: GoldenCase[] = goldenInputs().map(({ name, ts, vs }) => ({
    name, ts, vbits: toBits(vs), stream: encodeStreamHex(ts, vs), block: legacyBlockHex(name),
  }));
  const doc = { format: 'docs/format/block.md', note: 'vbits are float64 bit patterns (hex, big-endian)', cases };
  // Short arrays on one line keep the fixture reviewable.
  const json = JSON.stringify(doc, null, 2).replace(/\[\n\s+([^[\]{}]*?)\n\s+\]/g, (_, body: string) => `[${body.replace(/,\n\s+/g, ', ')}]`);
  writeFileSync(FIXTURE, `${json}\n`);
  console.log(`wrote ${FIXTURE.pathname}`);
}

test('golden (legacy blocks): gorilla streams still encode bit-exactly; stored version-1 blocks still decode', () => {
  // The blocks in this fixture were written before encodings 3 and 4 existed; stores on disk hold such
  // blocks, so they must decode forever even though the encoder now picks other encodings for most of them.
  const doc = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: GoldenCase[] };
  assert.deepEqual(doc.cases.map((c) => c.name), goldenInputs().map((c) => c.name));
  for (const c of doc.cases) {
    const vs = fromBits(c.vbits);
    assert.equal(encodeStreamHex(c.ts, vs), c.stream, `${c.name}: stream`);
    const s = decodeGorilla(Buffer.from(c.stream, 'hex'), c.ts.length);
    assert.deepEqual(s.ts, c.ts, `${c.name}: stream ts`);
    assert.deepEqual(toBits(s.vs), c.vbits, `${c.name}: stream values`);
    const stored = Buffer.from(c.block, 'hex');
    assert.ok(stored[3] === ENCODING_GORILLA || stored[3] === ENCODING_CONST_REGULAR, `${c.name}: legacy encoding`);
    const b = decodeBlock(stored);
    assert.deepEqual(b.ts, c.ts, `${c.name}: block ts`);
    assert.deepEqual(toBits(b.vs), c.vbits, `${c.name}: block values`);
    // Header statistics are unchanged by the new encodings: same header bytes apart from encoding, length, crc.
    const now = encodeBlock(c.ts, vs);
    assert.equal(now.subarray(16, 72).toString('hex'), stored.subarray(16, 72).toString('hex'), `${c.name}: statistics`);
    assert.equal(now.readUInt32LE(8), stored.readUInt32LE(8), `${c.name}: count`);
    assert.equal(now[4], stored[4], `${c.name}: flags`);
    assert.ok(now.length <= stored.length, `${c.name}: new encoding is never larger (${now.length} > ${stored.length})`);
  }
  const worked = doc.cases[0];
  assert.equal(worked.stream, '00000000000003e83ff0000000000000c7d06c06');
  assert.equal(doc.cases[1].block.length, BLOCK_HEADER_SIZE * 2, 'const-regular block is header-only');
  assert.equal(doc.cases[1].block.slice(6, 8), '02');
});
