/**
 * The CPU-bound part of a write, from request body to log records: decode, validate, route each series to its
 * partition, encode one SeriesBatch record per partition. Pure (no I/O, no shared state but a partition memo), so
 * it runs the same on the request's thread or in a worker thread (write-worker.ts).
 */
import { decodeWriteBody, encodeSeriesBatch, pointsToSeriesBatch, type SeriesBatch } from '../codec/avro-record.js';
import { routingKey, type PartitionCache } from '../codec/partitioning.js';
import type { SeriesMemo } from '../codec/series-memo.js';
import { assertValid, validatePoints, validateSeriesBatch, type ValidationLimits, type ValidationResult } from '../codec/validate-points.js';
import { isTsdbError, TsdbError, type ErrorDetail } from '../common/errors.js';
import { canonicalSeriesKey } from '../common/series-key.js';
import { parseInfluxLines, type Precision } from './influx-lines.js';

export interface PreparedRecord {
  partition: number;
  value: Uint8Array;
  key: Uint8Array;
}

/** What the appending side needs: the records, and per series what the cardinality check reads. */
export interface PreparedWrite {
  ok: true;
  points: number;
  records: PreparedRecord[];
  /**
   * Per series of the request: its metric (an index into metricNames), and the index of its first point; series
   * per metric in metricCounts. Compact because it crosses a thread boundary on every write; the cardinality check
   * needs per-series keys only when a metric is near its limit (SeriesAdmission.nearLimit).
   */
  metricNames: string[];
  metricOf: Int32Array;
  /** Series per metric, in metricNames order. */
  metricCounts: Int32Array;
  /** Canonical key per series; dropped by a write worker (the request thread prepares again when it needs them). */
  keys?: string[];
  firstPoint: Int32Array;
}

/** A request that must be refused, as plain data (it may cross a thread boundary). */
export interface RefusedWrite {
  ok: false;
  code: string;
  message: string;
  details: ErrorDetail[];
  /** Reject counts by reason, for the rejects metric (validation failures only). */
  reasons: Array<[string, number]>;
}

export type Prepared = PreparedWrite | RefusedWrite;

export interface PrepareContext {
  limits: ValidationLimits;
  partitions: PartitionCache;
  partitionCount: number;
  /** Series-table entries seen in earlier bodies (series-memo.ts); the same client sends the same bytes per series. */
  memo?: SeriesMemo;
}

function refused(e: unknown, reasons: Array<[string, number]> = []): RefusedWrite {
  if (!isTsdbError(e)) throw e;
  return { ok: false, code: e.code, message: e.message, details: e.details, reasons };
}

function checked(r: Omit<ValidationResult, 'points'>, total: number): RefusedWrite | undefined {
  if (r.errors.length === 0) return undefined;
  try {
    assertValid(r, total);
  } catch (e) {
    return refused(e, [...r.reasons]);
  }
  return undefined;
}

/** Points grouped by series (a decoded SeriesBatch body), validated and turned into records. */
export function prepareSeries(ctx: PrepareContext, batch: SeriesBatch, now: number): Prepared {
  return checked(validateSeriesBatch(batch, ctx.limits, now), batch.seriesIndex.length) ?? recordsOf(ctx, batch);
}

/** One SeriesBatch record per partition, each with a series table of just its series. */
function recordsOf(ctx: PrepareContext, batch: SeriesBatch): PreparedWrite {
  const n = batch.seriesIndex.length;
  const nSeries = batch.series.length;
  const keys = batch.keys ?? batch.series.map((s) => canonicalSeriesKey(s.metric, s.tags));
  const partOf = new Int32Array(nSeries);
  for (let s = 0; s < nSeries; s++) partOf[s] = ctx.partitions.partitionOf(keys[s]!);
  const firstPoint = new Int32Array(nSeries).fill(-1);
  // Counting sort of the points by partition; stable, so each record keeps the request's order.
  const P = ctx.partitionCount;
  const starts = new Int32Array(P + 1);
  const idx = batch.seriesIndex;
  for (let i = 0; i < n; i++) {
    const s = idx[i]!;
    if (firstPoint[s] === -1) firstPoint[s] = i;
    starts[partOf[s]! + 1]!++;
  }
  for (let p = 0; p < P; p++) starts[p + 1]! += starts[p]!;
  const fill = starts.slice(0, P);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[fill[partOf[idx[i]!]!]!++] = i;
  const records: PreparedRecord[] = [];
  for (let p = 0; p < P; p++) {
    const from = starts[p]!;
    const to = starts[p + 1]!;
    if (from === to) continue;
    // The Kafka key is the routing hash of the record's first series (all of them share the partition).
    records.push({ partition: p, value: encodeSeriesBatch(batch, order, from, to), key: routingKey(keys[idx[order[from]!]!]!) });
  }
  const metricNames: string[] = [];
  const metricIndex = new Map<string, number>();
  const metricOf = new Int32Array(nSeries);
  for (let s = 0; s < nSeries; s++) {
    const m = batch.series[s]!.metric;
    let i = metricIndex.get(m);
    if (i === undefined) metricIndex.set(m, (i = metricNames.push(m) - 1));
    metricOf[s] = i;
  }
  const metricCounts = new Int32Array(metricNames.length);
  for (let s = 0; s < nSeries; s++) metricCounts[metricOf[s]!]!++;
  return { ok: true, points: n, records, metricNames, metricOf, metricCounts, keys, firstPoint };
}

/** JSON/NDJSON or Avro points, validated point by point and turned into records. */
export function preparePoints(ctx: PrepareContext, raw: unknown[], now: number): Prepared {
  const result = validatePoints(raw, ctx.limits, now);
  return checked(result, raw.length) ?? recordsOf(ctx, pointsToSeriesBatch(result.points));
}

/** An application/avro body: Point or PointBatch (validated point by point) or SeriesBatch (per series). */
export function prepareAvro(ctx: PrepareContext, body: Buffer, now: number): Prepared {
  let decoded: ReturnType<typeof decodeWriteBody>;
  try {
    decoded = decodeWriteBody(body, ctx.memo);
  } catch (e) {
    return refused(e);
  }
  return decoded.kind === 'points' ? preparePoints(ctx, decoded.points, now) : prepareSeries(ctx, decoded.batch, now);
}

/**
 * An Influx line protocol body (influx-lines.ts): parse problems are TSDB_ERR_WRITE_MALFORMED, validation problems
 * TSDB_ERR_WRITE_INVALID, both listing the bad lines by number (`"field": "line 7"`).
 */
export function prepareInflux(ctx: PrepareContext, body: Buffer, precision: Precision, now: number): Prepared {
  const parsed = parseInfluxLines(body.toString('utf8'), precision, now);
  if (parsed.errors.length > 0) {
    const bad = parsed.errors.filter((e) => e.field?.startsWith('line ')).length;
    return refused(new TsdbError('TSDB_ERR_WRITE_MALFORMED', `cannot parse line protocol (${parsed.lines} lines): ${bad}${bad < parsed.errors.length ? '+' : ''} lines are malformed; nothing was written`, { details: parsed.errors }));
  }
  const { batch, lineOfSeries, lineOfPoint } = parsed;
  const r = validateSeriesBatch(batch, ctx.limits, now);
  // Validation speaks of series and points; a line protocol client knows lines.
  const errors = r.errors.map((d): ErrorDetail => {
    const m = /^series\[(\d+)\]\.(.*)$/.exec(d.field ?? '');
    if (m) return { field: `line ${lineOfSeries[Number(m[1])]}`, reason: `${m[2]}: ${d.reason}` };
    if (d.index === undefined) return d;
    const line = lineOfPoint[d.index];
    if (d.field === 'series') return { field: `line ${line}`, reason: `metric or tags are invalid (see line ${lineOfSeries[batch.seriesIndex[d.index]!]})` };
    return { field: `line ${line}`, reason: `${d.field}: ${d.reason}` };
  });
  return checked({ ...r, errors }, batch.seriesIndex.length) ?? recordsOf(ctx, batch);
}
