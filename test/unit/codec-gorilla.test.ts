import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BitReader, BitWriter } from '../../src/codec/bitstream.js';
import { GorillaDecoder, GorillaEncoder, decodeGorilla } from '../../src/codec/gorilla.js';
import { isTsdbError } from '../../src/common/errors.js';
import { mulberry32 } from '../helpers/seeded-random.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const SEED = process.env.TEST_SEED !== undefined ? Number(process.env.TEST_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
console.log(`codec-gorilla seed ${SEED} (override with TEST_SEED=${SEED})`);


const scratch = new Float64Array(1);
const scratchBits = new BigUint64Array(scratch.buffer);
function fromBits(bits: bigint): number {
  scratchBits[0] = bits;
  return scratch[0];
}

/** Bitwise equality: Object.is cannot tell NaN payloads apart. */
function assertSameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new BigUint64Array(Float64Array.from(actual).buffer);
  const e = new BigUint64Array(Float64Array.from(expected).buffer);
  for (let i = 0; i < e.length; i++) {
    if (a[i] !== e[i]) assert.fail(`${what}: value ${i} bits 0x${a[i].toString(16)} != 0x${e[i].toString(16)}`);
  }
}

/** Decodes with the streaming API into typed arrays, which keep even signalling NaN payloads intact. */
function decodeTyped(buf: Uint8Array, count: number): { ts: number[]; vs: Float64Array } {
  const dec = new GorillaDecoder(buf, count);
  const ts: number[] = [];
  const vs = new Float64Array(count);
  let i = 0;
  while (dec.next()) {
    ts.push(dec.t);
    vs[i++] = dec.v;
  }
  assert.equal(i, count);
  assert.equal(dec.next(), false);
  assert.ok(dec.bitsLeft < 8, `bitsLeft ${dec.bitsLeft}`);
  return { ts, vs };
}

function roundTrip(ts: ArrayLike<number>, vs: ArrayLike<number>, what: string): Uint8Array {
  const enc = new GorillaEncoder(16);
  for (let i = 0; i < ts.length; i++) enc.append(ts[i], vs[i]);
  assert.equal(enc.count, ts.length);
  const bytes = enc.finish();
  assert.equal(bytes.length, enc.byteLength);
  assert.equal(bytes.length, Math.ceil(enc.bitLength / 8));
  const got = decodeTyped(bytes, ts.length);
  assert.deepEqual(got.ts, Array.from(ts), `${what}: timestamps`);
  assertSameBits(got.vs, vs, what);
  return bytes;
}

test('BitWriter/BitReader round-trip random widths, across growth', () => {
  const rnd = mulberry32(SEED);
  const w = new BitWriter(1);
  const widths: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < 20000; i++) {
    const n = Math.floor(rnd() * 33);
    const v = Math.floor(rnd() * 4294967296);
    widths.push(n);
    values.push(n === 32 ? v : v % 2 ** n);
    if (n === 1 && rnd() < 0.5) w.writeBit(v & 1);
    else w.writeBits(v, n);
  }
  const bits = widths.reduce((a, b) => a + b, 0);
  assert.equal(w.bitLength, bits);
  assert.equal(w.bytes().length, Math.ceil(bits / 8));
  const r = new BitReader(w.bytes());
  for (let i = 0; i < widths.length; i++) {
    const got = widths[i] === 1 && rnd() < 0.5 ? r.readBit() : r.readBits(widths[i]);
    assert.equal(got, values[i], `field ${i} (${widths[i]} bits)`);
  }
  assert.ok(r.bitsLeft < 8);
});

test('BitWriter: MSB-first layout, 64-bit helper, masking and reset', () => {
  const w = new BitWriter(2);
  w.writeBits(0b101, 3);
  w.writeBits(-1, 5); // only the low 5 bits may land
  w.writeBits64(0x01234567, 0x89abcdef);
  w.writeBits64(0xffffffff, 0x3, 34);
  assert.equal(Buffer.from(w.bytes()).toString('hex'), 'bf0123456789abcdef' + 'c0000000c0');
  assert.equal(w.bitLength, 3 + 5 + 64 + 34);
  w.reset();
  assert.equal(w.bitLength, 0);
  w.writeBits(1, 1);
  assert.equal(Buffer.from(w.bytes()).toString('hex'), '80', 'reset must clear old bits');
});

test('BitReader: reading past the end throws a non-retriable TsdbError', () => {
  const r = new BitReader(new Uint8Array([0xff]), 6);
  assert.equal(r.readBits(5), 31);
  assert.equal(r.readBit(), 1);
  assert.throws(
    () => r.readBit(),
    (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_STORE_IO' && !e.retriable && /truncated/.test(e.message),
  );
});

test('gorilla: worked example bytes match docs/format/block.md', () => {
  const enc = new GorillaEncoder();
  enc.append(1000, 1);
  enc.append(2000, 1);
  enc.append(3000, 1);
  // t0 int64 | v0 float64 | '110'+dod 1000 in 12 bits, xor '0' | dod '0', xor '0' | pad
  assert.equal(Buffer.from(enc.view()).toString('hex'), '00000000000003e8' + '3ff0000000000000' + 'c7d000');
  assert.equal(enc.bitLength, 128 + 15 + 1 + 1 + 1);
});

test('gorilla: edge values round-trip bit-exactly', () => {
  const vs = [
    -0, 0, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, Number.MAX_VALUE, -Number.MAX_VALUE,
    Infinity, -Infinity, 1e308, -1e-308, fromBits(0x7ff8000000000000n), fromBits(0xfff8000000000001n),
    fromBits(0x7ff0000000000001n), fromBits(0x7fffffffffffffffn), 1, 1, 0.1, 0.2, 0.30000000000000004, -0, 0,
  ];
  const ts = vs.map((_, i) => 1_700_000_000_000 + i * 10_000);
  roundTrip(ts, Float64Array.from(vs), 'edge values (typed)');
  // decodeGorilla returns number[]; quiet NaN payloads survive that too.
  const quiet = vs.filter((v, i) => i !== 14);
  const enc = new GorillaEncoder();
  quiet.forEach((v, i) => enc.append(ts[i], v));
  const out = decodeGorilla(enc.view(), enc.count);
  assertSameBits(out.vs, quiet, 'edge values (number[])');
  assert.deepEqual(out.ts, ts.slice(0, quiet.length));
});

test('gorilla: extreme, equal, decreasing timestamps and every dod bucket boundary', () => {
  const cases: Array<[string, number[]]> = [
    ['extremes', [MAX_SAFE, -MAX_SAFE, MAX_SAFE, MAX_SAFE, -MAX_SAFE, 0, -MAX_SAFE, 1, MAX_SAFE - 1, -MAX_SAFE + 1]],
    ['equal', [5, 5, 5, 5, 5, 5]],
    ['decreasing', [100, 90, 80, 60, 30, -10, -60, -1e12, -2e12]],
    ['big gaps', [0, 2 ** 31, 2 ** 31 - 1, 2 ** 40, 2 ** 52, -(2 ** 52), 2 ** 53 - 1, 3, 4, 2 ** 32 + 4]],
    ['single', [-1]],
    ['empty', []],
  ];
  const bounds = [0, 1, -1, 127, 128, -128, -129, 2047, 2048, -2048, -2049, 524287, 524288, -524288, -524289];
  bounds.push(2147483647, 2147483648, -2147483648, -2147483649, 2 ** 40, -(2 ** 40));
  for (const dod of bounds) {
    // Deltas 10000, 10000 + dod, then back: each dod appears with both signs.
    cases.push([`dod ${dod}`, [1e12, 1e12 + 10000, 1e12 + 20000 + dod, 1e12 + 30000 + dod, 1e12 + 40000 + dod]]);
  }
  for (const [name, ts] of cases) {
    const vs = ts.map((t, i) => (i % 3 === 0 ? t / 7 : -i));
    roundTrip(ts, vs, name);
  }
});

test('gorilla: dod buckets cost the documented number of bits', () => {
  const sizes: Array<[number, number]> = [[0, 1], [127, 10], [-128, 10], [128, 15], [-2048, 15], [2048, 24], [524288, 37]];
  sizes.push([2147483648, 69]);
  for (const [dod, bits] of sizes) {
    const enc = new GorillaEncoder();
    enc.append(0, 1);
    enc.append(10000, 1); // first delta: dod 10000 → 24-bit bucket
    const before = enc.bitLength;
    enc.append(20000 + dod, 1);
    assert.equal(enc.bitLength - before, bits + 1, `dod ${dod}`);
  }
});

test('gorilla: rejects timestamps that are not safe integers', () => {
  for (const t of [0.5, NaN, Infinity, 2 ** 53, -(2 ** 53)]) {
    for (const first of [true, false]) {
      const enc = new GorillaEncoder();
      if (!first) enc.append(0, 1);
      assert.throws(() => enc.append(t, 1), (e: unknown) => isTsdbError(e) && /not a safe integer/.test(e.message));
      assert.equal(enc.count, first ? 0 : 1, 'a rejected point must not be counted');
    }
  }
});

test('gorilla: view() is decodable mid-stream; finish() copies; reset() starts over', () => {
  const enc = new GorillaEncoder(4);
  const ts: number[] = [];
  const vs: number[] = [];
  for (let i = 0; i < 500; i++) {
    ts.push(1e12 + i * 1000 + (i % 7));
    vs.push(i % 13 === 0 ? 1 / (i + 1) : i * 0.25);
    enc.append(ts[i], vs[i]);
    if (i % 50 === 0) {
      const got = decodeGorilla(enc.view(), enc.count);
      assert.deepEqual(got.ts, ts);
      assertSameBits(got.vs, vs, `prefix ${i}`);
    }
  }
  const copy = enc.finish();
  const snapshot = Buffer.from(copy);
  enc.reset();
  assert.equal(enc.count, 0);
  assert.equal(enc.byteLength, 0);
  assert.deepEqual(copy, snapshot, 'finish() must not alias the encoder buffer');
  enc.append(ts[0], vs[0]);
  enc.append(ts[1], vs[1]);
  assert.deepEqual(Buffer.from(enc.view()), Buffer.from(roundTrip(ts.slice(0, 2), vs.slice(0, 2), 'after reset')));
});

test('gorilla: truncated stream throws instead of inventing points', () => {
  const enc = new GorillaEncoder();
  for (let i = 0; i < 100; i++) enc.append(i * 1000, Math.sin(i));
  const full = enc.finish();
  assert.throws(
    () => decodeGorilla(full.subarray(0, full.length - 8), 100),
    (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_STORE_IO' && e.retriable === false,
  );
  // The stream is not self-delimiting: zero padding (< 8 bits) can read as up to 3 repeats of the last
  // point, so `count` is authoritative (blocks protect it with the CRC). Beyond that, decoding must fail.
  assert.throws(() => decodeGorilla(full, 104), (e: unknown) => isTsdbError(e));
});

// ---- randomized property test ----

function genTimestamps(rnd: () => number, n: number): number[] {
  const randSafe = (): number => {
    const mag = Math.floor(rnd() * 2 ** 21) * 2 ** 32 + Math.floor(rnd() * 2 ** 32);
    return rnd() < 0.5 ? -mag : mag;
  };
  const kind = Math.floor(rnd() * 6);
  const ts: number[] = [];
  let t = kind === 5 ? randSafe() : Math.floor((rnd() - 0.3) * 4e12);
  const step = [1, 15, 1000, 10000, 60000, 3600000][Math.floor(rnd() * 6)];
  const jitter = [0, 2, 50, 900, 40000][Math.floor(rnd() * 5)];
  for (let i = 0; i < n; i++) {
    if (kind === 0) t += step; // perfectly regular
    else if (kind === 1) t += step + Math.round((rnd() - 0.5) * 2 * jitter); // jittered, may go backwards
    else if (kind === 2) t = rnd() < 0.1 ? t - Math.floor(rnd() * 1e6) : t + (rnd() < 0.3 ? 0 : step); // log order
    else if (kind === 3) t = rnd() < 0.05 ? randSafe() : t + step; // wild jumps
    else if (kind === 4) t = randSafe(); // anything
    else t = rnd() < 0.5 ? randSafe() : rnd() < 0.5 ? MAX_SAFE - Math.floor(rnd() * 3) : -MAX_SAFE + Math.floor(rnd() * 3);
    if (t > MAX_SAFE) t = MAX_SAFE - Math.floor(rnd() * 1000);
    if (t < -MAX_SAFE) t = -MAX_SAFE + Math.floor(rnd() * 1000);
    ts.push(t);
  }
  return ts;
}

function genValues(rnd: () => number, n: number): Float64Array {
  const vs = new Float64Array(n);
  const bits = new Uint32Array(vs.buffer);
  const kind = Math.floor(rnd() * 6);
  let x = (rnd() - 0.5) * 10 ** Math.floor(rnd() * 12);
  const c = rnd() < 0.2 ? -0 : Math.round(rnd() * 1000) / 4;
  for (let i = 0; i < n; i++) {
    if (kind === 0) vs[i] = c; // constant
    else if (kind === 1) vs[i] = x += Math.floor(rnd() * 100); // counter
    else if (kind === 2) vs[i] = Math.round((x += (rnd() - 0.5) * 3) * 100) / 100; // gauge, 2 decimals
    else if (kind === 3) {
      bits[2 * i] = Math.floor(rnd() * 2 ** 32); // any bit pattern, NaN payloads and subnormals included
      bits[2 * i + 1] = Math.floor(rnd() * 2 ** 32);
    } else if (kind === 4) vs[i] = rnd() < 0.5 ? c : rnd() < 0.5 ? x * i : 5e-324 * Math.floor(rnd() * 100);
    else vs[i] = [0, -0, Infinity, -Infinity, NaN, Number.MAX_VALUE, 5e-324, 1, x][Math.floor(rnd() * 9)];
  }
  return vs;
}

test('gorilla: randomized streams round-trip exactly', () => {
  const rnd = mulberry32(SEED);
  const enc = new GorillaEncoder(8);
  let points = 0;
  for (let s = 0; s < 4000; s++) {
    const n = rnd() < 0.05 ? Math.floor(rnd() * 3000) : Math.floor(rnd() * 150);
    const ts = genTimestamps(rnd, n);
    const vs = genValues(rnd, n);
    enc.reset(); // reuse exercises reset() on dirty buffers of every size
    for (let i = 0; i < n; i++) enc.append(ts[i], vs[i]);
    const got = decodeTyped(enc.view(), n);
    if (got.ts.some((t, i) => t !== ts[i])) {
      assert.deepEqual(got.ts, ts, `seed ${SEED} stream ${s}: timestamps`);
    }
    assertSameBits(got.vs, vs, `seed ${SEED} stream ${s}`);
    points += n;
  }
  assert.ok(points > 100000);
});
