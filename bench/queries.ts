/**
 * TSBS-shaped queries, as HTTP requests against V3 and VictoriaMetrics, with the same random parameters (seeded)
 * for both, and a normalised form of every answer so the two can be checked for equality.
 *
 * Window semantics: V3 aggregates windows [T, T+step) stamped T (aligned to the epoch); a MetricsQL rollup
 * `f(x[step])` evaluated at T covers (T-step, T]. Each VM query therefore shifts its window with
 * `offset -(step-1ms)`: at T it covers (T-1ms, T+step-1ms] = [T, T+step) for millisecond timestamps, so both
 * systems aggregate exactly the same points under the same stamp. VM's query_range includes `end`; V3's range is
 * [start, end), so VM is asked for end - step.
 */
import { Rng } from './tsbs/prng.js';
import type { Dataset } from './dataset.js';

export const SHAPES = ['single-groupby-1-1-1', 'cpu-max-all-1', 'double-groupby-1', 'lastpoint'] as const;
export type Shape = (typeof SHAPES)[number];

export interface HttpQuery {
  path: string;
  params: Record<string, string>;
}

export interface QueryCase {
  shape: Shape;
  label: string;
  v3: HttpQuery;
  vm: HttpQuery;
}

const MIN = 60_000;
const HOUR = 3_600_000;

function window(ds: Dataset, rng: Rng, spanMs: number, stepMs: number): { start: number; end: number } {
  const slots = Math.max(1, Math.floor((ds.endMs - ds.startMs - spanMs) / stepMs) + 1);
  const start = Math.ceil(ds.startMs / stepMs) * stepMs + stepMs * rng.int(slots);
  return { start, end: start + spanMs };
}

function rollup(fn: string, selector: string, stepMs: number, outer: string): string {
  return `${outer}(${fn}(${selector}[${stepMs / 1000}s] offset -${stepMs - 1}ms))`;
}

function vmRange(query: string, start: number, end: number, stepMs: number): HttpQuery {
  return { path: '/api/v1/query_range', params: { query, start: String(start / 1000), end: String((end - stepMs) / 1000), step: String(stepMs / 1000), nocache: '1' } };
}

function v3Agg(selector: string, start: number, end: number, fn: string, stepMs: number, by?: string): HttpQuery {
  const params: Record<string, string> = { selector, start: String(start), end: String(end), fn, step: String(stepMs) };
  if (by) params.by = by;
  return { path: '/api/v1/query', params };
}

export function makeCase(shape: Shape, ds: Dataset, rng: Rng): QueryCase {
  const host = `host_${rng.int(ds.hosts)}`;
  switch (shape) {
    case 'single-groupby-1-1-1': {
      const { start, end } = window(ds, rng, HOUR, MIN);
      const sel = `cpu_usage_user{hostname="${host}"}`;
      return { shape, label: `${host} ${new Date(start).toISOString()}`, v3: v3Agg(sel, start, end, 'max', MIN), vm: vmRange(`${rollup('max_over_time', sel, MIN, 'max')} by (__name__)`, start, end, MIN) };
    }
    case 'cpu-max-all-1': {
      const { start, end } = window(ds, rng, 8 * HOUR, HOUR);
      const sel = `{__name__=~"cpu_.*",hostname="${host}"}`;
      return { shape, label: `${host} ${new Date(start).toISOString()}`, v3: v3Agg(sel, start, end, 'max', HOUR), vm: vmRange(`${rollup('max_over_time', sel, HOUR, 'max')} by (__name__)`, start, end, HOUR) };
    }
    case 'double-groupby-1': {
      const { start, end } = window(ds, rng, 12 * HOUR, HOUR);
      const sel = 'cpu_usage_user';
      return { shape, label: new Date(start).toISOString(), v3: v3Agg(sel, start, end, 'avg', HOUR, 'hostname'), vm: vmRange(`${rollup('avg_over_time', sel, HOUR, 'avg')} by (__name__, hostname)`, start, end, HOUR) };
    }
    case 'lastpoint': {
      // V3: the last-value index. VM has no last-point API: an instant query of the selector at the end of the
      // data returns each series' last sample within its default 5 m look-back.
      const sel = '{__name__=~"cpu_.*"}';
      return { shape, label: 'all series', v3: { path: '/api/v1/last', params: { selector: sel } }, vm: { path: '/api/v1/query', params: { query: sel, time: String((ds.endMs - 1) / 1000), nocache: '1' } } };
    }
  }
}

/**
 * Untimed cases per shape before the timed ones, for both systems alike (distinct parameters, so no timed case is
 * pre-read). Both are measured as long-running servers: V3 runs on a JIT, and its first queries after the restart
 * that precedes the query phase ran unoptimised code (single-groupby 2.0–2.6 ms in the first round vs 0.9–1.0 ms in
 * later rounds on never-read hosts and windows, docs/query-serving.md); VictoriaMetrics is compiled ahead of time.
 */
export const WARMUPS = 10;

/** `count` timed cases per shape plus WARMUPS untimed ones (last), from one seed: the same list for both systems. */
export function makeCases(ds: Dataset, seed: number, count: number): Map<Shape, QueryCase[]> {
  const out = new Map<Shape, QueryCase[]>();
  for (const shape of SHAPES) {
    const rng = new Rng(seed ^ (SHAPES.indexOf(shape) * 7919));
    out.set(shape, Array.from({ length: count + WARMUPS }, () => makeCase(shape, ds, rng)));
  }
  return out;
}

/**
 * A normalised answer: `metric|hostname|t` → value (lastpoint: `metric|hostname` → value). The single-host shapes
 * leave the hostname out (TSBS's `max(...) by (__name__)` drops it in VictoriaMetrics; the selector fixes it).
 */
export type Answer = Map<string, number>;

const keepsHost = (shape: Shape): boolean => shape === 'double-groupby-1' || shape === 'lastpoint';

export function normaliseV3(shape: Shape, body: string): Answer {
  const j = JSON.parse(body) as { series: Array<{ metric: string; tags: Record<string, string>; points: Array<[number, number | null]> }>; partial?: boolean };
  if (j.partial) throw new Error('V3 answered partial');
  const out: Answer = new Map();
  for (const s of j.series) {
    const host = keepsHost(shape) ? (s.tags.hostname ?? '') : '';
    for (const [t, v] of s.points) {
      if (v === null) continue;
      out.set(shape === 'lastpoint' ? `${s.metric}|${host}` : `${s.metric}|${host}|${t}`, v);
    }
  }
  return out;
}

export function normaliseVm(shape: Shape, body: string): Answer {
  const j = JSON.parse(body) as { status: string; data: { resultType: string; result: Array<{ metric: Record<string, string>; values?: Array<[number, string]>; value?: [number, string] }> } };
  if (j.status !== 'success') throw new Error(`VM answered ${body.slice(0, 300)}`);
  const out: Answer = new Map();
  for (const s of j.data.result) {
    const name = s.metric.__name__ ?? '';
    const host = keepsHost(shape) ? (s.metric.hostname ?? '') : '';
    if (shape === 'lastpoint') out.set(`${name}|${host}`, Number(s.value![1]));
    else for (const [sec, v] of s.values ?? []) out.set(`${name}|${host}|${Math.round(sec * 1000)}`, Number(v));
  }
  return out;
}

/** Equal key sets and values within a relative 1e-9. Returns undefined when equal, else a description. */
export function compareAnswers(a: Answer, b: Answer): string | undefined {
  if (a.size !== b.size) return `sizes differ: V3 ${a.size} values, VM ${b.size}`;
  let bad = 0;
  let first = '';
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || Math.abs(v - w) > 1e-9 * Math.max(1, Math.abs(v))) {
      if (bad++ === 0) first = `${k}: V3 ${v}, VM ${w}`;
    }
  }
  return bad === 0 ? undefined : `${bad} of ${a.size} values differ (first: ${first})`;
}

export interface Timing {
  median: number;
  p95: number;
  min: number;
  max: number;
  runs: number;
}

export function summarise(ms: number[]): Timing {
  const s = [...ms].sort((x, y) => x - y);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
  const median = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median, p95: q(0.95), min: s[0]!, max: s[s.length - 1]!, runs: s.length };
}

/** Runs every case of every shape against one system (the WARMUPS untimed cases of each shape first). */
export async function runQueries(
  system: 'v3' | 'vm',
  baseUrl: string,
  cases: Map<Shape, QueryCase[]>,
  onAnswer?: (shape: Shape, index: number, answer: Answer) => void,
): Promise<Map<Shape, Timing>> {
  const out = new Map<Shape, Timing>();
  for (const [shape, list] of cases) {
    const send = async (c: QueryCase): Promise<{ ms: number; body: string }> => {
      const q = system === 'v3' ? c.v3 : c.vm;
      const url = `${baseUrl}${q.path}?${new URLSearchParams(q.params)}`;
      const t0 = performance.now();
      const r = await fetch(url);
      const body = await r.text();
      const ms = performance.now() - t0;
      if (r.status !== 200) throw new Error(`${system} ${shape} (${c.label}): ${r.status} ${body.slice(0, 400)}\n${url}`);
      return { ms, body };
    };
    const timed = list.length - WARMUPS;
    for (let w = timed; w < list.length; w++) await send(list[w]!);
    const times: number[] = [];
    for (let i = 0; i < timed; i++) {
      const { ms, body } = await send(list[i]!);
      times.push(ms);
      if (onAnswer) onAnswer(shape, i, system === 'v3' ? normaliseV3(shape, body) : normaliseVm(shape, body));
    }
    out.set(shape, summarise(times));
  }
  return out;
}
