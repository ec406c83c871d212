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
import { putLong, scratchWriter, type Writer } from './avro-body-writer.js';
import type { MemoTable, SeriesMemo } from './series-memo.js';

export interface SeriesRef {
  metric: string;
  tags: Record<string, string>;
}

export interface SeriesBatch {
  series: SeriesRef[];
  /** Canonical key of each series (same order as series), when whoever built the batch already has them. */
  keys?: string[];
  /**
   * Where each series' Avro encoding (metric + tags) lies in a decoded body: bytes [offsets[2s], offsets[2s + 1])
   * of buf. Re-encoding a part of the batch copies these bytes instead of writing every string again.
   */
  raw?: { buf: Buffer; offsets: Int32Array };
  /** Per point: index into series. */
  seriesIndex: Int32Array;
  /** Per point: ms since the epoch (safe integers). */
  timestamps: Float64Array;
  values: Float64Array;
}

/** Smallest encoding of a Series: empty metric (1) + empty map (1). */
const MIN_SERIES_BYTES = 2;

function grown(a: Float64Array, need: number): Float64Array {
  if (a.length >= need) return a;
  const b = new Float64Array(need);
  b.set(a);
  return b;
}

function grownInt(a: Int32Array, need: number): Int32Array {
  if (a.length >= need) return a;
  const b = new Int32Array(need);
  b.set(a);
  return b;
}

const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/**
 * n longs into out[k..]. Varints of up to 7 bytes (|v| < 2^48: every real timestamp) are read inline in integer
 * halves; anything longer, or running past the end, goes through Cursor.long with its checks and messages.
 */
function readLongs(c: Cursor, out: Float64Array, k: number, n: number): void {
  const buf = c.buf;
  const safeEnd = buf.length - 7;
  let pos = c.pos;
  for (const end = k + n; k < end; k++) {
    const b0 = buf[pos]!;
    if (b0 < 0x80 && pos < buf.length) {
      out[k] = (b0 >>> 1) ^ -(b0 & 1);
      pos++;
      continue;
    }
    if (pos <= safeEnd) {
      let lo = b0 & 0x7f;
      let p = pos + 1;
      let b = buf[p++]!;
      lo |= (b & 0x7f) << 7;
      if (b >= 0x80) {
        b = buf[p++]!;
        lo |= (b & 0x7f) << 14;
        if (b >= 0x80) {
          b = buf[p++]!;
          lo |= (b & 0x7f) << 21;
          if (b >= 0x80) {
            // bits 28 and up as a second integer (at most 3 more bytes: 21 bits)
            let hi = 0;
            b = buf[p++]!;
            hi = b & 0x7f;
            if (b >= 0x80) {
              b = buf[p++]!;
              hi |= (b & 0x7f) << 7;
              if (b >= 0x80) {
                b = buf[p++]!;
                hi |= (b & 0x7f) << 14;
              }
            }
            if (b < 0x80) {
              const half = hi * 134217728 + (lo >>> 1); // (hi * 2^28 + lo) >>> 1
              out[k] = lo & 1 ? -half - 1 : half;
              pos = p;
              continue;
            }
            c.pos = pos;
            out[k] = c.long();
            pos = c.pos;
            continue;
          }
        }
      }
      out[k] = (lo >>> 1) ^ -(lo & 1);
      pos = p;
      continue;
    }
    c.pos = pos;
    out[k] = c.long();
    pos = c.pos;
  }
  c.pos = pos;
}

/** n little-endian doubles into out[k..]; blockCount already checked that 8n bytes remain. */
function readDoubles(c: Cursor, out: Float64Array, k: number, n: number): void {
  const buf = c.buf;
  if (LITTLE_ENDIAN) {
    buf.copy(new Uint8Array(out.buffer, out.byteOffset + k * 8, n * 8), 0, c.pos, c.pos + n * 8);
    c.pos += n * 8;
    return;
  }
  for (let j = 0; j < n; j++) out[k + j] = c.double();
}

/** An array column that must hold exactly `len` items (as many as seriesIndex). */
function readColumn(c: Cursor, name: string, len: number, minItemBytes: number, read: (c: Cursor, out: Float64Array, k: number, n: number) => void): Float64Array {
  let out: Float64Array = new Float64Array(0);
  let k = 0;
  for (let n = c.blockCount(minItemBytes); n !== 0; n = c.blockCount(minItemBytes)) {
    if (k + n > len) c.fail(`${name} has more items than seriesIndex (${len})`);
    out = grown(out, k + n);
    read(c, out, k, n);
    k += n;
  }
  if (k !== len) c.fail(`${name} has ${k} items, seriesIndex ${len}`);
  return out;
}

/** Decodes a SeriesBatch body from untrusted bytes (every count checked against the bytes left before allocating). */
export function readSeriesBatchBody(buf: Buffer, pos: number, memo?: SeriesMemo): SeriesBatch {
  const c = new Cursor(buf, pos);
  const series: SeriesRef[] = [];
  const keys: string[] | undefined = memo ? [] : undefined;
  let prev: MemoTable | undefined;
  let firstHash = 0;
  let allHit = true;
  let offsets: Int32Array = new Int32Array(0);
  for (let n = c.blockCount(MIN_SERIES_BYTES); n !== 0; n = c.blockCount(MIN_SERIES_BYTES)) {
    offsets = grownInt(offsets, 2 * (series.length + n));
    for (; n > 0; n--) {
      const start = c.pos;
      offsets[2 * series.length] = start;
      if (memo) {
        if (series.length === 0) {
          // The table an earlier record began with the same first entry: usually the same series, same order.
          skipSeries(c);
          firstHash = memo.hash(buf, start, c.pos);
          prev = memo.table(firstHash);
          c.pos = start;
        }
        if (!memoEntry(c, memo, prev, series, keys!)) allHit = false;
      } else {
        const metric = c.string();
        series.push({ metric, tags: readTags(c) });
      }
      offsets[2 * series.length - 1] = c.pos;
    }
  }
  const nSeries = series.length;
  if (memo && nSeries > 0 && !(allHit && prev !== undefined && prev.refs.length === nSeries)) {
    const base = offsets[0]!;
    const starts = new Int32Array(nSeries);
    const ends = new Int32Array(nSeries);
    for (let k = 0; k < nSeries; k++) {
      starts[k] = offsets[2 * k]! - base;
      ends[k] = offsets[2 * k + 1]! - base;
    }
    memo.saveTable(firstHash, { bytes: Buffer.from(buf.subarray(base, offsets[2 * nSeries - 1]!)), starts, ends, refs: series.slice(), keys: keys!.slice() });
  }
  let seriesIndex: Int32Array = new Int32Array(0);
  let len = 0;
  for (let n = c.blockCount(1); n !== 0; n = c.blockCount(1)) {
    seriesIndex = grownInt(seriesIndex, len + n);
    for (; n > 0; n--) {
      const at = c.pos;
      const s = c.long();
      if (s < 0 || s >= nSeries) c.fail(`series index ${s} of point ${len} outside [0, ${nSeries})`, at);
      seriesIndex[len++] = s;
    }
  }
  const timestamps = readColumn(c, 'timestamps', len, 1, readLongs);
  const values = readColumn(c, 'values', len, 8, readDoubles);
  c.end();
  return { series, keys, seriesIndex, timestamps, values, raw: { buf, offsets } };
}

/**
 * Reads series-table entry number series.length through the memo: first against the same position of an earlier
 * record's table (one native byte comparison), then by its bytes' hash; decodes it only when both miss. The entry's
 * bytes alone decide what it decodes to, so equal bytes are the same series. Returns whether it was memoized.
 */
function memoEntry(c: Cursor, memo: SeriesMemo, prev: MemoTable | undefined, series: SeriesRef[], keys: string[]): boolean {
  const buf = c.buf;
  const start = c.pos;
  const s = series.length;
  if (prev !== undefined && s < prev.refs.length) {
    const ps = prev.starts[s]!;
    const pe = prev.ends[s]!;
    const len = pe - ps;
    if (len <= buf.length - start && buf.compare(prev.bytes, ps, pe, start, start + len) === 0) {
      c.pos = start + len;
      series.push(prev.refs[s]!);
      keys.push(prev.keys[s]!);
      return true;
    }
  }
  skipSeries(c);
  const end = c.pos;
  const hit = memo.get(buf, start, end);
  if (hit) {
    series.push(hit.ref);
    keys.push(hit.key);
    return true;
  }
  c.pos = start;
  const ref = { metric: c.string(), tags: readTags(c) };
  const key = canonicalSeriesKey(ref.metric, ref.tags);
  memo.set(buf, start, end, { ref, key });
  series.push(ref);
  keys.push(key);
  return false;
}

/** Moves past one series-table entry (metric string, tags map) checking every length, building no string. */
function skipSeries(c: Cursor): void {
  c.skip(c.length());
  for (let n = c.blockCount(2); n !== 0; n = c.blockCount(2)) {
    for (; n > 0; n--) {
      c.skip(c.length());
      c.skip(c.length());
    }
  }
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

let gathered = new Float64Array(1024);
function gatherScratch(n: number): Float64Array {
  if (gathered.length < n) gathered = new Float64Array(Math.max(n, gathered.length * 2));
  return gathered;
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
      const raw = b.raw;
      for (const s of used) {
        if (raw === undefined) {
          writeSeries(w, b.series[s]!);
          continue;
        }
        const start = raw.offsets[2 * s]!;
        const end = raw.offsets[2 * s + 1]!;
        w.ensure(end - start);
        raw.buf.copy(w.buf, w.pos, start, end);
        w.pos += end - start;
      }
    }
    w.long(0);
    // Three arrays of `count` items, each one block (an empty array is just its terminating 0).
    // Room is made once per column (a varint is at most 10 bytes), then the items are written inline.
    if (count > 0) w.long(count);
    w.ensure(count * 5 + 1);
    let buf = w.buf;
    let pos = w.pos;
    for (let k = from; k < to; k++) {
      let m = localOf[idx[order ? order[k]! : k]!]! << 1; // an int32 index: zigzag of a non-negative int
      while (m > 0x7f) {
        buf[pos++] = (m & 0x7f) | 0x80;
        m >>>= 7;
      }
      buf[pos++] = m;
    }
    buf[pos++] = 0;
    w.pos = pos;
    if (count > 0) w.long(count);
    w.ensure(count * 10 + 1);
    buf = w.buf;
    pos = w.pos;
    const ts = b.timestamps;
    for (let k = from; k < to; k++) {
      const i = order ? order[k]! : k;
      const t = ts[i]!;
      if (!Number.isSafeInteger(t)) throw badTimestamp(b, i);
      pos = putLong(buf, pos, t);
    }
    buf[pos++] = 0;
    w.pos = pos;
    if (count > 0) w.long(count);
    w.ensure(count * 8 + 1);
    const vs = b.values;
    if (LITTLE_ENDIAN && !order) {
      w.buf.set(new Uint8Array(vs.buffer, vs.byteOffset + from * 8, count * 8), w.pos);
      w.pos += count * 8;
    } else if (LITTLE_ENDIAN) {
      const gathered = gatherScratch(count);
      for (let k = 0; k < count; k++) gathered[k] = vs[order![from + k]!]!;
      w.buf.set(new Uint8Array(gathered.buffer, 0, count * 8), w.pos);
      w.pos += count * 8;
    } else {
      for (let k = from; k < to; k++) w.double(vs[order ? order[k]! : k]!);
    }
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
