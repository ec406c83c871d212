import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_MANTISSA, fromScaled, minExponent, scaleBlock, toScaled } from '../../src/codec/decimal.js';
import { BitContexts, INT_MODEL_CONTEXTS, RangeDecoder, RangeEncoder, bitLength, decodeInt, encodeInt } from '../../src/codec/range-coder.js';
import { seededRandom } from '../helpers/seeded-random.js';

test('decimal: smallest exact exponent per value', () => {
  const cases: Array<[number, number]> = [
    [0, 0], [57, 0], [0.5, 1], [-21.55, 2], [0.1, 1], [1e-22, 22], [100, -2], [-3e21, -21], [12345.678, 3],
    [2 ** 51, 0], [1e15, -15],
  ];
  for (const [v, e] of cases) {
    assert.equal(minExponent(v), e, `${v}`);
    const m = toScaled(v, e);
    assert.ok(Number.isSafeInteger(m), `${v}: m ${m}`);
    assert.ok(Object.is(fromScaled(m, e), v), `${v}: back`);
  }
  for (const v of [-0, NaN, Infinity, -Infinity, 5e-324, 1e-23, 0.1 + 0.2, 2 ** 51 + 1, Number.MAX_VALUE, 1 / 3]) {
    assert.ok(Number.isNaN(minExponent(v)), `${v} has no bounded exact decimal form`);
  }
});

test('decimal: scaleBlock finds the common exponent or refuses', () => {
  const out = new Float64Array(32);
  assert.equal(scaleBlock([100, 200, 1.25], out), 2);
  assert.deepEqual(Array.from(out.subarray(0, 3)), [10000, 20000, 125]);
  assert.equal(scaleBlock([3000, 5000], out), -3);
  assert.deepEqual(Array.from(out.subarray(0, 2)), [3, 5]);
  assert.ok(Number.isNaN(scaleBlock([1, -0], out)));
  // Each value alone fits, but at the shared exponent 2^50·10 exceeds the mantissa bound.
  assert.ok(Number.isNaN(scaleBlock([2 ** 50, 0.1], out)));
  assert.ok(MAX_MANTISSA === 2 ** 51);
  const r = seededRandom('decimal-scale');
  for (let s = 0; s < 2000; s++) {
    const k = r.int(0, 9);
    const vs = Array.from({ length: r.int(1, 20) }, () => Math.round((r.next() - 0.5) * 10 ** r.int(0, 8)) / 10 ** r.int(0, k));
    const e = scaleBlock(vs, out);
    if (Number.isNaN(e)) continue;
    assert.ok(e <= k || e <= 0, `seed ${r.seed}: exponent ${e} for precision ≤ ${k}`);
    for (let i = 0; i < vs.length; i++) assert.ok(Object.is(fromScaled(out[i], e), vs[i]), `seed ${r.seed}: ${vs[i]} at e=${e}`);
  }
});

test('range coder: integers of every bit length round-trip, with direct and context bits mixed', () => {
  const r = seededRandom('range-coder-ints');
  const rc = new RangeEncoder(16);
  for (let round = 0; round < 50; round++) {
    const xs: number[] = [];
    const n = r.int(0, 2000);
    const maxLen = r.int(0, 53);
    for (let i = 0; i < n; i++) {
      const len = r.int(0, maxLen);
      const m = len === 0 ? 0 : 2 ** (len - 1) + Math.floor(r.next() * 2 ** (len - 1));
      xs.push(r.next() < 0.5 ? -m : m);
    }
    if (round === 0) xs.push(2 ** 53, -(2 ** 53), 2 ** 53 - 1, 0, 1, -1);
    rc.reset();
    const ctx = new BitContexts(INT_MODEL_CONTEXTS);
    for (const x of xs) encodeInt(rc, ctx, x);
    const bytes = Uint8Array.from(rc.finish());
    assert.ok(bytes.length === 0 || bytes[bytes.length - 1] !== 0, 'trailing zeros are trimmed');
    const rd = new RangeDecoder();
    rd.init(bytes, 0, bytes.length);
    ctx.reset();
    for (let i = 0; i < xs.length; i++) {
      const got = decodeInt(rd, ctx);
      if (!Object.is(got, xs[i]) && !(got === 0 && xs[i] === 0)) assert.fail(`seed ${r.seed} round ${round} int ${i}: ${got} != ${xs[i]}`);
    }
  }
  assert.equal(bitLength(0), 0);
  assert.equal(bitLength(1), 1);
  assert.equal(bitLength(2 ** 32), 33);
  assert.equal(bitLength(2 ** 53), 54);
});

test('range coder: skewed data costs close to its entropy', () => {
  const r = seededRandom('range-coder-entropy');
  const rc = new RangeEncoder();
  const ctx = new BitContexts(INT_MODEL_CONTEXTS);
  const n = 20000;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const u = r.next();
    const x = u < 0.4 ? 0 : u < 0.7 ? 1 : u < 0.9 ? -1 : u < 0.97 ? 2 : -3;
    counts.set(x, (counts.get(x) ?? 0) + 1);
    encodeInt(rc, ctx, x);
  }
  let entropyBits = 0;
  for (const c of counts.values()) entropyBits -= c * Math.log2(c / n);
  const bytes = rc.finish().length;
  assert.ok(bytes * 8 < entropyBits * 1.02 + 64, `${bytes} bytes vs entropy ${(entropyBits / 8).toFixed(0)} bytes`);
});
