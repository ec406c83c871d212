/**
 * SeriesBatch (schemas/SeriesBatch.avsc): points of many series with a series table, so each series' metric and
 * tags are read, validated, keyed and hashed once per batch rather than once per point. V3's log record format and
 * an accepted application/avro write body; byte layout in docs/format/log-record.md.
 *
 * In memory the points are three parallel typed-array columns: decoding and re-encoding them allocates per column,
 * never per point.
 */
import { TsdbError } from '../common/errors.js';
import type { Point } from '../common/point.js';
import { canonicalSeriesKey } from '../common/series-key.js';
import { Cursor, readTags } from './avro-body-reader.js';
import { scratchWriter, type Writer } from './avro-body-writer.js';

export interface SeriesRef {
  metric: string;
  tags: Record<string, string>;
}

export interface SeriesBatch {
  series: SeriesRef[];
  /** Canonical key of each series (same order as series), when whoever built the batch already has them. */
  keys?: string[];
  /** Per point: index into series. */
  seriesIndex: Int32Array;
  /** Per point: ms since the epoch (safe integers). */
  timestamps: Float64Array;
  values: Float64Array;
}

/** Smallest encoding of a Series: empty metric (1) + empty map (1). */
const MIN_SERIES_BYTES = 2;

function grown<T extends Int32Array | Float64Array>(a: T, need: number): T {
  if (a.length >= need) return a;
  const b = new (a.constructor as new (n: number) => T)(need);
  b.set(a);
  return b;
}

const readLong = (c: Cursor): number => c.long();
const readDouble = (c: Cursor): number => c.double();

/** An array column that must hold exactly `len` items (as many as seriesIndex). */
function readColumn(c: Cursor, name: string, len: number, minItemBytes: number, read: (c: Cursor) => number): Float64Array {
  let out = new Float64Array(0);
  let k = 0;
  for (let n = c.blockCount(minItemBytes); n !== 0; n = c.blockCount(minItemBytes)) {
    if (k + n > len) c.fail(`${name} has more items than seriesIndex (${len})`);
    out = grown(out, k + n);
    for (; n > 0; n--) out[k++] = read(c);
  }
  if (k !== len) c.fail(`${name} has ${k} items, seriesIndex ${len}`);
  return out;
}

/** Decodes a SeriesBatch body from untrusted bytes (every count checked against the bytes left before allocating). */
export function readSeriesBatchBody(buf: Buffer, pos: number): SeriesBatch {
  const c = new Cursor(buf, pos);
  const series: SeriesRef[] = [];
  for (let n = c.blockCount(MIN_SERIES_BYTES); n !== 0; n = c.blockCount(MIN_SERIES_BYTES)) {
    for (; n > 0; n--) {
      const metric = c.string();
      series.push({ metric, tags: readTags(c) });
    }
  }
  const nSeries = series.length;
  let seriesIndex = new Int32Array(0);
  let len = 0;
  for (let n = c.blockCount(1); n !== 0; n = c.blockCount(1)) {
    seriesIndex = grown(seriesIndex, len + n);
    for (; n > 0; n--) {
      const at = c.pos;
      const s = c.long();
      if (s < 0 || s >= nSeries) c.fail(`series index ${s} of point ${len} outside [0, ${nSeries})`, at);
      seriesIndex[len++] = s;
    }
  }
  const timestamps = readColumn(c, 'timestamps', len, 1, readLong);
  const values = readColumn(c, 'values', len, 8, readDouble);
  c.end();
  return { series, seriesIndex, timestamps, values };
}

function writeSeries(w: Writer, s: SeriesRef): void {
  w.string(s.metric);
  const keys = Object.keys(s.tags);
  if (keys.length > 0) {
    w.long(keys.length);
    for (const k of keys) {
      w.string(k);
      w.string(s.tags[k]!);
    }
  }
  w.long(0);
}

function badTimestamp(b: SeriesBatch, i: number): TsdbError {
  const reason = `timestamp ${String(b.timestamps[i])} is not a safe integer`;
  return new TsdbError('TSDB_ERR_WRITE_INVALID', `cannot encode series batch (points=${b.seriesIndex.length}, index=${i}): ${reason}`, { details: [{ index: i, reason }] });
}

/** Local series index of each series of the batch being encoded (-1: not in this part); grown, never shrunk. */
let localOf = new Int32Array(1024).fill(-1);

/**
 * Encodes the points order[from..to) of `b` (all of them without `order`) as one single-object SeriesBatch whose
 * series table holds just the series those points use, in order of first use.
 */
export function encodeSeriesBatchRecord(fingerprint: string, b: SeriesBatch, order?: Int32Array, from = 0, to = order ? order.length : b.seriesIndex.length): Buffer {
  const nSeries = b.series.length;
  if (localOf.length < nSeries) localOf = new Int32Array(Math.max(nSeries, localOf.length * 2)).fill(-1);
  const idx = b.seriesIndex;
  const used: number[] = [];
  for (let k = from; k < to; k++) {
    const s = idx[order ? order[k]! : k]!;
    if (localOf[s]! < 0) {
      localOf[s] = used.length;
      used.push(s);
    }
  }
  const w = scratchWriter();
  try {
    w.header(fingerprint);
    const count = to - from;
    if (used.length > 0) {
      w.long(used.length);
      for (const s of used) writeSeries(w, b.series[s]!);
    }
    w.long(0);
    // Three arrays of `count` items, each one block (an empty array is just its terminating 0).
    if (count > 0) w.long(count);
    for (let k = from; k < to; k++) w.long(localOf[idx[order ? order[k]! : k]!]!);
    w.long(0);
    if (count > 0) w.long(count);
    for (let k = from; k < to; k++) {
      const i = order ? order[k]! : k;
      const t = b.timestamps[i]!;
      if (!Number.isSafeInteger(t)) throw badTimestamp(b, i);
      w.long(t);
    }
    w.long(0);
    if (count > 0) w.long(count);
    for (let k = from; k < to; k++) w.double(b.values[order ? order[k]! : k]!);
    w.long(0);
    return w.copyOut();
  } finally {
    for (const s of used) localOf[s] = -1;
  }
}

/** Groups points by series (first-use order, so series ids assigned from it match those from the points). */
export function pointsToSeriesBatch(points: readonly Point[]): SeriesBatch {
  const n = points.length;
  const ids = new Map<string, number>();
  const series: SeriesRef[] = [];
  const keys: string[] = [];
  const seriesIndex = new Int32Array(n);
  const timestamps = new Float64Array(n);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = points[i]!;
    const key = canonicalSeriesKey(p.metric, p.tags);
    let s = ids.get(key);
    if (s === undefined) {
      s = series.length;
      ids.set(key, s);
      series.push({ metric: p.metric, tags: p.tags });
      keys.push(key);
    }
    seriesIndex[i] = s;
    timestamps[i] = p.timestamp;
    values[i] = p.value;
  }
  return { series, keys, seriesIndex, timestamps, values };
}

/** One Point per row (points of a series share its tags object). */
export function seriesBatchToPoints(b: SeriesBatch): Point[] {
  const out: Point[] = new Array(b.seriesIndex.length);
  for (let i = 0; i < out.length; i++) {
    const s = b.series[b.seriesIndex[i]!]!;
    out[i] = { metric: s.metric, tags: s.tags, timestamp: b.timestamps[i]!, value: b.values[i]! };
  }
  return out;
}
