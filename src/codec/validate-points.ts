import type { ErrorDetail } from '../common/errors.js';
import { TsdbError } from '../common/errors.js';
import type { Point } from '../common/point.js';
import type { SeriesBatch, SeriesRef } from './avro-series-batch.js';

/**
 * The one validation module: every entry point (HTTP JSON, HTTP Avro, records read from the log) runs its points
 * through validatePoints. A request with any bad point is rejected whole, listing every bad point.
 */

export interface ValidationLimits {
  maxPointsPerRequest: number;
  maxTagsPerPoint: number;
  maxNameLength: number;
  maxTagValueLength: number;
  /** Points older than now - maxPast are rejected; 0 = only the epoch bound applies. */
  maxPast: number;
  /** Points newer than now + maxFuture are rejected. */
  maxFuture: number;
}

export const DEFAULT_LIMITS: ValidationLimits = {
  maxPointsPerRequest: 100_000,
  maxTagsPerPoint: 32,
  maxNameLength: 256,
  maxTagValueLength: 1024,
  maxPast: 0,
  maxFuture: 3_600_000,
};

/** More details than this are summarised in one last entry, so a huge bad batch cannot produce a huge answer. */
export const MAX_DETAILS = 1000;

const METRIC_RE = /^[a-zA-Z_:][a-zA-Z0-9_:.]*$/;
const TAG_KEY_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** RFC 3339 with a mandatory offset; fractional seconds allowed but must be whole milliseconds. */
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,3})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses a time given as integer milliseconds or an RFC 3339 string; undefined if it is neither. */
export function parseTime(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === 'string') {
    if (/^-?\d+$/.test(v)) {
      const n = Number(v);
      return Number.isSafeInteger(n) ? n : undefined;
    }
    if (!RFC3339_RE.test(v)) return undefined;
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

export interface ValidationResult {
  points: Point[];
  errors: ErrorDetail[];
  /** Bad points in total (errors may be capped at MAX_DETAILS). */
  badPoints: number;
  /** Reject counts by reason code, for the rejects metric. */
  reasons: Map<string, number>;
}

/** Validates raw points (from JSON or decoded Avro). Points are normalised (timestamps as integer ms). */
export function validatePoints(raw: unknown[], limits: ValidationLimits, now: number): ValidationResult {
  const errors: ErrorDetail[] = [];
  const reasons = new Map<string, number>();
  const points: Point[] = new Array(raw.length);
  let badPoints = 0;
  let extra = 0;
  const minT = limits.maxPast > 0 ? now - limits.maxPast : 0;
  const maxT = now + limits.maxFuture;

  for (let i = 0; i < raw.length; i++) {
    let bad = false;
    const fail = (field: string, reasonCode: string, reason: string): void => {
      bad = true;
      reasons.set(reasonCode, (reasons.get(reasonCode) ?? 0) + 1);
      if (errors.length < MAX_DETAILS) errors.push({ index: i, field, reason });
      else extra++;
    };
    const p = raw[i];
    if (p === null || typeof p !== 'object' || Array.isArray(p)) {
      fail('point', 'not_object', 'must be an object with metric, tags, timestamp and value');
      badPoints++;
      continue;
    }
    const o = p as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (k !== 'metric' && k !== 'tags' && k !== 'timestamp' && k !== 'value') fail(k, 'unknown_field', `unknown field "${k}"`);
    }
    const metric = o.metric;
    let tags = o.tags;
    if (tags === undefined) tags = {};
    checkSeriesNames(metric, tags, limits, '', fail);

    const ts = o.timestamp === undefined ? undefined : parseTime(o.timestamp);
    if (o.timestamp === undefined) fail('timestamp', 'missing_field', 'is required');
    else if (ts === undefined) fail('timestamp', 'bad_timestamp', 'must be integer milliseconds since the epoch or an RFC 3339 string');
    else checkTimestamp(ts, minT, maxT, limits, fail);

    const value = o.value;
    if (value === undefined) fail('value', 'missing_field', 'is required');
    else checkValue(value, fail);

    if (bad) {
      badPoints++;
      continue;
    }
    points[i] = { metric: metric as string, tags: tags as Record<string, string>, timestamp: ts!, value: value as number };
  }

  if (raw.length > limits.maxPointsPerRequest) {
    reasons.set('too_many_points', 1);
    errors.unshift({ field: 'points', reason: `has ${raw.length} points, over the limit of ${limits.maxPointsPerRequest}` });
  }
  if (extra > 0) errors.push({ field: 'points', reason: `and ${extra} more problems not listed` });
  return { points, errors, badPoints, reasons };
}

type Fail = (field: string, reasonCode: string, reason: string) => void;

/** The metric and tags of a point or of a series-table entry (`prefix` names the entry in the details). */
function checkSeriesNames(metric: unknown, tags: unknown, limits: ValidationLimits, prefix: string, fail: Fail): void {
  if (metric === undefined) fail(`${prefix}metric`, 'missing_field', 'is required');
  else if (typeof metric !== 'string') fail(`${prefix}metric`, 'bad_type', 'must be a string');
  else if (metric.length === 0) fail(`${prefix}metric`, 'invalid_name', 'must not be empty');
  else if (metric.length > limits.maxNameLength) fail(`${prefix}metric`, 'too_long', `is ${metric.length} characters, over the limit of ${limits.maxNameLength}`);
  else if (!METRIC_RE.test(metric)) fail(`${prefix}metric`, 'invalid_name', `"${metric}" does not match [a-zA-Z_:][a-zA-Z0-9_:.]*`);

  if (tags === null || typeof tags !== 'object' || Array.isArray(tags)) {
    fail(`${prefix}tags`, 'bad_type', 'must be an object of string values');
    return;
  }
  const t = tags as Record<string, unknown>;
  const keys = Object.keys(t);
  if (keys.length > limits.maxTagsPerPoint) fail(`${prefix}tags`, 'too_many_tags', `has ${keys.length} tags, over the limit of ${limits.maxTagsPerPoint}`);
  for (const k of keys) {
    const v = t[k];
    const f = `${prefix}tags.${k.length > limits.maxNameLength ? k.slice(0, 64) : k}`;
    if (k.length > limits.maxNameLength) fail(f, 'too_long', `tag key is ${k.length} characters, over the limit of ${limits.maxNameLength}`);
    // `__` keys are reserved (`__name__` is the metric in selectors), which also keeps `__proto__` out of tag objects.
    else if (k.startsWith('__')) fail(f, 'invalid_name', `tag keys starting with "__" are reserved ("${k}")`);
    else if (!TAG_KEY_RE.test(k)) fail(f, 'invalid_name', `tag key "${k}" does not match [a-zA-Z_][a-zA-Z0-9_]*`);
    if (typeof v !== 'string') fail(f, 'bad_type', 'tag value must be a string');
    else if (v.length === 0) fail(f, 'empty_value', 'tag value must not be empty');
    else if (v.length > limits.maxTagValueLength) fail(f, 'too_long', `tag value is ${v.length} characters, over the limit of ${limits.maxTagValueLength}`);
  }
}

function checkTimestamp(ts: number, minT: number, maxT: number, limits: ValidationLimits, fail: Fail): void {
  if (ts < minT) fail('timestamp', 'out_of_window', `${ts} is before the accepted window (earliest ${minT})`);
  else if (ts > maxT) fail('timestamp', 'out_of_window', `${ts} is after the accepted window (latest ${maxT}, now + ${limits.maxFuture} ms)`);
}

function checkValue(value: unknown, fail: Fail): void {
  if (typeof value !== 'number') fail('value', 'bad_type', 'must be a number');
  else if (!Number.isFinite(value)) fail('value', 'non_finite', 'must be finite (NaN and ±Infinity are rejected)');
}

/**
 * Validates a decoded SeriesBatch: names once per series-table entry (details name `series[i].…`), time window and
 * value per point (details carry the point index). A point is bad if it or its series is; a request with any bad
 * point is rejected whole, as with validatePoints.
 */
/** Series refs whose names passed checkSeriesNames, per limits object (refs are never mutated after decoding). */
const validRefs = new WeakMap<ValidationLimits, WeakSet<SeriesRef>>();

export function validateSeriesBatch(b: SeriesBatch, limits: ValidationLimits, now: number): Omit<ValidationResult, 'points'> {
  const errors: ErrorDetail[] = [];
  const reasons = new Map<string, number>();
  let extra = 0;
  const n = b.seriesIndex.length;
  const note = (d: ErrorDetail, reasonCode: string): void => {
    reasons.set(reasonCode, (reasons.get(reasonCode) ?? 0) + 1);
    if (errors.length < MAX_DETAILS) errors.push(d);
    else extra++;
  };
  if (n > limits.maxPointsPerRequest) {
    reasons.set('too_many_points', 1);
    errors.push({ field: 'points', reason: `has ${n} points, over the limit of ${limits.maxPointsPerRequest}` });
  }
  let badSeries: Uint8Array | undefined;
  let valid = validRefs.get(limits);
  if (valid === undefined) validRefs.set(limits, (valid = new WeakSet()));
  for (let s = 0; s < b.series.length; s++) {
    const ref = b.series[s]!;
    // A memoized SeriesRef (series-memo.ts) comes back batch after batch: its names are checked once per limits.
    if (valid.has(ref)) continue;
    let ok = true;
    checkSeriesNames(ref.metric, ref.tags, limits, `series[${s}].`, (field, code, reason) => {
      (badSeries ??= new Uint8Array(b.series.length))[s] = 1;
      ok = false;
      note({ field, reason }, code);
    });
    if (ok) valid.add(ref);
  }
  const minT = limits.maxPast > 0 ? now - limits.maxPast : 0;
  const maxT = now + limits.maxFuture;
  let badPoints = 0;
  for (let i = 0; i < n; i++) {
    const t = b.timestamps[i]!;
    const v = b.values[i]!;
    const seriesBad = badSeries !== undefined && badSeries[b.seriesIndex[i]!] === 1;
    // The common case costs three comparisons; only a bad point builds details.
    if (!seriesBad && t >= minT && t <= maxT && v - v === 0) continue;
    badPoints++;
    const fail: Fail = (field, code, reason) => note({ index: i, field, reason }, code);
    if (seriesBad) fail('series', 'bad_series', `its series ${b.seriesIndex[i]} is invalid (see series[${b.seriesIndex[i]}])`);
    checkTimestamp(t, minT, maxT, limits, fail);
    checkValue(v, fail);
  }
  if (extra > 0) errors.push({ field: 'points', reason: `and ${extra} more problems not listed` });
  return { errors, badPoints, reasons };
}

/** Throws the one 400 every entry point answers with when validation failed. */
export function assertValid(r: Omit<ValidationResult, 'points'>, total: number): void {
  if (r.errors.length === 0) return;
  const what = r.badPoints > 0 ? `${r.badPoints} of ${total} points are invalid` : 'the batch is over a limit';
  throw new TsdbError('TSDB_ERR_WRITE_INVALID', `cannot write points (${total} points): ${what}; nothing was written`, { details: r.errors });
}

/**
 * Invariants every point read back from the log must hold, whoever produced it. Unlike validatePoints this applies
 * no operator policy (time window, per-request limits): those may change between a write and a replay, and replay
 * must reach the same state every time. Returns the problem, or undefined for a good point.
 */
export function loggedPointProblem(p: Point, isNewSeries: boolean): string | undefined {
  return loggedSampleProblem(p.timestamp, p.value) ?? (isNewSeries ? loggedSeriesProblem(p.metric, p.tags) : undefined);
}

/** The per-point part of loggedPointProblem. */
export function loggedSampleProblem(timestamp: number, value: number): string | undefined {
  if (!Number.isSafeInteger(timestamp)) return `timestamp ${timestamp} is not a safe integer`;
  if (!Number.isFinite(value)) return `value ${value} is not finite`;
  return undefined;
}

/** The per-series part of loggedPointProblem, for a series the log record creates (known ones were checked then). */
export function loggedSeriesProblem(metric: string, tags: Record<string, string>): string | undefined {
  if (!METRIC_RE.test(metric) || metric.length > 65536) return `metric "${metric.slice(0, 64)}" is not a valid name`;
  for (const k in tags) {
    if (!TAG_KEY_RE.test(k) || k.startsWith('__') || k.length > 65536) return `tag key "${k.slice(0, 64)}" is not valid`;
    const v = tags[k];
    if (typeof v !== 'string' || v.length === 0) return `tag "${k}" has an empty value`;
  }
  return undefined;
}
