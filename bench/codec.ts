/**
 * Codec micro-benchmark: size and speed of each block codec on synthetic but realistic series, in 720-point
 * blocks (two hours of 10 s scrapes, the compacted block size). Rows per data set:
 *   gorilla v1   the version-1 encoder: 76-byte header + gorilla stream (what stores held before encoding 3)
 *   hot          encodeBlock(ts, vs): the smallest of const-regular / columnar / gorilla by the hot-path rules
 *   cold         encodeBlock(ts, vs, { cold: true }): every candidate plus deflate/brotli
 *   sealed       encodeBlock(ts, vs, { sealed: true }): hot body, compact version-2 header (compaction's output)
 *   cold sealed  encodeBlock(ts, vs, { cold: true, sealed: true }): the cold tier's output
 * Run: `npx tsc -p tsconfig.json && node dist/bench/codec.js [points-per-dataset]`.
 */

import { pathToFileURL } from 'node:url';
import { BLOCK_HEADER_SIZE, decodeBlock, encodeBlock } from '../src/codec/block.js';
import { GorillaDecoder, GorillaEncoder } from '../src/codec/gorilla.js';
import { Rng, mulberry32 } from './tsbs/prng.js';

const BLOCK_POINTS = 720;
const ROUNDS = 5;

interface Dataset {
  name: string;
  /** One entry per block: timestamps and values of that block. */
  blocks: Array<{ ts: Float64Array; vs: Float64Array }>;
}

function split(name: string, ts: Float64Array, vs: Float64Array): Dataset {
  const blocks = [];
  for (let i = 0; i < ts.length; i += BLOCK_POINTS) blocks.push({ ts: ts.subarray(i, i + BLOCK_POINTS), vs: vs.subarray(i, i + BLOCK_POINTS) });
  return { name, blocks };
}

/** TSBS cpu-only as bench/tsbs/generate.ts models it: per host ten clamped N(0,1) random walks in [0, 100], printed as integers, every 10 s. */
function tsbsCpu(points: number): Dataset {
  const rng = new Rng(0x75b5);
  const t0 = 1_700_000_000_000;
  const ts = new Float64Array(BLOCK_POINTS).map((_, i) => t0 + i * 10_000);
  const blocks = [];
  for (let s = 0; s * BLOCK_POINTS < points; s++) {
    const vs = new Float64Array(BLOCK_POINTS);
    let x = rng.float() * 100;
    for (let i = 0; i < BLOCK_POINTS; i++) {
      if (i > 0) x = Math.min(100, Math.max(0, x + rng.normal()));
      vs[i] = Math.trunc(x);
    }
    blocks.push({ ts, vs });
  }
  return { name: 'TSBS cpu field, 10s exact', blocks };
}

function datasets(n: number): Dataset[] {
  const rnd = mulberry32(0xc0dec);
  const t0 = 1_700_000_000_000;
  const scrape = (): Float64Array => {
    // Mostly a few ms of jitter, with the occasional slow scrape.
    const ts = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const j = rnd() < 0.95 ? Math.floor(rnd() * 11) - 5 : Math.floor(rnd() * 401) - 200;
      ts[i] = t0 + i * 10_000 + j;
    }
    return ts;
  };
  const gauge = new Float64Array(n);
  const counter = new Float64Array(n);
  const temp = new Float64Array(n);
  const random = new Float64Array(n);
  const rbits = new Uint32Array(random.buffer);
  let g = 512;
  let c = 0;
  let x = 21.5;
  for (let i = 0; i < n; i++) {
    g = Math.max(0, g + (rnd() - 0.5) * 8);
    gauge[i] = Math.round(g * 100) / 100; // 2 decimals, e.g. MiB used
    c += Math.floor(rnd() * 40);
    counter[i] = c;
    x += (rnd() - 0.5) * 0.2;
    temp[i] = Math.round(x * 10) / 10; // 1 decimal, changes slowly
    rbits[2 * i] = Math.floor(rnd() * 2 ** 32);
    rbits[2 * i + 1] = Math.floor(rnd() * 0x7fe00000); // finite positives
  }
  const regular = new Float64Array(n).map((_, i) => t0 + i * 10_000);
  return [
    tsbsCpu(n),
    split('gauge 2dp, 10s±jitter', scrape(), gauge),
    split('temp 1dp, 10s±jitter', scrape(), temp),
    split('counter, 10s±jitter', scrape(), counter),
    split('counter, 10s exact', regular, counter),
    split('constant, 10s exact', regular, new Float64Array(n).fill(1)),
    split('random f64, 10s±jitter', scrape(), random),
  ];
}

function best(fn: () => void): number {
  let min = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    fn();
    min = Math.min(min, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return min;
}

export interface Row {
  dataset: string;
  codec: string;
  bytesPerPoint: number;
  encodeMpts: number;
  decodeMpts: number;
  encodings: string;
}

let sink = 0;

function gorillaRow(d: Dataset, points: number): Row {
  const enc = new GorillaEncoder(1 << 16);
  const streams: Uint8Array[] = [];
  const encS = best(() => {
    streams.length = 0;
    for (const b of d.blocks) {
      enc.reset();
      for (let i = 0; i < b.ts.length; i++) enc.append(b.ts[i], b.vs[i]);
      streams.push(enc.view().slice());
    }
  });
  const decS = best(() => {
    for (let k = 0; k < streams.length; k++) {
      const dec = new GorillaDecoder(streams[k], d.blocks[k].ts.length);
      while (dec.next()) sink += dec.v;
    }
  });
  const bytes = streams.reduce((a, s) => a + s.length + BLOCK_HEADER_SIZE, 0);
  return { dataset: d.name, codec: 'gorilla v1', bytesPerPoint: bytes / points, encodeMpts: points / encS / 1e6, decodeMpts: points / decS / 1e6, encodings: '1' };
}

function blockRow(d: Dataset, points: number, cold: boolean, sealed = false): Row {
  const blocks: Buffer[] = [];
  const encS = best(() => {
    blocks.length = 0;
    for (const b of d.blocks) blocks.push(encodeBlock(b.ts, b.vs, { cold, sealed }));
  });
  const decS = best(() => {
    for (const b of blocks) sink += decodeBlock(b).ts.length;
  });
  const counts = new Map<number, number>();
  for (const b of blocks) counts.set(b[3], (counts.get(b[3]) ?? 0) + 1);
  const bytes = blocks.reduce((a, b) => a + b.length, 0);
  return {
    dataset: d.name,
    codec: `${cold ? 'cold' : 'hot'}${sealed ? ' sealed' : ''}`,
    bytesPerPoint: bytes / points,
    encodeMpts: points / encS / 1e6,
    decodeMpts: points / decS / 1e6,
    encodings: [...counts].sort((a, b) => a[0] - b[0]).map(([e, c]) => `${e}×${c}`).join(' '),
  };
}

export async function main(points = Number(process.argv[2] ?? 360_000)): Promise<Row[]> {
  const rows: Row[] = [];
  for (const d of datasets(points)) {
    const n = d.blocks.reduce((a, b) => a + b.ts.length, 0);
    rows.push(gorillaRow(d, n), blockRow(d, n, false), blockRow(d, n, true), blockRow(d, n, false, true), blockRow(d, n, true, true));
  }
  if (sink === 42) console.log(''); // keeps the decode loops observable
  const head = ['dataset', 'codec', 'B/pt', 'enc Mpt/s', 'dec Mpt/s', 'encodings (id×blocks)'];
  const cells = rows.map((r) => [r.dataset, r.codec, r.bytesPerPoint.toFixed(4), r.encodeMpts.toFixed(1), r.decodeMpts.toFixed(1), r.encodings]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => c.map((s, i) => (i < 2 || i === 5 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join('  ');
  console.log(`codec benchmark: ~${points} points per dataset, ${BLOCK_POINTS}-point blocks incl. the header (76 bytes hot, compact when sealed), best of ${ROUNDS}, node ${process.version}`);
  console.log(line(head));
  for (const c of cells) console.log(line(c));
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
