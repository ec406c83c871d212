/**
 * Differential suite through the whole engine (issue 5, "Done when"): random series, random out-of-order points with
 * duplicate (series, timestamp) pairs, written over HTTP (app.inject) → ingest → log → materializer (head, forced
 * flushes to blocks of a small block window, clean restarts and crash-like restarts that replay the log) → query.
 * Every answer of /api/v1/query (raw and every fn × step × by × fill × matcher kind), /api/v1/series, /api/v1/last,
 * /api/v1/tags and /api/v1/tags/:key/values is compared with a small model kept by the test:
 *   - the data: Map(series key → Map(t → last value written)) — API.md "Duplicates: the last one written wins";
 *   - selectors: Prometheus semantics (absent tag = "", regexes fully anchored), evaluated naively per series;
 *   - aggregates: test/helpers/reference-aggregate.ts (written from API.md + docs/query-semantics.md), fed the
 *     model's points.
 * Aggregates run the serving path: partial aggregates per partition, merged, finalized (docs/query-semantics.md
 * "Partial aggregates"), with whole blocks answered from their headers where nothing overlaps them ("Block
 * summaries"): some series are written in order (timeMode 5) so their flushed blocks stand alone, and rewrites of
 * earlier points make others overlap; the run asserts that headers were used.
 * Comparisons are exact except where summation order may differ (sum avg stddev rate increase, fill=linear:
 * 1e-9 relative) and sketched percentiles (windows over 10,000 values: within α = 0.01·|v|, docs/query-semantics.md
 * rule 19; one scenario per run is big enough to take that path over HTTP).
 *
 * Seeded: prints `seed N`; TEST_SEED=N reproduces the run, QDIFF_ONLY=i runs only scenario i of that run (same data,
 * same queries). QDIFF_SCENARIOS, QDIFF_QUERIES (per round) and QDIFF_SKETCH=0 size the run. Data and queries
 * depend only on the seed;
 * the flushes run concurrently with queries may interleave differently from run to run. On a mismatch the
 * scenario's whole history (writes, flushes, restarts) and the failing request are written to a JSON file named in
 * the failure message.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode, type V3Node } from '../../src/cli/node.js';
import { defaultServeConfig, type ServeConfig } from '../../src/common/config.js';
import { silentLogger } from '../../src/common/logger.js';
import { canonicalSeriesKey } from '../../src/common/series-key.js';
import { decodeWriteToken } from '../../src/codec/write-token.js';
import type { AggFn, AggregatedSeries, FillPolicy } from '../../src/query/aggregate/index.js';
import type { SeriesPoints } from '../../src/query/query-service.js';
import { referenceAggregateWithBounds } from '../helpers/reference-aggregate.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { tempDir } from '../helpers/temp-dir.js';

// Straight from API.md / docs/query-semantics.md, not from the engine's constants.
const FNS: readonly AggFn[] = ['count', 'sum', 'min', 'max', 'avg', 'first', 'last', 'stddev', 'p50', 'p90', 'p95', 'p99', 'rate', 'increase'];
const FILLS: readonly FillPolicy[] = ['none', 'null', 'previous', 'zero', 'linear'];
const PCTS: readonly AggFn[] = ['p50', 'p90', 'p95', 'p99'];
/** docs/query-semantics.md rule 19: exact up to 10,000 values per (group, window), else a sketch with α = 0.01. */
const EXACT_PERCENTILE_MAX = 10_000;
const SKETCH_ALPHA = 0.01;
/** Sums whose order may differ between engine and reference (rule 34). */
const INEXACT: ReadonlySet<AggFn> = new Set<AggFn>(['sum', 'avg', 'stddev', 'rate', 'increase']);

const SCENARIOS = Number(process.env.QDIFF_SCENARIOS ?? 14);
const QUERIES_PER_ROUND = Number(process.env.QDIFF_QUERIES ?? 250);
const SKETCH_SCENARIO = process.env.QDIFF_SKETCH !== '0';
const ONLY = process.env.QDIFF_ONLY !== undefined ? Number(process.env.QDIFF_ONLY) : undefined;

// ---------------------------------------------------------------------------------------------------------------
// randomness

interface Rng {
  seed: number;
  next(): number;
  int(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
}

/** mulberry32 with an explicit seed (scenario seeds derive from the run's seed, so one scenario can run alone). */
function rngOf(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  return { seed, next, int, chance: (p) => next() < p, pick: (xs) => xs[int(0, xs.length - 1)]! };
}

// ---------------------------------------------------------------------------------------------------------------
// the model

interface SeriesDef {
  metric: string;
  tags: Record<string, string>;
  key: string;
  timeMode: number;
  valueMode: number;
  center: number;
  width: number;
  grid: number;
  resetPeriod: number;
  k: number;
  /** timeMode 5: the next timestamp (in order, so flushed blocks stand alone and are answered from headers). */
  cursor: number;
}

type Event =
  | { kind: 'write'; points: Array<[string, number, number]> }
  | { kind: 'flush' }
  | { kind: 'restart'; crash: boolean }
  | { kind: 'queries'; round: number };

class Model {
  readonly data = new Map<string, Map<number, number>>();
  readonly series = new Map<string, SeriesDef>();
  /** Every (key, t) ever written, for picking duplicates. */
  readonly written: Array<[string, number]> = [];

  write(s: SeriesDef, t: number, v: number): void {
    this.series.set(s.key, s);
    let m = this.data.get(s.key);
    if (!m) this.data.set(s.key, (m = new Map()));
    if (!m.has(t)) this.written.push([s.key, t]);
    m.set(t, v); // the last write wins
  }

  /** Matching series, sorted by key (code units). */
  select(matchers: RefMatcher[]): SeriesDef[] {
    return [...this.series.values()].filter((s) => matchers.every((m) => refMatch(m, s))).sort((a, b) => cmp(a.key, b.key));
  }

  /** Points of one series in [start, end), ascending. */
  points(key: string, start: number, end: number): { ts: number[]; vs: number[] } {
    const ts = [...this.data.get(key)!.keys()].filter((t) => t >= start && t < end).sort((a, b) => a - b);
    return { ts, vs: ts.map((t) => this.data.get(key)!.get(t)!) };
  }

  hasPoint(key: string, start: number, end: number): boolean {
    for (const t of this.data.get(key)!.keys()) if (t >= start && t < end) return true;
    return false;
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

interface RefMatcher {
  name: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

/** Prometheus semantics: an absent tag is "", regexes match the whole value. */
function refMatch(m: RefMatcher, s: { metric: string; tags: Record<string, string> }): boolean {
  const v = m.name === '__name__' ? s.metric : Object.hasOwn(s.tags, m.name) ? s.tags[m.name]! : '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return new RegExp(`^(?:${m.value})$`, 'u').test(v);
    case '!~':
      return !new RegExp(`^(?:${m.value})$`, 'u').test(v);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// vocabularies

const METRICS = ['cpu', 'cpu', 'cpu', 'cpu_x', 'mem', 'disk.io', 'net:rx'];
const TAGS: Record<string, string[]> = { host: ['a', 'b', 'c', 'a.b', 'ab'], dc: ['eu', 'us', 'eu-2'], env: ['prod', 'dev'], note: ['q"u\\o', 'x y'] };
const TAG_P: Record<string, number> = { host: 0.75, dc: 0.6, env: 0.4, note: 0.12 };
const NAME_RES = ['cpu', 'cpu.*', 'cpu|mem', '.*x', 'disk\\.io', 'disk.io', 'net:.*', '.*', 'c.u', 'CPU'];
const TAG_RES = ['.*', '.+', '', 'a|b', '[ab]', 'a.*', '.*b', 'a\\.b', 'e.', 'eu|us', 'eu.*', '(?:prod)?', 'p.*d', 'x y|dev', 'q.*', 'A', '[^a]*'];
const BYS: Array<string[] | undefined> = [undefined, undefined, ['host'], ['dc'], ['host', 'dc'], ['dc', 'host'], ['zone'], ['host', 'zone'], ['__name__'], ['env', '__name__'], ['note']];

/** A selector string literal, double- or single-quoted, with the escapes the grammar knows. */
function quote(s: string, single: boolean): string {
  const q = single ? "'" : '"';
  return q + s.replace(/\\/g, '\\\\').replace(single ? /'/g : /"/g, '\\' + q).replace(/\n/g, '\\n') + q;
}

/** A selector; `known` (series written so far) makes `=` matchers name existing values often, so answers are not mostly empty. */
function genSelector(r: Rng, known: ReadonlyArray<{ metric: string; tags: Record<string, string> }>): { text: string; matchers: RefMatcher[] } {
  const like = known.length > 0 && r.chance(0.6) ? r.pick(known) : undefined;
  const matchers: RefMatcher[] = [];
  const parts: string[] = [];
  const sp = (): string => (r.chance(0.15) ? ' ' : '');
  const kind = r.next();
  let metric = '';
  if (kind < 0.45) {
    metric = like?.metric ?? r.pick(METRICS);
    matchers.push({ name: '__name__', op: '=', value: metric });
  } else if (kind < 0.65) {
    const op = r.pick(['=', '!=', '=~', '!~'] as const);
    const value = op === '=' || op === '!=' ? r.pick([...METRICS, 'nope']) : r.pick(NAME_RES);
    matchers.push({ name: '__name__', op, value });
    parts.push(`__name__${sp()}${op}${sp()}${quote(value, r.chance(0.2))}`);
  }
  const n = Math.max(matchers.length === 0 ? 1 : 0, r.pick([0, 0, 1, 1, 1, 2, 2, 3]));
  for (let i = 0; i < n; i++) {
    const key = r.pick(['host', 'host', 'dc', 'dc', 'env', 'note', 'zone']);
    const op = r.pick(['=', '=', '!=', '=~', '!~'] as const);
    const vocab = TAGS[key] ?? ['z1'];
    const value =
      op === '=' && like && r.chance(0.7)
        ? (like.tags[key] ?? '')
        : op === '=' || op === '!='
          ? r.pick([...vocab, ...vocab, '', 'zz'])
          : r.pick([...TAG_RES, ...vocab.filter((v) => !/[\\"]/.test(v))]);
    matchers.push({ name: key, op, value });
    parts.push(`${key}${sp()}${op}${sp()}${quote(value, r.chance(0.2))}`);
  }
  const braces = parts.length > 0 || (metric !== '' && r.chance(0.1)) ? `{${sp()}${parts.join(`${sp()},${sp()}`)}${sp()}}` : '';
  return { text: `${sp()}${metric}${braces}${sp()}`, matchers };
}

/** Selectors of the big scenario (metric `lat`, tag host = a, b, c): all of them match something. */
function genBigSelector(r: Rng): { text: string; matchers: RefMatcher[] } {
  return r.pick([
    { text: 'lat', matchers: [{ name: '__name__', op: '=', value: 'lat' }] },
    { text: 'lat{host="a"}', matchers: [{ name: '__name__', op: '=', value: 'lat' }, { name: 'host', op: '=', value: 'a' }] },
    { text: 'lat{host!="a"}', matchers: [{ name: '__name__', op: '=', value: 'lat' }, { name: 'host', op: '!=', value: 'a' }] },
    { text: '{__name__=~"la.*"}', matchers: [{ name: '__name__', op: '=~', value: 'la.*' }] },
    { text: '{host=~"a|b"}', matchers: [{ name: 'host', op: '=~', value: 'a|b' }] },
    { text: 'lat{dc!~".+"}', matchers: [{ name: '__name__', op: '=', value: 'lat' }, { name: 'dc', op: '!~', value: '.+' }] },
  ] satisfies Array<{ text: string; matchers: RefMatcher[] }>);
}

// ---------------------------------------------------------------------------------------------------------------
// answers and their comparison

interface WireSeries {
  metric: string;
  tags: Record<string, string>;
  points: Array<[number, number | null]>;
}

const tagsText = (tags: Record<string, string>): string => JSON.stringify(Object.entries(tags).sort((a, b) => cmp(a[0], b[0])));

/** Undefined when equal; else why not. Numbers exact (=== : 0 equals -0) unless `tolerant` or a bound is given. */
function diffSeries(actual: WireSeries[], expected: Array<{ metric: string; tags: Record<string, string>; points: Array<[number, number | null]>; bounds?: number[] }>, tolerant: boolean): string | undefined {
  if (!Array.isArray(actual)) return 'answer has no series array';
  if (actual.length !== expected.length) return `series count ${actual.length} != expected ${expected.length}`;
  for (let s = 0; s < expected.length; s++) {
    const a = actual[s]!;
    const e = expected[s]!;
    if (a.metric !== e.metric) return `series ${s}: metric ${JSON.stringify(a.metric)} != ${JSON.stringify(e.metric)}`;
    if (tagsText(a.tags) !== tagsText(e.tags)) return `series ${s} (${e.metric}): tags ${tagsText(a.tags)} != ${tagsText(e.tags)}`;
    if (a.points.length !== e.points.length) return `series ${s} (${e.metric}${tagsText(e.tags)}): ${a.points.length} points != expected ${e.points.length}`;
    for (let i = 0; i < e.points.length; i++) {
      const [at, av] = a.points[i]!;
      const [et, ev] = e.points[i]!;
      const where = `series ${s} (${e.metric}${tagsText(e.tags)}) point ${i}`;
      if (at !== et) return `${where}: timestamp ${at} != ${et}`;
      if (av === null || ev === null) {
        if (av !== ev) return `${where} @${et}: value ${av} != ${ev}`;
        continue;
      }
      const bound = e.bounds?.[i] ?? 0;
      const slack = tolerant ? 1e-9 * Math.max(1, Math.abs(av), Math.abs(ev)) : 0;
      const ok = bound > 0 || tolerant ? Math.abs(av - ev) <= bound + slack : av === ev;
      if (!ok) return `${where} @${et}: value ${av} != expected ${ev}${bound > 0 ? ` (allowed error ${bound}: sketched percentile)` : ''}`;
    }
  }
  return undefined;
}

function diffList(actual: unknown, expected: unknown): string | undefined {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  return a === e ? undefined : `got ${clip(a)}\nexpected ${clip(e)}`;
}

const clip = (s: string, n = 1500): string => (s.length > n ? s.slice(0, n) + `… (${s.length} chars)` : s);

// ---------------------------------------------------------------------------------------------------------------
// requests

interface Stats {
  scenarios: number;
  raw: number;
  agg: number;
  repeated: number;
  series: number;
  last: number;
  tags: number;
  values: number;
  pointsWritten: number;
  duplicates: number;
  writes: number;
  flushes: number;
  concurrentFlushes: number;
  restarts: number;
  crashes: number;
  sketchedWindows: number;
  nonEmpty: number;
  cacheHits: number;
  headerBlocks: number;
  decodedBlocks: number;
  pairs: Set<string>;
}

interface Request {
  kind: 'raw' | 'agg' | 'series' | 'last' | 'tags' | 'values';
  method: 'GET' | 'POST';
  url: string;
  /** The fields, for POST and for the failure report. */
  fields: Record<string, string | number>;
  /** Computes the expected answer from the model at the time of asking. */
  check(body: { series?: WireSeries[]; partial?: boolean; values?: string[]; tags?: string[] }, model: Model): string | undefined;
  fn?: AggFn;
  fill?: FillPolicy;
}

function urlOf(path: string, fields: Record<string, string | number>): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) qs.set(k, String(v));
  return `${path}?${qs}`;
}

// ---------------------------------------------------------------------------------------------------------------
// one scenario

interface ScenarioShape {
  big: boolean;
  partitions: number;
  blockWindow: number;
  windows: number;
  base: number;
  nSeries: number;
  rounds: number;
}

function shapeOf(r: Rng, big: boolean): ScenarioShape {
  const blockWindow = big ? 60_000 : r.pick([60_000, 60_000, 120_000, 300_000]);
  return {
    big,
    partitions: r.int(1, 3),
    blockWindow,
    windows: big ? r.int(3, 5) : r.int(3, 10),
    // unaligned to anything: seconds, minutes and block windows all fall inside the data
    base: 1_700_000_000_000 + r.int(0, 86_400_000),
    nSeries: big ? r.int(2, 3) : r.int(3, 24),
    rounds: big ? 2 : r.int(3, 5),
  };
}

class StopScenario extends Error {}

async function runScenario(idx: number, seed: number, stats: Stats): Promise<void> {
  const r = rngOf(seed);
  const shape = shapeOf(r, SKETCH_SCENARIO && idx === SCENARIOS);
  const { blockWindow, base, big } = shape;
  const span = shape.windows * blockWindow;
  const firstWindow = Math.floor(base / blockWindow) * blockWindow;
  const tmp = tempDir('qdiff');
  const config: ServeConfig = defaultServeConfig({ dataDir: tmp.dir, port: 0, partitions: shape.partitions, blockWindow, flushInterval: 3_600_000 });
  const model = new Model();
  const events: Event[] = [];
  const offsets: Record<number, number> = {};
  const failures: string[] = [];
  let node: V3Node = await createNode({ config, logger: silentLogger() });
  const tag = `scenario ${idx} (seed ${seed}, ${JSON.stringify(shape)})`;
  console.log(`# ${tag}`);

  const token = (): string | undefined => {
    const parts = Object.entries(offsets).map(([p, o]) => `${p}-${o}`);
    return parts.length > 0 ? `w1.${parts.join('.')}` : undefined;
  };

  // ---- series
  const defs: SeriesDef[] = [];
  const keys = new Set<string>();
  for (let i = 0; i < shape.nSeries * 3 && defs.length < shape.nSeries; i++) {
    const metric = big ? 'lat' : r.pick(METRICS);
    const tags: Record<string, string> = {};
    if (big) tags.host = String.fromCharCode(97 + defs.length);
    else for (const [k, vals] of Object.entries(TAGS)) if (r.chance(TAG_P[k]!)) tags[k] = r.pick(vals);
    const key = canonicalSeriesKey(metric, tags);
    if (keys.has(key)) continue;
    keys.add(key);
    defs.push({
      metric,
      tags,
      key,
      timeMode: big ? (defs.length === 0 ? 0 : r.pick([0, 1])) : r.pick([0, 1, 2, 3, 4, 5, 5]), // big: series 0 needs > 10,000 distinct timestamps
      valueMode: big ? r.pick([1, 4, 6]) : r.int(0, 7),
      center: base + r.int(0, span - 1),
      width: r.int(200, 40_000),
      grid: r.pick([1000, 5000, 10_000, 15_000]),
      resetPeriod: r.int(30, 400),
      k: r.pick([1, 2, 0.5, 3]),
      cursor: base + r.int(0, 5000),
    });
  }
  // (big: one series gets most points, so it alone has windows over 10,000 values — the single-series sketch path;
  // groups of all series take the multi-series one)
  const weights = defs.map((_, i) => (big ? (i === 0 ? 6 : 1) : r.pick([1, 1, 2, 5])));
  const totalW = weights.reduce((a, b) => a + b, 0);
  const pickSeries = (): SeriesDef => {
    let x = r.next() * totalW;
    for (let i = 0; i < defs.length; i++) if ((x -= weights[i]!) < 0) return defs[i]!;
    return defs[defs.length - 1]!;
  };
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
  const genTime = (s: SeriesDef): number => {
    switch (s.timeMode) {
      case 0: // anywhere in the data span
        return base + r.int(0, span - 1);
      case 1: // a dense cluster
        return Math.max(0, s.center + r.int(-s.width, s.width));
      case 2: // a grid shared by series with the same grid: equal timestamps across series
        return Math.floor(base / s.grid) * s.grid + s.grid * r.int(1, Math.floor(span / s.grid));
      case 3: // right at a block window boundary (±3 ms), so blocks split and merge there
        return firstWindow + blockWindow * r.int(1, shape.windows) + r.int(-3, 3);
      case 4: // few distinct timestamps
        return base + 997 * r.int(0, 7);
      default: // in order: blocks that overlap nothing (answered from their headers unless rewritten later)
        return (s.cursor += r.int(1, Math.max(1, Math.floor(span / 150))));
    }
  };
  const genValue = (s: SeriesDef, t: number): number => {
    let v: number;
    switch (s.valueMode) {
      case 0:
        v = r.int(-5, 5);
        break;
      case 1:
        v = (r.next() - 0.5) * 2000;
        break;
      case 2:
        v = r.int(-3, 3) * 0.25;
        break;
      case 3: // a counter with resets, as a function of time (so out-of-order writes still look like a counter)
        v = (Math.floor((t - base) / 1000) % s.resetPeriod) * s.k;
        break;
      case 4:
        v = Math.exp(gauss() * 2 + 2);
        break;
      case 5:
        v = 7;
        break;
      case 6:
        v = (r.chance(0.5) ? -1 : 1) * 10 ** (r.next() * 30 - 15);
        break;
      default:
        v = r.chance(0.2) ? 0 : (r.chance(0.5) ? -1 : 1) * Math.exp(gauss() * 4);
    }
    return v + 0; // never -0 (JSON would turn it into 0 anyway)
  };

  // ---- node operations
  const inject = async (req: { method: 'GET' | 'POST'; url: string; payload?: Record<string, unknown> }): Promise<{ statusCode: number; body: string }> => {
    const res = await node.app.inject(req.payload === undefined ? { method: req.method, url: req.url } : { method: req.method, url: req.url, payload: req.payload });
    return { statusCode: res.statusCode, body: res.body };
  };

  const waitApplied = async (): Promise<void> => {
    // Deterministic flush contents: everything written so far is applied before a flush or a restart.
    if (Object.keys(offsets).length > 0) await node.materializer!.waitForOffsets(offsets, 10_000);
  };

  const write = async (points: Array<[SeriesDef, number, number]>): Promise<void> => {
    const payload = {
      points: points.map(([s, t, v]) => {
        // tag order in the JSON does not matter (canonical keys sort them)
        const entries = Object.entries(s.tags);
        if (r.chance(0.3)) entries.reverse();
        return { metric: s.metric, tags: Object.fromEntries(entries), timestamp: r.chance(0.05) ? new Date(t).toISOString() : t, value: v };
      }),
    };
    const res = await inject({ method: 'POST', url: '/api/v1/write', payload });
    assert.equal(res.statusCode, 200, `${tag}: write failed: ${res.body}`);
    const body = JSON.parse(res.body) as { accepted: number; token: string };
    assert.equal(body.accepted, points.length);
    for (const [p, o] of Object.entries(decodeWriteToken(body.token))) offsets[Number(p)] = Math.max(offsets[Number(p)] ?? -1, o);
    for (const [s, t, v] of points) model.write(s, t, v);
    events.push({ kind: 'write', points: points.map(([s, t, v]) => [s.key, t, v]) });
    stats.writes++;
    stats.pointsWritten += points.length;
  };

  const flush = async (): Promise<void> => {
    await waitApplied();
    await node.materializer!.flushAll('test');
    events.push({ kind: 'flush' });
    stats.flushes++;
  };

  const countMetrics = async (): Promise<void> => {
    for (const v of (await node.metrics.queryCacheRequests.get()).values) if (v.labels.result === 'hit') stats.cacheHits += v.value;
    for (const v of (await node.metrics.queryBlocks.get()).values) {
      if (v.labels.source === 'header') stats.headerBlocks += v.value;
      else stats.decodedBlocks += v.value;
    }
  };

  const restart = async (crash: boolean): Promise<void> => {
    await waitApplied();
    await countMetrics();
    if (crash) {
      // Crash-like: the store goes away first, so the shutdown flush fails and the head is lost; the new node
      // rebuilds it by replaying the log from the offset of the last flush.
      await node.store!.close();
    }
    await node.close();
    node = await createNode({ config, logger: silentLogger() });
    events.push({ kind: 'restart', crash });
    stats.restarts++;
    if (crash) stats.crashes++;
  };

  // ---- queries
  const genRange = (): { start: number; end: number } => {
    const lo = firstWindow - blockWindow;
    const hi = firstWindow + (shape.windows + 2) * blockWindow;
    const boundary = (): number => firstWindow + blockWindow * r.int(0, shape.windows + 1) + r.pick([-1, 0, 0, 1, r.int(-999, 999)]);
    for (;;) {
      let start: number;
      let end: number;
      const k = big ? r.pick([0, 0, 0, 1]) : r.pick([0, 0, 1, 1, 2, 2, 3, 4, 4, 5]);
      if (k === 0) {
        start = lo + r.int(0, blockWindow);
        end = hi - r.int(0, blockWindow);
      } else if (k === 1) {
        start = r.int(lo, hi);
        end = r.int(lo, hi);
      } else if (k === 2) {
        start = boundary();
        end = boundary();
      } else if (k === 3) {
        start = base + r.int(-5000, span);
        end = start + r.int(1, 3000);
      } else if (k === 4) {
        start = r.chance(0.5) ? boundary() : r.int(lo, hi);
        end = start + r.int(1, span);
      } else {
        // outside every point
        start = r.chance(0.5) ? lo - r.int(10, 1e6) : hi + r.int(0, 1e6);
        end = start + r.int(1, 2 * blockWindow);
      }
      if (start > end) [start, end] = [end, start];
      if (end > start) return { start, end };
    }
  };

  const genStep = (start: number, end: number): { step: number | undefined; text: string | number | undefined } => {
    const range = end - start;
    const kind = big ? r.pick([0, 0, 5]) : r.int(0, 6);
    let step: number | undefined;
    let text: string | number | undefined;
    if (kind === 0) return { step: undefined, text: undefined };
    if (kind === 1) step = Math.max(1, Math.ceil(range / r.int(2, 300))); // many windows
    else if (kind === 2) step = blockWindow; // windows = block windows
    else if (kind === 3) step = r.int(1, 120_000); // arbitrary
    else if (kind === 4) {
      const [ms, s] = r.pick([
        [1000, '1s'],
        [10_000, '10s'],
        [1500, '1.5s'],
        [60_000, '1m'],
        [120_000, '2m'],
        [3_600_000, '1h'],
        [250, '250ms'],
      ] as Array<[number, string]>);
      step = ms;
      text = s;
    } else if (kind === 5) step = Math.max(1, Math.floor(range / r.int(1, 3)) + r.int(-2, 2)); // about the range: 1–4 windows
    else step = r.int(range, 10 * range + 1000); // larger than the range
    // keep the reference (windows × points) cheap
    const windows = (s: number): number => Math.floor((end - 1) / s) - Math.floor(start / s) + 1;
    if (windows(step) > 400) {
      step = Math.ceil(range / 300);
      text = undefined;
    }
    return { step, text: text ?? (r.chance(0.5) ? step : String(step)) };
  };

  let aggCounter = r.int(0, FNS.length * FILLS.length - 1);

  const genQuery = (): Request => {
    const sel = big ? genBigSelector(r) : genSelector(r, defs.filter((d) => model.series.has(d.key)));
    const { start, end } = genRange();
    const timeField = (t: number): string | number => (r.chance(0.05) ? new Date(t).toISOString() : r.chance(0.5) ? t : String(t));
    const fields: Record<string, string | number> = { selector: sel.text, start: timeField(start), end: timeField(end) };
    const method = r.chance(0.2) ? 'POST' : 'GET';
    const limit = r.chance(0.1) ? r.int(1, 4) : undefined;
    if (!big && r.chance(0.22)) {
      // raw points
      if (limit !== undefined) fields.limit = limit;
      return {
        kind: 'raw',
        method,
        url: '/api/v1/query',
        fields,
        check(body, m) {
          let expected = m
            .select(sel.matchers)
            .map((s) => ({ s, p: m.points(s.key, start, end) }))
            .filter(({ p }) => p.ts.length > 0)
            .map(({ s, p }) => ({ metric: s.metric, tags: s.tags, points: p.ts.map((t, i) => [t, p.vs[i]!] as [number, number]) }));
          if (expected.length > 0) stats.nonEmpty++;
          // API.md: `limit` = "max series returned": the first `limit` series that have points in range.
          return diffSeries(body.series!, limit === undefined ? expected : expected.slice(0, limit), false);
        },
      };
    }
    let fn: AggFn;
    let fill: FillPolicy;
    if (big) {
      // (not rate/increase: the reference builds per-series lists quadratically, too slow for 20,000 points)
      fn = r.chance(0.7) ? r.pick(PCTS) : r.pick(FNS.filter((f) => f !== 'rate' && f !== 'increase'));
      fill = r.pick(FILLS);
    } else {
      // every fn × fill pair in turn; step, by, selector and range at random
      fn = FNS[aggCounter % FNS.length]!;
      fill = FILLS[Math.floor(aggCounter / FNS.length) % FILLS.length]!;
      aggCounter++;
    }
    const { step, text: stepText } = genStep(start, end);
    const by = big ? r.pick([undefined, ['__name__'], ['zone'], ['__name__'], ['host']]) : r.pick(BYS);
    fields.fn = fn;
    if (fill !== 'none' || r.chance(0.5)) fields.fill = fill;
    if (stepText !== undefined) fields.step = stepText;
    if (by !== undefined) fields.by = r.chance(0.2) ? by.join(' , ') : by.join(',');
    if (limit !== undefined) fields.limit = limit;
    return {
      kind: 'agg',
      method,
      url: '/api/v1/query',
      fields,
      fn,
      fill,
      check(body, m) {
        const input: SeriesPoints[] = m
          .select(sel.matchers)
          .map((s, id) => ({ series: { partition: 0, id, metric: s.metric, tags: s.tags, key: s.key }, points: m.points(s.key, start, end) }))
          .filter((sp) => sp.points.ts.length > 0);
        const q = { fn, start, end, fill, ...(step !== undefined ? { step } : {}), ...(by !== undefined ? { by } : {}) };
        let expected = referenceAggregateWithBounds(input, q, { exactPercentileMax: EXACT_PERCENTILE_MAX, alpha: SKETCH_ALPHA });
        if (limit !== undefined) expected = expected.slice(0, limit);
        stats.sketchedWindows += expected.reduce((a, e) => a + e.sketchedWindows, 0);
        if (expected.length > 0) stats.nonEmpty++;
        return diffSeries(body.series!, expected, INEXACT.has(fn) || fill === 'linear');
      },
    };
  };

  const genMeta = (): Request => {
    const k = r.int(0, 3);
    const sel = genSelector(r, defs.filter((d) => model.series.has(d.key)));
    const { start, end } = genRange();
    const fields: Record<string, string | number> = {};
    // optional time filter: both bounds, one (open), or none
    const rk = r.int(0, 3);
    const lo = rk === 0 || rk === 1 ? start : Number.MIN_SAFE_INTEGER;
    const hi = rk === 0 || rk === 2 ? end : Number.MAX_SAFE_INTEGER;
    const ranged = rk !== 3;
    if (rk === 0 || rk === 1) fields.start = start;
    if (rk === 0 || rk === 2) fields.end = end;
    const inRange = (s: SeriesDef, m: Model): boolean => !ranged || m.hasPoint(s.key, lo, hi);
    if (k === 0) {
      fields.selector = sel.text;
      return {
        kind: 'series',
        method: 'GET',
        url: '/api/v1/series',
        fields,
        check: (body, m) => diffList(body.series, m.select(sel.matchers).filter((s) => inRange(s, m)).map((s) => ({ metric: s.metric, tags: s.tags })).map(normSeries)),
      };
    }
    if (k === 1) {
      return {
        kind: 'last',
        method: 'GET',
        url: '/api/v1/last',
        fields: { selector: sel.text },
        check(body, m) {
          const expected = m.select(sel.matchers).map((s) => {
            let t = -Infinity;
            for (const x of m.data.get(s.key)!.keys()) if (x > t) t = x;
            return { metric: s.metric, tags: s.tags, points: [[t, m.data.get(s.key)!.get(t)!]] as Array<[number, number]> };
          });
          return diffSeries(body.series!, expected, false);
        },
      };
    }
    const withSel = r.chance(0.7);
    if (withSel) fields.selector = sel.text;
    const chosen = (m: Model): SeriesDef[] => (withSel ? m.select(sel.matchers) : [...m.series.values()]).filter((s) => inRange(s, m));
    if (k === 2) {
      return {
        kind: 'tags',
        method: 'GET',
        url: '/api/v1/tags',
        fields,
        check: (body, m) => diffList(body.tags, [...new Set(chosen(m).flatMap((s) => Object.keys(s.tags)))].sort()),
      };
    }
    const key = r.pick(['host', 'dc', 'env', 'note', 'zone', '__name__']);
    return {
      kind: 'values',
      method: 'GET',
      url: `/api/v1/tags/${key}/values`,
      fields,
      check: (body, m) =>
        diffList(body.values, [...new Set(chosen(m).flatMap((s) => (key === '__name__' ? [s.metric] : Object.hasOwn(s.tags, key) ? [s.tags[key]!] : [])))].sort()),
    };
  };

  const normSeries = (s: { metric: string; tags: Record<string, string> }): { metric: string; tags: string } => ({ metric: s.metric, tags: tagsText(s.tags) });

  const ask = async (req: Request, round: number): Promise<void> => {
    const fields = { ...req.fields };
    const after = token();
    if (after !== undefined) fields.after = after;
    const res =
      req.method === 'POST'
        ? await inject({ method: 'POST', url: req.url, payload: fields })
        : await inject({ method: 'GET', url: urlOf(req.url, fields) });
    let why: string | undefined;
    let body: { series?: WireSeries[]; partial?: boolean; values?: string[]; tags?: string[] } = {};
    if (res.statusCode !== 200) why = `status ${res.statusCode}: ${clip(res.body)}`;
    else {
      body = JSON.parse(res.body);
      if (body.partial !== false) why = `partial answer: ${clip(res.body, 300)}`;
      else {
        if (req.kind === 'series') body.series = (body.series as unknown as Array<{ metric: string; tags: Record<string, string> }>).map(normSeries) as unknown as WireSeries[];
        why = req.check(body, model);
      }
    }
    stats[req.kind]++;
    if (req.fn && req.fill) stats.pairs.add(`${req.fn}/${req.fill}`);
    if (why === undefined) return;
    const file = join(tmpdir(), `qdiff-failure-${seed}-${failures.length}.json`);
    const request = { method: req.method, url: req.method === 'GET' ? urlOf(req.url, fields) : req.url, fields };
    writeFileSync(file, JSON.stringify({ scenario: idx, seed, shape, round, request, why, answer: res.body, events }, null, 1));
    failures.push(
      `${tag}, round ${round}: ${req.kind} ${req.method} ${request.url}\n  fields ${JSON.stringify(fields)}\n  ${why}\n  answer ${clip(res.body, 800)}\n  history (writes, flushes, restarts) in ${file}`,
    );
    // Enough to diagnose; an error status (e.g. an after= wait timing out) would make every further request slow.
    if (failures.length >= 10 || res.statusCode !== 200) throw new StopScenario();
  };

  // ---- the run: rounds of writes (with flushes and restarts between them), then queries
  const asked: Request[] = [];
  try {
    for (let round = 0; round < shape.rounds; round++) {
      const batches = big ? r.int(8, 14) : r.int(2, 7);
      for (let b = 0; b < batches; b++) {
        const size = big ? r.int(800, 2000) : r.pick([1, r.int(1, 10), r.int(10, 120), r.int(100, 400)]);
        const pts: Array<[SeriesDef, number, number]> = [];
        for (let i = 0; i < size; i++) {
          if (pts.length > 0 && r.chance(0.04)) {
            // a duplicate inside the batch: the later one in the batch wins
            const [s, t] = r.pick(pts);
            pts.push([s, t, genValue(s, t)]);
            stats.duplicates++;
          } else if (model.written.length > 0 && r.chance(big ? 0.05 : 0.2)) {
            // rewrite a (series, t) written earlier — maybe flushed to a block, maybe before a restart
            const [key, t] = r.pick(model.written);
            const s = model.series.get(key)!;
            pts.push([s, t, genValue(s, t)]);
            stats.duplicates++;
          } else {
            const s = pickSeries();
            const t = genTime(s);
            pts.push([s, t, genValue(s, t)]);
          }
        }
        await write(pts);
        if (r.chance(0.3)) await flush();
        if (r.chance(0.06)) await restart(r.chance(0.5));
      }
      if (r.chance(0.3)) await restart(r.chance(0.5));
      events.push({ kind: 'queries', round });
      const n = big ? 100 : QUERIES_PER_ROUND;
      const nextRequest = (): Request => {
        let req: Request;
        if (asked.length > 0 && r.chance(0.08)) {
          // the same request again: served from a cache when nothing it read changed, recomputed otherwise
          req = r.pick(asked);
          stats.repeated++;
        } else req = !big && r.chance(0.15) ? genMeta() : genQuery();
        asked.push(req);
        return req;
      };
      for (let q = 0; q < n; q++) {
        if (r.chance(0.03)) {
          // a flush running while queries read: they see the frozen head, the blocks being written, or both
          const reqs = [nextRequest(), nextRequest(), nextRequest(), nextRequest()];
          await Promise.all([flush(), ...reqs.map((req) => ask(req, round))]);
          stats.concurrentFlushes++;
          q += reqs.length - 1;
          continue;
        }
        await ask(nextRequest(), round);
        // a flush between queries moves head points into blocks: answers must not change
        if (r.chance(0.01)) await flush();
      }
    }
    await countMetrics();
  } catch (e) {
    if (!(e instanceof StopScenario)) throw e;
  } finally {
    await node.close();
    tmp.cleanup();
  }
  stats.scenarios++;
  if (failures.length > 0) {
    assert.fail(`${failures.length} mismatches in ${tag}; the first ones:\n\n${failures.slice(0, 3).join('\n\n')}\n\nreproduce: TEST_SEED=${runSeed} QDIFF_ONLY=${idx} node scripts/run-tests.mjs query-differential`);
  }
}

// ---------------------------------------------------------------------------------------------------------------

const master = seededRandom('query-differential (HTTP → log → materializer → query)');
const runSeed = master.seed;
const scenarioSeeds = Array.from({ length: SCENARIOS + 1 }, () => master.int(0, 0xffffffff));

describe('query differential: the whole engine against a reference model', () => {
  const stats: Stats = {
    scenarios: 0,
    raw: 0,
    agg: 0,
    repeated: 0,
    series: 0,
    last: 0,
    tags: 0,
    values: 0,
    pointsWritten: 0,
    duplicates: 0,
    writes: 0,
    flushes: 0,
    concurrentFlushes: 0,
    restarts: 0,
    crashes: 0,
    sketchedWindows: 0,
    nonEmpty: 0,
    cacheHits: 0,
    headerBlocks: 0,
    decodedBlocks: 0,

    pairs: new Set(),
  };
  const t0 = performance.now();
  const last = SKETCH_SCENARIO ? SCENARIOS : SCENARIOS - 1;
  for (let i = 0; i <= last; i++) {
    if (ONLY !== undefined && ONLY !== i) continue;
    const big = SKETCH_SCENARIO && i === SCENARIOS;
    it(`scenario ${i}${big ? ' (large windows: sketched percentiles)' : ''} agrees with the reference`, async () => {
      await runScenario(i, scenarioSeeds[i]!, stats);
      if (i === last || ONLY === i) {
        const cases = stats.raw + stats.agg + stats.series + stats.last + stats.tags + stats.values;
        console.log(
          `# query-differential: ${cases} cases in ${stats.scenarios} scenarios (${stats.raw} raw, ${stats.agg} aggregate covering ${stats.pairs.size}/${FNS.length * FILLS.length} fn×fill pairs, ` +
            `${stats.series} series, ${stats.last} last, ${stats.tags} tags, ${stats.values} tag values; ${stats.repeated} repeated requests, ${stats.cacheHits} cache hits; ${stats.nonEmpty} non-empty answers), ` +
            `${stats.pointsWritten} points in ${stats.writes} writes (${stats.duplicates} duplicates), ${stats.flushes} flushes (${stats.concurrentFlushes} while queries ran), ${stats.restarts} restarts (${stats.crashes} crash-like), ` +
            `${stats.sketchedWindows} sketched percentile windows, ${stats.headerBlocks} blocks answered from headers (${stats.decodedBlocks} decoded), ${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
        if (ONLY === undefined) {
          assert.equal(stats.pairs.size, FNS.length * FILLS.length, 'every fn × fill pair was asked');
          if (SKETCH_SCENARIO) assert.ok(stats.sketchedWindows > 0, 'some percentile windows took the sketch path');
          assert.ok(stats.headerBlocks > 0, 'some blocks were answered from their headers');
        }
      }
    });
  }
});

describe('query differential: minimal repros of bugs it found', () => {
  it(
    'raw query with limit returns the first `limit` series that have points in [start, end) (API.md: limit = max series returned)',
    async () => {
      const tmp = tempDir('qdiff-limit');
      const node = await createNode({ config: defaultServeConfig({ dataDir: tmp.dir, port: 0, partitions: 1, flushInterval: 3_600_000 }), logger: silentLogger() });
      try {
        const T = 1_700_000_000_000;
        const points = [
          { metric: 'lim', tags: { host: 'a' }, timestamp: T, value: 1 }, // sorts first, but outside the range below
          { metric: 'lim', tags: { host: 'b' }, timestamp: T + 5000, value: 2 },
        ];
        const w = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points } });
        assert.equal(w.statusCode, 200, w.body);
        const after = encodeURIComponent(JSON.parse(w.body).token);
        const res = await node.app.inject({ url: `/api/v1/query?selector=lim&start=${T + 1000}&end=${T + 10_000}&limit=1&after=${after}` });
        assert.equal(res.statusCode, 200, res.body);
        // without limit the answer is host=b alone; limit=1 must not make it empty
        assert.deepEqual(JSON.parse(res.body).series, [{ metric: 'lim', tags: { host: 'b' }, points: [[T + 5000, 2]] }]);
      } finally {
        await node.close();
        tmp.cleanup();
      }
    },
  );
});
