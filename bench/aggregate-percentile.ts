/**
 * Percentile micro-benchmark: the aggregation engine's exact path (quickselect, exactPercentileMax = Infinity) vs its
 * sketch path (DDSketch, alpha 0.01, exactPercentileMax = 0) on windows of 1M values, plus the sketch's own
 * operations (add, merge, encode, decode). Run: `npx tsc -p tsconfig.json && node dist/bench/aggregate-percentile.js
 * [valuesPerWindow]`.
 */

import { pathToFileURL } from 'node:url';
import { aggregate, DEFAULT_AGGREGATE_LIMITS, type AggFn, type AggregateLimits } from '../src/query/aggregate/index.js';
import { DDSketch } from '../src/query/aggregate/sketch.js';
import type { SeriesPoints } from '../src/query/query-service.js';

const ROUNDS = 7;

function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Dataset {
  name: string;
  values: number[];
}

function datasets(n: number): Dataset[] {
  const rnd = mulberry32(0x9e7c);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const make = (f: () => number): number[] => Array.from({ length: n }, f);
  return [
    { name: 'lognormal latency', values: make(() => Math.round(Math.exp(gauss() * 0.8 + 3) * 1000) / 1000) },
    { name: 'uniform 0..100', values: make(() => rnd() * 100) },
    { name: 'bimodal hit/miss', values: make(() => (rnd() < 0.9 ? 0.2 + rnd() * 0.3 : 80 + rnd() * 40)) },
    { name: 'signed with zeros', values: make(() => (rnd() < 0.1 ? 0 : (rnd() < 0.5 ? -1 : 1) * Math.exp(gauss() * 3))) },
  ];
}

/** `members` series holding the dataset round robin (each its own ascending timestamps), one window. */
function seriesOf(values: number[], members: number): SeriesPoints[] {
  const out: SeriesPoints[] = [];
  for (let j = 0; j < members; j++) {
    const ts: number[] = [];
    const vs: number[] = [];
    for (let i = j; i < values.length; i += members) {
      ts.push(i);
      vs.push(values[i]!);
    }
    const tags = { host: `h${j}`, dc: 'eu' };
    out.push({ series: { partition: 0, id: j, metric: 'latency', tags, key: `latency{dc="eu",host="h${j}"}` }, points: { ts, vs } });
  }
  return out;
}

function best(f: () => void): number {
  let b = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    f();
    b = Math.min(b, performance.now() - t);
  }
  return b;
}

export interface Row {
  dataset: string;
  shape: string;
  fn: AggFn;
  exactMs: number;
  sketchMs: number;
  exactValue: number;
  sketchValue: number;
  relErr: number;
}

export interface SketchRow {
  dataset: string;
  addNsPerValue: number;
  buckets: number;
  bytes: number;
  encodeUs: number;
  decodeUs: number;
  merge100Ms: number;
}

export async function main(n = Number(process.argv[2] ?? 1_000_000)): Promise<{ rows: Row[]; sketchRows: SketchRow[] }> {
  const exact: AggregateLimits = { ...DEFAULT_AGGREGATE_LIMITS, exactPercentileMax: Infinity };
  const sketched: AggregateLimits = { ...DEFAULT_AGGREGATE_LIMITS, exactPercentileMax: 0 };
  const rows: Row[] = [];
  const sketchRows: SketchRow[] = [];
  for (const d of datasets(n)) {
    for (const [shape, members, by] of [
      ['1 series', 1, undefined],
      ['10 series, by dc', 10, ['dc']],
    ] as const) {
      const input = seriesOf(d.values, members);
      for (const fn of ['p50', 'p99'] as const) {
        const q = { fn, start: 0, end: n, ...(by ? { by: [...by] } : {}) };
        let ev = 0;
        let sv = 0;
        const exactMs = best(() => {
          ev = aggregate(input, q, exact)[0]!.points[0]![1]!;
        });
        const sketchMs = best(() => {
          sv = aggregate(input, q, sketched)[0]!.points[0]![1]!;
        });
        rows.push({ dataset: d.name, shape, fn, exactMs, sketchMs, exactValue: ev, sketchValue: sv, relErr: ev === 0 ? Math.abs(sv) : Math.abs(sv - ev) / Math.abs(ev) });
      }
    }
    // the sketch alone
    const s = new DDSketch();
    const addMs = best(() => {
      s.clear();
      s.addRange(d.values, 0, d.values.length);
    });
    let bytes = s.encode();
    const encodeUs = best(() => {
      for (let i = 0; i < 100; i++) bytes = s.encode();
    }) * 10;
    const decodeUs = best(() => {
      for (let i = 0; i < 100; i++) DDSketch.decode(bytes);
    }) * 10;
    const parts = Array.from({ length: 100 }, (_, p) => {
      const part = new DDSketch();
      part.addRange(d.values, Math.floor((p * n) / 100), Math.floor(((p + 1) * n) / 100));
      return part;
    });
    const merge100Ms = best(() => {
      const m = new DDSketch();
      for (const p of parts) m.merge(p);
    });
    const b = s.buckets();
    sketchRows.push({ dataset: d.name, addNsPerValue: (addMs * 1e6) / n, buckets: b.positive.length + b.negative.length, bytes: bytes.length, encodeUs, decodeUs, merge100Ms });
  }

  const table = (head: string[], cells: string[][], textColumns: number): void => {
    const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
    const line = (c: string[]): string => c.map((x, i) => (i < textColumns ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
    console.log(line(head));
    for (const c of cells) console.log(line(c));
  };
  console.log(`aggregate percentile benchmark: ${n} values per window, one window per query, best of ${ROUNDS}, node ${process.version}`);
  table(
    ['dataset', 'shape', 'fn', 'exact ms', 'sketch ms', 'exact ns/v', 'sketch ns/v', 'rel. error'],
    rows.map((r) => [
      r.dataset,
      r.shape,
      r.fn,
      r.exactMs.toFixed(1),
      r.sketchMs.toFixed(1),
      ((r.exactMs * 1e6) / n).toFixed(1),
      ((r.sketchMs * 1e6) / n).toFixed(1),
      r.relErr.toExponential(2),
    ]),
    3,
  );
  console.log('');
  console.log('DDSketch alone (alpha 0.01): addRange of the whole window, encode/decode of its sketch, merge of 100 part sketches');
  table(
    ['dataset', 'add ns/v', 'buckets', 'bytes', 'encode µs', 'decode µs', 'merge 100 ms'],
    sketchRows.map((r) => [r.dataset, r.addNsPerValue.toFixed(1), String(r.buckets), String(r.bytes), r.encodeUs.toFixed(1), r.decodeUs.toFixed(1), r.merge100Ms.toFixed(2)]),
    1,
  );
  return { rows, sketchRows };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
