/** Writing single-object-encoded records: the `C3 01` + fingerprint header, then the Avro binary body of Points. */
import { TsdbError } from '../common/errors.js';
import type { Point } from '../common/point.js';
import { HEADER_BYTES } from './avro-schemas.js';

/*
 * Hand-written rather than avsc's encoder: avsc writes longs below -2^52 wrongly (its zigzag `-2n - 1` is computed
 * in doubles, which cannot hold that odd number exactly), and a direct writer measured ~1.6x faster.
 */
/**
 * Writes the zigzag varint of a safe integer at `pos` (room for 10 bytes is the caller's) and returns the position
 * after it. Exact over ±(2^53 - 1); |v| < 2^47 (every millisecond timestamp until year 6429) takes integer halves.
 */
export function putLong(buf: Buffer, pos: number, v: number): number {
  if (v >= -0x40000000 && v < 0x40000000) {
    let m = v >= 0 ? v << 1 : (~v << 1) | 1;
    while (m > 0x7f) {
      buf[pos++] = (m & 0x7f) | 0x80;
      m >>>= 7;
    }
    buf[pos++] = m;
    return pos;
  }
  if (v > -140737488355328 && v < 140737488355328) {
    const u = v >= 0 ? v * 2 : -v * 2 - 1; // < 2^48, exact
    let hi = Math.floor(u / 268435456); // >= 8: u >= 2^31 here
    const lo = u - hi * 268435456;
    buf[pos++] = (lo & 0x7f) | 0x80;
    buf[pos++] = ((lo >>> 7) & 0x7f) | 0x80;
    buf[pos++] = ((lo >>> 14) & 0x7f) | 0x80;
    buf[pos++] = ((lo >>> 21) & 0x7f) | 0x80;
    while (hi > 0x7f) {
      buf[pos++] = (hi & 0x7f) | 0x80;
      hi >>>= 7;
    }
    buf[pos++] = hi;
    return pos;
  }
  // u = 2a + sign with a = v or -v - 1, as 32-bit halves so that no step needs more than 53 bits.
  const a = v >= 0 ? v : -v - 1;
  let lo = (((a % 4294967296) << 1) | (v < 0 ? 1 : 0)) >>> 0;
  let hi = Math.floor(a / 4294967296) * 2 + Math.floor((a % 4294967296) / 2147483648);
  while (hi > 0 || lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
    hi = Math.floor(hi / 128);
  }
  buf[pos++] = lo;
  return pos;
}

export class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** Zigzag varint of a safe integer, exact over the whole ±(2^53 - 1) range. */
  long(v: number): void {
    this.ensure(10);
    this.pos = putLong(this.buf, this.pos, v);
  }

  string(s: string): void {
    const n = s.length;
    if (n < 64) {
      // Short strings: bytes first, then the one-byte length in front, sparing a native byteLength call.
      this.ensure(1 + 3 * n);
      const buf = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
      // Not ASCII: at most 3 bytes per UTF-16 unit, so up to 21 units still fit a one-byte length (< 64).
      const len = i === n ? n : n <= 21 ? buf.write(s, start, 'utf8') : -1;
      if (len >= 0) {
        buf[this.pos] = len << 1;
        this.pos = start + len;
        return;
      }
    }
    const len = Buffer.byteLength(s, 'utf8');
    this.long(len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  double(d: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(d, this.pos);
  }

  /** The single-object header: `C3 01` + the writer schema's fingerprint (hex of the 8 bytes in record order). */
  header(fingerprint: string): void {
    this.ensure(HEADER_BYTES);
    this.buf[this.pos] = 0xc3;
    this.buf[this.pos + 1] = 0x01;
    this.buf.write(fingerprint, this.pos + 2, 'hex');
    this.pos += HEADER_BYTES;
  }

  /** A right-sized copy of what was written. */
  copyOut(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }
}

/** Kept between calls up to this size, so a rare huge batch does not pin its memory. */
const MAX_KEPT_SCRATCH = 4 * 1024 * 1024;
let scratch = new Writer(64 * 1024);

/** The shared scratch writer, reset to position 0 (callers copy out what they wrote before the next call). */
export function scratchWriter(): Writer {
  if (scratch.buf.length > MAX_KEPT_SCRATCH) scratch = new Writer(64 * 1024);
  scratch.pos = 0;
  return scratch;
}

function writePoint(w: Writer, p: Point): string | undefined {
  if (typeof p !== 'object' || p === null) return 'is not an object';
  if (typeof p.metric !== 'string') return 'metric is not a string';
  if (typeof p.tags !== 'object' || p.tags === null) return 'tags is not an object';
  if (!Number.isSafeInteger(p.timestamp)) return `timestamp ${String(p.timestamp)} is not a safe integer`;
  if (typeof p.value !== 'number') return 'value is not a number';
  w.string(p.metric);
  const keys = Object.keys(p.tags);
  if (keys.length > 0) {
    w.long(keys.length);
    for (const k of keys) {
      const v = p.tags[k];
      if (typeof v !== 'string') return `tag ${JSON.stringify(k)} is not a string`;
      w.string(k);
      w.string(v);
    }
  }
  w.long(0);
  w.long(p.timestamp);
  w.double(p.value);
  return undefined;
}

export function encodeRecord(fingerprint: string, points: readonly Point[], batch: boolean): Buffer {
  const w = scratchWriter();
  w.header(fingerprint);
  if (batch && points.length > 0) w.long(points.length);
  for (let i = 0; i < points.length; i++) {
    const bad = writePoint(w, points[i]!);
    if (bad !== undefined) {
      const what = batch ? 'point batch' : 'point';
      throw new TsdbError('TSDB_ERR_WRITE_INVALID', `cannot encode ${what} (points=${points.length}, index=${i}): ${bad}`, {
        details: [{ index: i, reason: bad }],
      });
    }
  }
  if (batch) w.long(0);
  return w.copyOut();
}
