/**
 * Seeded round-trip fuzzer for the block codec (src/codec/block.ts): random blocks over many shapes of
 * timestamps and values, each encoded hot, cold and sealed, plus every columnar (timestamp mode, value mode)
 * pair forced directly through encodeColumnar/decodeColumnar, so a mode the hot path's entropy estimate
 * rarely picks is still exercised. Checks float64 bits (NaN payloads included) and every header field
 * against statistics computed here independently. Any failure prints the seed, shape and the smallest
 * failing prefix of the block, and the process exits 1.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/bench/codec-fuzz.js [--seed N] [--seconds S] [--cold-every K] [--max-size N]`.
 * --max-size below 5000 draws sizes uniformly from 1..N (many more, small blocks per second).
 * Without --seed a random seed is drawn and printed; the same seed replays the same blocks.
 */

import { pathToFileURL } from 'node:url';
import {
  type BlockHeader,
  ENCODING_COLUMNAR,
  ENCODING_COMPRESSED,
  ENCODING_CONST_REGULAR,
  ENCODING_GORILLA,
  FLAG_SEALED,
  FLAG_STRICTLY_INCREASING,
  blockHeaderSize,
  decodeBlock,
  decodeBlockHeader,
  encodeBlock,
} from '../src/codec/block.js';
import { TS_DOD, TS_REGULAR, VALUES_CONST, decodeColumnar, encodeColumnar, planColumnar } from '../src/codec/block-columnar.js';
import { mulberry32 } from './tsbs/prng.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const QUIET_BIT = 0x0008000000000000n;

export const TS_KINDS = ['regular', 'jitter', 'unsorted', 'duplicates', 'descending', 'negative', 'near-max', 'near-min', 'huge-random', 'all-same', 'gaps'] as const;
export const VALUE_KINDS = [
  'decimal-k',
  'mixed-precision',
  'tiny',
  'huge',
  'int-near-2^51',
  'int-near-2^53',
  'negative-walk',
  'edges',
  'nan-payloads',
  'constant-run',
  'counter',
  'random-walk',
  'exp-near-+22',
  'exp-near--22',
  'one-breaker',
  'random-bits',
  'zero-one',
] as const;

export class Rnd {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed >>> 0);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  /** A safe integer in [lo, hi] even when the span exceeds 2^32 (the product with next() keeps 53 bits). */
  safe(lo: number, hi: number): number {
    const x = lo + Math.floor(this.next() * (hi - lo));
    return Math.min(hi, Math.max(lo, x));
  }
}

function fromBits(hi: number, lo: number): number {
  const f = new Float64Array(1);
  const u = new Uint32Array(f.buffer);
  u[0] = lo >>> 0;
  u[1] = hi >>> 0;
  return f[0];
}

const EDGE = [
  -0, 0, 5e-324, -5e-324, 2.2250738585072014e-308, -2.2250738585072014e-308, Infinity, -Infinity, NaN, Number.MAX_VALUE, -Number.MAX_VALUE,
  0.1 + 0.2, 2 ** 53, -(2 ** 53), 2 ** 51, -(2 ** 51), 2 ** 51 + 1, 1e300, 1 / 3, 1e-22, 1e22, 1e23, 1e-23,
];

export function timestamps(r: Rnd, n: number, kind: string): number[] {
  const ts: number[] = new Array(n);
  const step = r.pick([0, 1, 7, 1000, 10_000, 15_000, 60_000, 2 ** 32 + 3]);
  const t0 = r.next() < 0.2 ? -r.safe(0, 2 ** 45) : 1_600_000_000_000 + r.int(0, 1e9);
  for (let i = 0; i < n; i++) {
    let t: number;
    switch (kind) {
      case 'regular':
        t = t0 + i * step;
        break;
      case 'jitter':
        t = t0 + i * step + (r.next() < 0.9 ? r.int(-3, 3) : r.int(-5000, 5000));
        break;
      case 'unsorted':
        t = t0 + r.int(0, n) * (step || 1);
        break;
      case 'duplicates':
        t = i > 0 && r.next() < 0.4 ? ts[r.int(0, i - 1)] : t0 + i * step;
        break;
      case 'descending':
        t = t0 - i * step;
        break;
      case 'negative':
        t = -(2 ** 40) - r.int(0, 1e6) * (r.next() < 0.5 ? 1 : i);
        break;
      case 'near-max':
        t = MAX_SAFE - r.int(0, 3 * n);
        break;
      case 'near-min':
        t = -MAX_SAFE + r.int(0, 3 * n);
        break;
      case 'huge-random':
        t = r.next() < 0.3 ? r.pick([MAX_SAFE, -MAX_SAFE, 0, 1, -1]) : r.safe(-MAX_SAFE, MAX_SAFE);
        break;
      case 'all-same':
        t = t0;
        break;
      default: // gaps: regular with a few big jumps
        t = (i > 0 ? ts[i - 1] : t0) + (r.next() < 0.02 ? r.safe(0, 2 ** 40) : step);
    }
    if (!Number.isSafeInteger(t)) t = Math.max(-MAX_SAFE, Math.min(MAX_SAFE, Math.round(t)));
    ts[i] = t;
  }
  return ts;
}

export function values(r: Rnd, n: number, kind: string): Float64Array {
  const vs = new Float64Array(n);
  const u = new Uint32Array(vs.buffer);
  const k = r.int(0, 15);
  let x = (r.next() - 0.5) * 10 ** r.int(0, 6);
  let c = r.safe(0, 2 ** r.int(1, 50));
  const cst = r.next() < 0.5 ? Math.round(x * 10 ** (k % 8)) / 10 ** (k % 8) : r.pick(EDGE);
  const breakAt = r.int(0, n - 1);
  const breaker = r.pick([-0, NaN, Infinity, 0.1 + 0.2, 5e-324, 1 / 3, 2 ** 53 + 2, 1e-23, Math.PI]);
  for (let i = 0; i < n; i++) {
    x += (r.next() - 0.5) * 4;
    let v: number;
    switch (kind) {
      case 'decimal-k':
        v = Math.round(x * 10 ** k) / 10 ** k;
        break;
      case 'mixed-precision': {
        const p = r.int(0, 15);
        v = Math.round(x * 10 ** p) / 10 ** p;
        break;
      }
      case 'tiny':
        v = r.int(-99999, 99999) * 10 ** -r.int(10, 22);
        break;
      case 'huge':
        v = r.int(-99999, 99999) * 10 ** r.int(10, 22);
        break;
      case 'int-near-2^51':
        v = 2 ** 51 - r.int(-40, 40) * (r.next() < 0.5 ? 1 : -1);
        break;
      case 'int-near-2^53':
        v = (r.next() < 0.5 ? 1 : -1) * (2 ** 53 - r.int(0, 1000) * 2);
        break;
      case 'negative-walk':
        v = -Math.abs(Math.round(x * 100) / 100) - 1;
        break;
      case 'edges':
        v = r.next() < 0.4 ? r.pick(EDGE) : Math.round(x * 10) / 10;
        break;
      case 'nan-payloads':
        // Quiet NaNs with random payloads (V8 keeps those in number[]; see sameBits for signalling ones).
        v = r.next() < 0.5 ? fromBits((r.next() < 0.5 ? 0x7ff80000 : 0xfff80000) | r.int(0, 0x7ffff), r.int(0, 2 ** 32 - 1)) : Math.round(x);
        break;
      case 'constant-run':
        v = r.next() < 0.98 ? cst : Math.round(x);
        break;
      case 'counter':
        c += r.next() < 0.8 ? 100 : r.int(0, 10 ** r.int(0, 6));
        v = c;
        break;
      case 'random-walk':
        v = x;
        break;
      case 'exp-near-+22':
        v = r.int(-999, 999) / 10 ** r.int(19, 22);
        break;
      case 'exp-near--22':
        v = r.int(-999, 999) * 10 ** r.int(19, 22);
        break;
      case 'one-breaker':
        v = i === breakAt ? breaker : Math.round(x * 1000) / 1000;
        break;
      case 'random-bits':
        u[2 * i] = r.int(0, 2 ** 32 - 1);
        u[2 * i + 1] = r.int(0, 2 ** 32 - 1);
        continue;
      default:
        v = r.int(0, 1);
    }
    vs[i] = v;
  }
  return vs;
}

function sizeFor(r: Rnd, maxSize: number): number {
  if (maxSize < 5000) return r.int(1, maxSize);
  const u = r.next();
  if (u < 0.3) return r.int(1, 8);
  if (u < 0.75) return r.int(9, 300);
  if (u < 0.97) return r.int(301, 1500);
  return r.int(1501, 5000);
}

const F = new Float64Array(2);
const B = new BigUint64Array(F.buffer);

/** Bit equality; a signalling NaN that came back quieted counts as equal (V8 may quiet them in number[]). */
function sameBits(a: number, b: number): boolean {
  F[0] = a;
  F[1] = b;
  if (B[0] === B[1]) return true;
  return Number.isNaN(a) && Number.isNaN(b) && (B[0] | QUIET_BIT) === (B[1] | QUIET_BIT);
}

/** The header fields the encoder derives from the points. */
type Expected = Omit<BlockHeader, 'version' | 'encoding'>;

function expectedHeader(ts: number[], vs: Float64Array, sealed: boolean): Expected {
  const n = ts.length;
  let minT = ts[0];
  let maxT = ts[0];
  let fi = 0;
  let li = 0;
  let min = vs[0];
  let max = vs[0];
  let sum = vs[0];
  let inc = true;
  for (let i = 1; i < n; i++) {
    if (ts[i] <= ts[i - 1]) inc = false;
    if (ts[i] <= minT) {
      minT = ts[i];
      fi = i;
    }
    if (ts[i] >= maxT) {
      maxT = ts[i];
      li = i;
    }
    min = Math.min(min, vs[i]);
    max = Math.max(max, vs[i]);
    sum += vs[i];
  }
  return { count: n, minT, maxT, min, max, sum, first: vs[fi], last: vs[li], flags: (inc ? FLAG_STRICTLY_INCREASING : 0) | (sealed ? FLAG_SEALED : 0) };
}

/** Returns null on success, else what differs. */
function checkBlock(b: Buffer, ts: number[], vs: Float64Array, exp: Expected): string | null {
  let got;
  try {
    got = decodeBlock(b);
  } catch (e) {
    return `decode threw: ${(e as Error).message}`;
  }
  const h = decodeBlockHeader(b);
  for (const f of ['count', 'minT', 'maxT', 'flags'] as const) if (h[f] !== exp[f]) return `header ${f} ${h[f]} != ${exp[f]}`;
  // Which NaN payload Math.min/max and + return is not specified (it varies between V8 tiers): NaN-ness only.
  for (const f of ['min', 'max', 'sum'] as const) if (!sameBits(h[f], exp[f]) && !(Number.isNaN(h[f]) && Number.isNaN(exp[f]))) return `header ${f} ${h[f]} != ${exp[f]}`;
  for (const f of ['first', 'last'] as const) if (!sameBits(h[f], exp[f])) return `header ${f} ${h[f]} != ${exp[f]}`;
  if (![ENCODING_GORILLA, ENCODING_CONST_REGULAR, ENCODING_COLUMNAR, ENCODING_COMPRESSED].includes(h.encoding)) return `encoding ${h.encoding}`;
  if (got.ts.length !== ts.length || got.vs.length !== vs.length) return `decoded ${got.ts.length}/${got.vs.length} points, want ${ts.length}`;
  for (let i = 0; i < ts.length; i++) {
    if (got.ts[i] !== ts[i]) return `t[${i}] ${got.ts[i]} != ${ts[i]}`;
    if (!sameBits(got.vs[i], vs[i])) return `v[${i}] ${got.vs[i]} != ${vs[i]}`;
  }
  return null;
}

/** Every (timestamp mode, value mode) the plan allows, encoded and decoded directly. */
function checkForcedModes(ts: number[], vs: Float64Array, exp: Expected, regular: boolean, constant: boolean, counts: Map<string, number>): string | null {
  const plan = planColumnar(ts, vs, exp.minT, regular, constant);
  if (plan === null) return null;
  const tsModes = regular ? [TS_REGULAR, TS_DOD] : [TS_DOD];
  const valueModes = constant ? [VALUES_CONST] : plan.valueModes;
  for (const tsMode of tsModes) {
    for (const vm of valueModes) {
      const { head, stream } = encodeColumnar(ts, exp.minT, { ...plan, tsMode }, vm);
      const body = new Uint8Array(head.length + stream.length);
      body.set(head);
      body.set(stream, head.length);
      const gt: number[] = [];
      const gv: number[] = [];
      const key = `ts${tsMode}/v${vm}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      try {
        decodeColumnar(body, { count: exp.count, minT: exp.minT, maxT: exp.maxT, first: exp.first }, gt, gv);
      } catch (e) {
        return `forced ${key} (exponent ${plan.exponent}): decode threw ${(e as Error).message}`;
      }
      for (let i = 0; i < ts.length; i++) {
        if (gt[i] !== ts[i]) return `forced ${key}: t[${i}] ${gt[i]} != ${ts[i]}`;
        if (!sameBits(gv[i], vs[i])) return `forced ${key} (exponent ${plan.exponent}): v[${i}] ${gv[i]} != ${vs[i]}`;
      }
    }
  }
  return null;
}

function regularAndConstant(ts: number[], vs: Float64Array): { regular: boolean; constant: boolean } {
  const n = ts.length;
  let regular = n > 0;
  let constant = n > 0;
  const step = n > 1 ? ts[1] - ts[0] : 0;
  for (let i = 1; i < n; i++) {
    const d = ts[i] - ts[i - 1];
    if (!(d === step && d >= 0 && d <= MAX_SAFE)) regular = false;
    if (!sameBitsStrict(vs[i], vs[0])) constant = false;
  }
  if (regular && n > 1 && !(ts[n - 1] - ts[0] <= MAX_SAFE)) regular = false;
  return { regular, constant };
}

function sameBitsStrict(a: number, b: number): boolean {
  F[0] = a;
  F[1] = b;
  return B[0] === B[1];
}

/** One block: every check; returns a failure description or null. */
function runOne(ts: number[], vs: Float64Array, cold: boolean, counts: Map<string, number>): string | null {
  const exp = expectedHeader(ts, vs, false);
  const hot = encodeBlock(ts, vs);
  counts.set(`hot enc ${hot[3]}`, (counts.get(`hot enc ${hot[3]}`) ?? 0) + 1);
  const why = checkBlock(hot, ts, vs, exp);
  if (why !== null) return `hot: ${why}`;
  const sealed = encodeBlock(ts, vs, { sealed: true });
  const whyS = checkBlock(sealed, ts, vs, { ...exp, flags: exp.flags | FLAG_SEALED });
  if (whyS !== null) return `sealed: ${whyS}`;
  const whyL = sameHeaderAcrossLayouts(hot, sealed);
  if (whyL !== null) return `sealed vs hot header: ${whyL}`;
  counts.set('sealed header B', (counts.get('sealed header B') ?? 0) + blockHeaderSize(sealed));
  if (cold) {
    const c = encodeBlock(ts, vs, { cold: true, sealed: true });
    counts.set(`cold enc ${c[3]}`, (counts.get(`cold enc ${c[3]}`) ?? 0) + 1);
    const whyC = checkBlock(c, ts, vs, { ...exp, flags: exp.flags | FLAG_SEALED });
    if (whyC !== null) return `cold: ${whyC}`;
    if (c.length > sealed.length) return `cold ${c.length} B > sealed ${sealed.length} B`;
  }
  const { regular, constant } = regularAndConstant(ts, vs);
  return checkForcedModes(ts, vs, exp, regular, constant, counts);
}

/** The compact (version-2) header of a sealed block reads back the same fields as the 76-byte header. */
function sameHeaderAcrossLayouts(hot: Buffer, sealed: Buffer): string | null {
  const a = decodeBlockHeader(hot);
  const b = decodeBlockHeader(sealed);
  if (a.version !== 1 || b.version !== 2) return `versions ${a.version}/${b.version}, want 1/2`;
  if (b.flags !== (a.flags | FLAG_SEALED)) return `flags ${b.flags} != ${a.flags | FLAG_SEALED}`;
  for (const f of ['encoding', 'count', 'minT', 'maxT'] as const) if (a[f] !== b[f]) return `${f} ${b[f]} != ${a[f]}`;
  // Two encodes may pick different NaN payloads for min/max/sum (see checkBlock); first/last are copied bits.
  for (const f of ['min', 'max', 'sum'] as const) if (!sameBits(a[f], b[f]) && !(Number.isNaN(a[f]) && Number.isNaN(b[f]))) return `${f} ${b[f]} != ${a[f]}`;
  for (const f of ['first', 'last'] as const) if (!sameBits(a[f], b[f])) return `${f} ${b[f]} != ${a[f]}`;
  return null;
}

/** Shrinks a failing block to the shortest failing prefix, then drops single points while it still fails. */
function shrink(ts: number[], vs: Float64Array): { ts: number[]; vs: number[]; why: string } {
  const fails = (t: number[], v: Float64Array): string | null => (t.length === 0 ? null : runOne(t, v, true, new Map()));
  let t = ts;
  let v = vs;
  for (let n = 1; n <= ts.length; n++) {
    if (fails(ts.slice(0, n), vs.slice(0, n)) !== null) {
      t = ts.slice(0, n);
      v = vs.slice(0, n);
      break;
    }
  }
  for (let i = t.length - 1; i >= 0 && t.length > 1; i--) {
    const t2 = t.filter((_, j) => j !== i);
    const v2 = v.filter((_, j) => j !== i);
    if (fails(t2, v2) !== null) {
      t = t2;
      v = v2;
    }
  }
  return { ts: t, vs: Array.from(v), why: fails(t, v) ?? '(no longer fails)' };
}

export interface FuzzResult {
  seed: number;
  blocks: number;
  points: number;
  perShape: Map<string, number>;
  counts: Map<string, number>;
  failures: string[];
}

export function fuzz(seed: number, seconds: number, coldEvery: number, maxSize = 5000, log: (s: string) => void = console.log): FuzzResult {
  const r = new Rnd(seed);
  const perShape = new Map<string, number>();
  const counts = new Map<string, number>();
  const failures: string[] = [];
  const deadline = Date.now() + seconds * 1000;
  let blocks = 0;
  let points = 0;
  while (Date.now() < deadline && failures.length < 5) {
    for (let j = 0; j < 50; j++, blocks++) {
      const tk = r.pick(TS_KINDS);
      const vk = r.pick(VALUE_KINDS);
      const n = sizeFor(r, maxSize);
      const ts = timestamps(r, n, tk);
      const vs = values(r, n, vk);
      points += n;
      const shape = `${tk}/${vk}`;
      perShape.set(shape, (perShape.get(shape) ?? 0) + 1);
      let why: string | null;
      try {
        why = runOne(ts, vs, blocks % coldEvery === 0, counts);
      } catch (e) {
        why = `threw: ${(e as Error).stack ?? String(e)}`;
      }
      if (why !== null) {
        const min = shrink(ts, vs);
        const msg = `FAIL seed ${seed} block ${blocks} shape ${shape} n=${n}: ${why}\n  minimal (${min.ts.length} points): ${min.why}\n  ts=${JSON.stringify(min.ts)}\n  vs=[${min.vs.map(hexOf).join(', ')}]`;
        failures.push(msg);
        log(msg);
      }
    }
  }
  return { seed, blocks, points, perShape, counts, failures };
}

function hexOf(v: number): string {
  F[0] = v;
  return `${v} (0x${B[0].toString(16).padStart(16, '0')})`;
}

function main(): void {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: number): number => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const seed = opt('seed', (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0);
  const seconds = opt('seconds', 30);
  const coldEvery = opt('cold-every', 4);
  console.log(`codec-fuzz: seed ${seed}, ${seconds} s, cold every ${coldEvery} blocks`);
  const t0 = Date.now();
  const res = fuzz(seed, seconds, coldEvery, opt('max-size', 5000));
  const shapes = [...res.perShape.values()];
  console.log(
    JSON.stringify({
      seed,
      seconds: (Date.now() - t0) / 1000,
      blocks: res.blocks,
      points: res.points,
      shapes: res.perShape.size,
      minPerShape: Math.min(...shapes),
      maxPerShape: Math.max(...shapes),
      failures: res.failures.length,
      counts: Object.fromEntries([...res.counts].sort()),
    }),
  );
  if (res.failures.length > 0) process.exitCode = 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
