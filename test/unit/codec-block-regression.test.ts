import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLAG_SEALED, decodeBlock, decodeBlockHeader, encodeBlock } from '../../src/codec/block.js';
import { TS_DOD, TS_REGULAR, VALUES_CONST, decodeColumnar, encodeColumnar, planColumnar } from '../../src/codec/block-columnar.js';
import { BitContexts, INT_MODEL_CONTEXTS, RangeDecoder, RangeEncoder, decodeInt, encodeInt } from '../../src/codec/range-coder.js';
import { seededRandom } from '../helpers/seeded-random.js';

const bits = (vs: ArrayLike<number>): bigint[] => Array.from(new BigUint64Array(Float64Array.from(vs).buffer));

/**
 * Blocks that encoded but did not decode at 3a00b49 ("range-coded stream read 5 bytes past its end"): the
 * first is the one H5 found in query tests; the rest are every failure among 20,000 random 1–6 point blocks
 * with 0–15 decimals at that commit (about 1 in 1,000 columnar blocks). Cause: a decoder check rejected valid
 * streams whose trimmed trailing zeros made it read more than 4 bytes past the end (next test); 8d2d709
 * removed the check.
 */
const FAILED_AT_3A00B49: Array<[number[], number[]]> = [
  [[10092, 10102], [-14.9836192606017, 1]],
  [[10000, 10011, 10021], [-18.382, -1.13091098610312, 18.37056]],
  [[10000, 10011, 10020, 10030], [39.271140215, -10.66953819, -14.6348, 27.2]],
  [[10000, 10012], [46.37647068594, 13]],
  [[10000, 10010], [-24.19689339586, 20.9]],
  [[10000, 10012, 10022], [28.9908210746944, -49.6867, 48]],
  [[10000, 10010, 10020, 10030, 10040, 10050], [9.68248, -2.0904897945, -41.625397070311, 20.96096447203, -27.897, 4]],
  [[10000, 10012, 10022, 10030, 10040, 10050], [-26.422280003317, 5.4, -46.214, 24.12932685111, -27.45516, 16]],
  [[10000, 10011, 10020], [-18.57371149, -9.21569496858865, 6]],
  [[10000, 10010, 10020, 10030, 10040], [-21.8152233, 5.85453263484, 1.71, -39.129003929, 35.2]],
  [[10001, 10010, 10021], [-31.7477458389476, 15.310571063, 4]],
];

test('regression: blocks that did not decode at 3a00b49 round-trip hot, cold and sealed', () => {
  for (const [ts, vs] of FAILED_AT_3A00B49) {
    for (const opts of [{}, { cold: true }, { sealed: true }, { cold: true, sealed: true }]) {
      const what = `${JSON.stringify(vs)} ${JSON.stringify(opts)}`;
      const b = encodeBlock(ts, vs, opts);
      const got = decodeBlock(b);
      assert.deepEqual(got.ts, ts, what);
      assert.deepEqual(bits(got.vs), bits(vs), what);
      assert.equal(decodeBlockHeader(b).flags & FLAG_SEALED, opts.sealed === true ? FLAG_SEALED : 0, what);
    }
  }
});

test('regression: range-coded streams read up to 6 zero bytes past their trimmed end and still decode exactly', () => {
  // The encoder drops trailing 0x00 bytes and the decoder reads missing bytes as 0, so how far the decoder
  // reads past the end depends on the data; ~5% of short streams go 5 or more bytes past it. A check on that
  // distance (3a00b49 had `overrun > 4`) rejects valid blocks; corruption is the block CRC's job.
  const r = seededRandom('range-coder-overrun');
  const rc = new RangeEncoder(16);
  const ctx = new BitContexts(INT_MODEL_CONTEXTS);
  const rd = new RangeDecoder();
  let farReads = 0;
  for (let s = 0; s < 3000; s++) {
    const xs: number[] = [];
    for (let i = r.int(1, 4); i > 0; i--) {
      const len = r.int(0, 53);
      const m = len === 0 ? 0 : 2 ** (len - 1) + Math.floor(r.next() * 2 ** (len - 1));
      xs.push(r.next() < 0.5 ? -m : m);
    }
    rc.reset();
    ctx.reset();
    for (const x of xs) encodeInt(rc, ctx, x);
    const b = Uint8Array.from(rc.finish());
    rd.init(b, 0, b.length);
    ctx.reset();
    for (let i = 0; i < xs.length; i++) {
      const got = decodeInt(rd, ctx);
      if (got !== xs[i]) assert.fail(`seed ${r.seed} stream ${s} int ${i}: ${got} != ${xs[i]}`);
    }
    // `pos` is private to the decoder; read here only to prove the corpus reaches the old false-positive case.
    if ((Reflect.get(rd, 'pos') as number) - b.length >= 5) farReads++;
  }
  assert.ok(farReads > 30, `only ${farReads} streams read 5+ bytes past their end: the test proves less than it claims`);
});

test('regression: every columnar (timestamp mode, value mode) pair round-trips when forced, not only the one the estimate picks', () => {
  const r = seededRandom('codec-columnar-forced-modes');
  const used = new Set<string>();
  for (let s = 0; s < 600; s++) {
    const n = r.int(1, 60);
    const regularTs = r.next() < 0.5;
    const step = [0, 1, 10_000, 2 ** 32 + 3][r.int(0, 3)];
    const t0 = r.next() < 0.3 ? -(2 ** 50) + r.int(0, 1000) : 1.6e12;
    const ts = Array.from({ length: n }, (_, i) => (regularTs ? t0 + i * step : t0 + r.int(-1000, 1000) * (i + 1)));
    const kind = r.int(0, 5);
    let x = (r.next() - 0.5) * 1000;
    const vs = Array.from({ length: n }, () => {
      x += r.next() - 0.5;
      switch (kind) {
        case 0:
          return 2 ** 51 - r.int(0, 100); // deltas near 2^51, delta-of-deltas near 2^52
        case 1:
          return r.int(-999, 999) / 1e22; // exponent 22..
        case 2:
          return r.int(-999, 999) * 1e21; // .. and −21
        case 3:
          return Math.round(x * 1e12) / 1e12 + 0; // 15 significant digits
        case 4:
          return r.next() < 0.5 ? -(2 ** 51) : 2 ** 51; // extreme alternation: delta-of-delta ±2^53
        default:
          return -14.9836192606017 + r.int(-3, 3);
      }
    });
    const minT = Math.min(...ts);
    const regular = regularTs && n > 0;
    const constant = vs.every((v) => Object.is(v, vs[0]));
    const plan = planColumnar(ts, vs, minT, regular, constant);
    if (plan === null) continue;
    for (const tsMode of regular ? [TS_REGULAR, TS_DOD] : [TS_DOD]) {
      const valueModes: number[] = constant ? [VALUES_CONST] : plan.valueModes;
      for (const vm of valueModes) {
        const { head, stream } = encodeColumnar(ts, minT, { ...plan, tsMode }, vm);
        const body = new Uint8Array(head.length + stream.length);
        body.set(head);
        body.set(stream, head.length);
        const gt: number[] = [];
        const gv: number[] = [];
        decodeColumnar(body, { count: n, minT, maxT: Math.max(...ts), first: vs[ts.indexOf(minT)] }, gt, gv);
        const what: string = `seed ${r.seed} block ${s} kind ${kind} ts mode ${tsMode} value mode ${vm}`;
        assert.deepEqual(gt, ts, what);
        assert.deepEqual(bits(gv), bits(vs), what);
        used.add(`${tsMode}/${vm}`);
      }
    }
  }
  assert.equal(used.size, 8, `pairs exercised: ${[...used].join(' ')}`);
});
