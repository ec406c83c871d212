/**
 * Codec micro-benchmark: throughput and size of the gorilla stream and of stored blocks on synthetic but
 * realistic series. Run: `npx tsc -p tsconfig.json && node dist/bench/codec.js [points]`.
 */

import { pathToFileURL } from 'node:url';
import { decodeBlock, encodeBlock } from '../src/codec/block.js';
import { GorillaDecoder, GorillaEncoder } from '../src/codec/gorilla.js';

const BLOCK_POINTS = 720; // two hours of 10 s scrapes
const ROUNDS = 5;

interface Dataset {
  name: string;
  ts: Float64Array;
  vs: Float64Array;
}

function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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
    { name: 'gauge 2dp, 10s±jitter', ts: scrape(), vs: gauge },
    { name: 'temp 1dp, 10s±jitter', ts: scrape(), vs: temp },
    { name: 'counter, 10s±jitter', ts: scrape(), vs: counter },
    { name: 'constant, 10s exact', ts: regular, vs: new Float64Array(n).fill(1) },
    { name: 'random f64, 10s±jitter', ts: scrape(), vs: random },
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

interface Row {
  name: string;
  streamBpp: number;
  encMps: number;
  decMps: number;
  blockBpp: number;
  blockEncMps: number;
  blockDecMps: number;
}

function measure(d: Dataset, enc: GorillaEncoder): Row {
  const n = d.ts.length;
  const { ts, vs } = d;
  const encS = best(() => {
    enc.reset();
    for (let i = 0; i < n; i++) enc.append(ts[i], vs[i]);
  });
  const stream = enc.view();
  let sink = 0;
  const decS = best(() => {
    const dec = new GorillaDecoder(stream, n);
    while (dec.next()) sink += dec.v;
  });
  const blocks: Buffer[] = [];
  const blockEncS = best(() => {
    blocks.length = 0;
    for (let i = 0; i < n; i += BLOCK_POINTS) {
      blocks.push(encodeBlock(ts.subarray(i, i + BLOCK_POINTS), vs.subarray(i, i + BLOCK_POINTS)));
    }
  });
  const blockDecS = best(() => {
    for (const b of blocks) sink += decodeBlock(b).ts.length;
  });
  if (sink === 42) console.log(''); // keeps the decode loops observable
  const blockBytes = blocks.reduce((a, b) => a + b.length, 0);
  return {
    name: d.name,
    streamBpp: stream.length / n,
    encMps: n / encS / 1e6,
    decMps: n / decS / 1e6,
    blockBpp: blockBytes / n,
    blockEncMps: n / blockEncS / 1e6,
    blockDecMps: n / blockDecS / 1e6,
  };
}

export async function main(points = Number(process.argv[2] ?? 1_000_000)): Promise<Row[]> {
  const enc = new GorillaEncoder(1 << 20);
  const rows = datasets(points).map((d) => measure(d, enc));
  const head = ['dataset', 'B/pt', 'enc Mpt/s', 'dec Mpt/s', 'blk B/pt', 'blk enc Mpt/s', 'blk dec Mpt/s'];
  const cells = rows.map((r) => [
    r.name,
    r.streamBpp.toFixed(3),
    r.encMps.toFixed(1),
    r.decMps.toFixed(1),
    r.blockBpp.toFixed(3),
    r.blockEncMps.toFixed(1),
    r.blockDecMps.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => c.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join('  ');
  console.log(`codec benchmark: ${points} points per dataset, ${BLOCK_POINTS}-point blocks, best of ${ROUNDS}, node ${process.version}`);
  console.log(line(head));
  for (const c of cells) console.log(line(c));
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
