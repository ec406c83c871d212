import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, deflateRawSync } from 'node:zlib';
import {
  BLOCK_HEADER_SIZE,
  COMPRESSION_DEFLATE,
  ENCODING_COLUMNAR,
  ENCODING_COMPRESSED,
  ENCODING_CONST_REGULAR,
  ENCODING_GORILLA,
  decodeBlock,
  decodeBlockHeader,
  encodeBlock,
} from '../../src/codec/block.js';
import { encodeColumnar, planColumnar } from '../../src/codec/block-columnar.js';
import { isTsdbError } from '../../src/common/errors.js';
import { seededRandom } from '../helpers/seeded-random.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const bitsView = (vs: ArrayLike<number>): BigUint64Array => new BigUint64Array(Float64Array.from(vs).buffer);

function fromBits(hex: string): number {
  return new Float64Array(BigUint64Array.of(BigInt(`0x${hex}`)).buffer)[0];
}

/** Values whose exact float64 bits must survive; none has an exact short decimal form except ±0 and 2^53. */
const EDGE = [
  -0, 0, 5e-324, -5e-324, 2.2250738585072014e-308, Infinity, -Infinity, NaN, fromBits('7ff8000000000abc'),
  fromBits('fff8000000000001'), Number.MAX_VALUE, -Number.MAX_VALUE, 0.1 + 0.2, 2 ** 53, -(2 ** 51) - 1, 1e300, 1 / 3,
];

type Rnd = ReturnType<typeof seededRandom>;

function timestamps(r: Rnd, n: number): { ts: number[]; kind: string } {
  const kinds = ['regular', 'jitter', 'unsorted', 'duplicates', 'descending', 'huge', 'zero-step'];
  const kind = kinds[r.int(0, kinds.length - 1)];
  const t0 = r.next() < 0.1 ? -r.int(0, 2 ** 40) : 1_600_000_000_000 + r.int(0, 1e9);
  const step = [1, 1000, 10_000, 15_000, 60_000][r.int(0, 4)];
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    switch (kind) {
      case 'regular':
        ts.push(t0 + i * step);
        break;
      case 'jitter':
        ts.push(t0 + i * step + (r.next() < 0.9 ? r.int(-5, 5) : r.int(-500, 500)));
        break;
      case 'unsorted':
        ts.push(t0 + r.int(0, n) * step);
        break;
      case 'duplicates':
        ts.push(i > 0 && r.next() < 0.3 ? ts[r.int(0, i - 1)] : t0 + i * step);
        break;
      case 'descending':
        ts.push(t0 - i * step);
        break;
      case 'huge':
        ts.push(r.next() < 0.5 ? r.int(-MAX_SAFE, MAX_SAFE) : [MAX_SAFE, -MAX_SAFE, 0][r.int(0, 2)]);
        break;
      default:
        ts.push(t0);
    }
  }
  return { ts, kind };
}

/** Returns values and whether every one has an exact decimal form the codec should find. */
function values(r: Rnd, n: number): { vs: Float64Array; kind: string; decimal: boolean } {
  const kinds = ['int-walk', 'decimals', 'mixed-precision', 'counter', 'constant', 'round-large', 'tsbs', 'edges', 'random-bits', 'flip'];
  const kind = kinds[r.int(0, kinds.length - 1)];
  const vs = new Float64Array(n);
  const bits = new Uint32Array(vs.buffer);
  const k = r.int(0, 6);
  let x = (r.next() - 0.5) * 1000;
  let c = r.int(0, 1e9);
  const cst = r.next() < 0.5 ? Math.round(x * 100) / 100 : EDGE[r.int(0, EDGE.length - 1)];
  for (let i = 0; i < n; i++) {
    x += (r.next() - 0.5) * 4;
    switch (kind) {
      case 'int-walk':
        vs[i] = Math.round(x);
        break;
      case 'decimals':
        vs[i] = Math.round(x * 10 ** k) / 10 ** k;
        break;
      case 'mixed-precision': {
        const p = r.int(0, 8);
        vs[i] = Math.round(x * 10 ** p) / 10 ** p;
        break;
      }
      case 'counter':
        c += r.next() < 0.8 ? 100 : r.int(0, 300);
        vs[i] = c;
        break;
      case 'constant':
        vs[i] = cst;
        break;
      case 'round-large':
        vs[i] = Math.round(x) * 10 ** r.int(3, 20);
        break;
      case 'tsbs':
        vs[i] = Math.trunc(Math.min(100, Math.max(0, 50 + x / 10)));
        break;
      case 'edges':
        vs[i] = r.next() < 0.3 ? EDGE[r.int(0, EDGE.length - 1)] : Math.round(x * 10) / 10;
        break;
      case 'random-bits':
        bits[2 * i] = r.int(0, 2 ** 32 - 1);
        bits[2 * i + 1] = r.int(0, 2 ** 32 - 1);
        if (Number.isNaN(vs[i])) vs[i] = EDGE[8]; // V8 may quiet signalling NaNs in number[] results
        break;
      default:
        vs[i] = r.int(0, 1);
    }
  }
  // Math.round gives −0 for small negatives; −0 is covered by 'edges', the decimal kinds want +0.
  if (!['edges', 'random-bits', 'constant'].includes(kind)) for (let i = 0; i < n; i++) vs[i] += 0;
  const decimal = !['edges', 'random-bits', 'round-large'].includes(kind) && !(kind === 'constant' && EDGE.includes(cst));
  return { vs, kind, decimal };
}

function blockSize(r: Rnd): number {
  const u = r.next();
  if (u < 0.15) return r.int(0, 4);
  if (u < 0.9) return r.int(5, 800);
  return r.int(800, 3000);
}

function checkRoundTrip(b: Buffer, ts: number[], vs: Float64Array, what: string): void {
  const got = decodeBlock(b);
  assert.deepEqual(got.ts, ts, `${what}: timestamps`);
  const a = bitsView(got.vs);
  const e = bitsView(vs);
  assert.equal(a.length, e.length, `${what}: count`);
  for (let i = 0; i < e.length; i++) {
    if (a[i] !== e[i]) assert.fail(`${what}: value ${i} bits ${a[i].toString(16)} != ${e[i].toString(16)}`);
  }
}

test('block property: thousands of random blocks round-trip bit-exactly, hot and cold', () => {
  const r = seededRandom('codec-block-property');
  const seen = new Map<string, number>();
  for (let s = 0; s < 3000; s++) {
    const n = blockSize(r);
    const { ts, kind: tk } = timestamps(r, n);
    const { vs, kind: vk, decimal } = values(r, n);
    const what = `seed ${r.seed} block ${s} (${n} points, ${tk} timestamps, ${vk} values)`;
    const hot = encodeBlock(ts, vs);
    checkRoundTrip(hot, ts, vs, `${what} hot`);
    const h = decodeBlockHeader(hot);
    const key = `${h.encoding}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    if (decimal && n > 1 && tk !== 'huge') {
      // Decimal data always fits encoding 3; gorilla may win only where encoding 3 needs 4 bytes per point or more.
      const plan = planColumnar(ts, vs, h.minT, false, false);
      assert.ok(plan !== null, `${what}: no columnar plan`);
      if (h.encoding === ENCODING_GORILLA) {
        const { head, stream } = encodeColumnar(ts, h.minT, plan, plan.valueModes[0]);
        const columnar = head.length + stream.length;
        assert.ok(columnar >= 4 * n && columnar > hot.length - BLOCK_HEADER_SIZE, `${what}: gorilla ${hot.length - BLOCK_HEADER_SIZE} B chosen over columnar ${columnar} B`);
      } else {
        assert.ok(h.encoding === ENCODING_COLUMNAR || h.encoding === ENCODING_CONST_REGULAR, `${what}: encoding ${h.encoding}`);
      }
    }
    if (s % 3 === 0) {
      const cold = encodeBlock(ts, vs, { cold: true });
      checkRoundTrip(cold, ts, vs, `${what} cold`);
      assert.ok(cold.length <= hot.length, `${what}: cold ${cold.length} > hot ${hot.length}`);
      const hc = decodeBlockHeader(cold);
      assert.deepEqual({ ...hc, encoding: 0 }, { ...h, encoding: 0 }, `${what}: cold header statistics`);
      seen.set(`cold ${hc.encoding}`, (seen.get(`cold ${hc.encoding}`) ?? 0) + 1);
    }
  }
  // The generator must actually reach every encoding, or the test proves less than it claims.
  for (const e of [ENCODING_GORILLA, ENCODING_CONST_REGULAR, ENCODING_COLUMNAR]) assert.ok((seen.get(`${e}`) ?? 0) > 20, `encoding ${e}: ${JSON.stringify([...seen])}`);
  assert.ok((seen.get(`cold ${ENCODING_COMPRESSED}`) ?? 0) > 0, `cold compressed never chosen: ${JSON.stringify([...seen])}`);
});

test('block property: mixed decimal precisions share the largest exponent; exponents bounded', () => {
  const b = encodeBlock([0, 1, 2, 3], [1.5, 2.25, 3, 0.125]);
  assert.equal(b[3], ENCODING_COLUMNAR);
  assert.equal(b[BLOCK_HEADER_SIZE + 1], 3, 'exponent 3 (0.125 has three decimals)');
  const big = encodeBlock([0, 1, 2], [1e21, 3e21, 2e21]);
  assert.equal(big[3], ENCODING_COLUMNAR);
  assert.equal(big[BLOCK_HEADER_SIZE + 1], 0xeb, 'exponent −21, stored as int8');
  const tiny = encodeBlock([0, 1], [1e-22, 2e-22]);
  assert.equal(tiny[3], ENCODING_COLUMNAR);
  assert.equal(tiny[BLOCK_HEADER_SIZE + 1], 22);
  assert.equal(encodeBlock([0, 1], [1e-23, 2e-23])[3], ENCODING_GORILLA, '10^23 is not exact in float64');
  assert.equal(encodeBlock([0, 1, 2], [1, -0, 2])[3], ENCODING_GORILLA, '−0 has no decimal form that keeps its sign');
  assert.equal(encodeBlock([0, 1, 2], [1, 0.1 + 0.2, 2])[3], ENCODING_GORILLA, '17 significant digits exceed the mantissa bound');
});

test('block property: bodies corrupted behind a valid crc fail with TSDB_ERR_STORE_IO or decode to count points', () => {
  const r = seededRandom('codec-block-corrupt-body');
  const ts = Array.from({ length: 300 }, (_, i) => 1e12 + i * 10_000 + (i % 7));
  const vs = Array.from({ length: 300 }, (_, i) => Math.round(Math.sin(i / 9) * 1e4) / 100);
  const blocks = [encodeBlock(ts, vs), encodeBlock(ts, vs.map((v, i) => (i % 2 ? Math.PI : v))), encodeBlock(ts, vs, { cold: true })];
  for (let s = 0; s < 2000; s++) {
    const c = Buffer.from(blocks[s % blocks.length]);
    const flips = r.int(1, 4);
    for (let f = 0; f < flips; f++) c[BLOCK_HEADER_SIZE + r.int(0, c.length - BLOCK_HEADER_SIZE - 1)] ^= 1 << r.int(0, 7);
    c.writeUInt32LE(crc32(c.subarray(BLOCK_HEADER_SIZE), crc32(c.subarray(0, 72))) >>> 0, 72);
    try {
      const d = decodeBlock(c);
      assert.equal(d.ts.length, 300, `seed ${r.seed} case ${s}`);
    } catch (e) {
      assert.ok(isTsdbError(e) && e.code === 'TSDB_ERR_STORE_IO' && /^cannot decode block/.test(e.message), `seed ${r.seed} case ${s}: ${String(e)}`);
    }
  }
});

test('block property: a hand-built deflate-wrapped block decodes (both compressors are readable)', () => {
  const ts = [0, 10, 20, 35];
  const vs = [1.5, 1.5, 2, 2.5];
  const hot = encodeBlock(ts, vs);
  const inner = hot.subarray(BLOCK_HEADER_SIZE);
  const packed = deflateRawSync(inner);
  const b = Buffer.alloc(BLOCK_HEADER_SIZE + 2 + packed.length);
  hot.copy(b, 0, 0, BLOCK_HEADER_SIZE);
  b[3] = ENCODING_COMPRESSED;
  b.writeUInt32LE(2 + packed.length, 12);
  b[BLOCK_HEADER_SIZE] = COMPRESSION_DEFLATE;
  b[BLOCK_HEADER_SIZE + 1] = hot[3];
  packed.copy(b, BLOCK_HEADER_SIZE + 2);
  b.writeUInt32LE(crc32(b.subarray(BLOCK_HEADER_SIZE), crc32(b.subarray(0, 72))) >>> 0, 72);
  assert.deepEqual(decodeBlock(b).vs, vs);
  const bad = Buffer.from(b);
  bad[BLOCK_HEADER_SIZE + 1] = ENCODING_CONST_REGULAR;
  bad.writeUInt32LE(crc32(bad.subarray(BLOCK_HEADER_SIZE), crc32(bad.subarray(0, 72))) >>> 0, 72);
  assert.throws(() => decodeBlock(bad), (e: unknown) => isTsdbError(e) && /inner encoding 2/.test(e.message));
});
