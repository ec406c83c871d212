import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK_HEADER_OFFSETS, ENCODING_CONST_REGULAR, ENCODING_GORILLA, decodeBlock, decodeBlockHeader, encodeBlock } from '../../src/codec/block.js';
import { BlockStats, encodeBlockFromGorilla } from '../../src/codec/block-stats.js';
import { GorillaEncoder } from '../../src/codec/gorilla.js';
import { fromBits } from '../helpers/block-inputs.js';
import { seededRandom } from '../helpers/seeded-random.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const EDGE = [-0, 0, 5e-324, -5e-324, 2.2250738585072014e-308, Number.MAX_VALUE, -Number.MAX_VALUE, 1e300, -1e-300, 0.1 + 0.2, 2 ** 53, 1 / 3, NaN, fromBits('7ff8000000000abc'), Infinity, -Infinity];

function viaStream(ts: number[], vs: number[]): Buffer {
  const enc = new GorillaEncoder(8);
  const stats = new BlockStats();
  for (let i = 0; i < ts.length; i++) {
    enc.append(ts[i]!, vs[i]!);
    stats.add(ts[i]!, vs[i]!);
  }
  return encodeBlockFromGorilla(enc.view(), stats);
}

function check(ts: number[], vs: number[], what: string): void {
  const want = encodeBlock(ts, vs, { gorilla: true });
  const got = viaStream(ts, vs);
  assert.deepEqual(decodeBlockHeader(got), decodeBlockHeader(want), `${what}: header`);
  const a = decodeBlock(got);
  const b = decodeBlock(want);
  assert.deepEqual(new BigUint64Array(Float64Array.from(a.vs).buffer), new BigUint64Array(Float64Array.from(b.vs).buffer), `${what}: value bits`);
  assert.deepEqual(a.ts, b.ts, `${what}: timestamps`);
  // A NaN sum's payload depends on which operand the JIT puts first (x86 keeps the first NaN's), in encodeBlock as
  // much as here, so it and the CRC over it are compared as NaN only (the header check above). The write path
  // admits finite values only.
  const masked = (b: Buffer): Buffer => {
    const c = Buffer.from(b);
    if (Number.isNaN(decodeBlockHeader(b).sum)) c.fill(0, BLOCK_HEADER_OFFSETS.sum, BLOCK_HEADER_OFFSETS.sum + 8).fill(0, BLOCK_HEADER_OFFSETS.crc, BLOCK_HEADER_OFFSETS.crc + 4);
    return c;
  };
  const [g, w] = [masked(got), masked(want)];
  let at = -1;
  for (let i = 0; i < Math.min(g.length, w.length) && at < 0; i++) if (g[i] !== w[i]) at = i;
  assert.ok(g.equals(w), `${what}: bytes (${got.length} vs ${want.length}, first difference at ${at})`);
}

/** A run shaped like one series' head in one window: steps, jitter, out-of-order, duplicates, edge values. */
function randomRun(r: ReturnType<typeof seededRandom>): { ts: number[]; vs: number[] } {
  const n = r.int(0, 6) === 0 ? r.int(0, 3) : r.int(1, 300);
  const base = r.next() < 0.1 ? r.int(-1e12, 1e12) : r.next() < 0.05 ? MAX_SAFE - 10 * n : 1_451_606_400_000 + r.int(0, 1e9);
  const step = [0, 1, 10, 1000, 10_000][r.int(0, 4)]!;
  const valueMode = r.int(0, 5);
  const constV = r.next() < 0.5 ? -0 : r.next() * 100;
  const ts: number[] = [];
  const vs: number[] = [];
  let t = base;
  for (let i = 0; i < n; i++) {
    const k = r.next();
    if (k < 0.05 && i > 0) t = ts[r.int(0, i - 1)]!; // duplicate timestamp
    else if (k < 0.1) t -= r.int(0, 50_000); // out of order
    else if (k < 0.15) t += r.int(0, 50_000); // jitter
    else t += step;
    if (t > MAX_SAFE) t = MAX_SAFE;
    ts.push(t);
    let v: number;
    if (valueMode === 0) v = constV;
    else if (valueMode === 1) v = EDGE[r.int(0, EDGE.length - 1)]!;
    else if (valueMode === 2) v = Math.round(r.next() * 1000) / 10;
    else if (valueMode === 3) v = (r.next() - 0.5) * 10 ** r.int(-300, 300);
    else if (valueMode === 4) v = r.next() < 0.9 ? constV : -0;
    else v = r.int(-5, 5);
    vs.push(v);
  }
  return { ts, vs };
}

test('encodeBlockFromGorilla writes what encodeBlock(..., { gorilla: true }) writes, byte for byte (seeded runs)', () => {
  const r = seededRandom('codec-block-from-gorilla');
  let constants = 0;
  let gorilla = 0;
  for (let k = 0; k < 3000; k++) {
    const { ts, vs } = randomRun(r);
    check(ts, vs, `run ${k} (${ts.length} points)`);
    const enc = decodeBlockHeader(encodeBlock(ts, vs, { gorilla: true })).encoding;
    if (enc === ENCODING_CONST_REGULAR) constants++;
    if (enc === ENCODING_GORILLA) gorilla++;
  }
  // Both body kinds were exercised.
  assert.ok(constants > 50 && gorilla > 1000, `${constants} constant, ${gorilla} gorilla`);
});

test('encodeBlockFromGorilla edge cases: empty, one point, -0 vs 0, NaN first/last, ties at minT/maxT, unsafe span', () => {
  check([], [], 'empty');
  check([5], [-0], 'one -0');
  check([5, 5, 5], [1, 2, 3], 'all tied');
  check([0, 10, 20], [0, -0, 0], '0/-0 not constant');
  check([0, 10, 20], [-0, -0, -0], '-0 constant');
  check([0, 10, 20], [NaN, NaN, NaN], 'NaN constant');
  check([20, 10, 0, 0, 20], [1, 2, 3, 4, 5], 'ties at both ends, out of order');
  check([0, 10, 20, 31], [7, 7, 7, 7], 'constant, irregular last step');
  check([30, 20, 10], [7, 7, 7], 'constant, negative step');
  check([-MAX_SAFE, 0, MAX_SAFE], [1, 1, 1], 'constant, steps fine but span unsafe');
  check([-MAX_SAFE, MAX_SAFE], [1, 1], 'constant, two points, unsafe span');
  check([1, 2], [Number.MAX_VALUE, Number.MAX_VALUE], 'sum overflows to Infinity');
});
