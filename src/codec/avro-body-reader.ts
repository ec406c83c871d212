/**
 * Reading Avro bodies from untrusted bytes: the hand-written decoder of the current Point and PointBatch schemas,
 * and a validating scanner for any other writer schema (run before avsc, which trusts every length and count).
 * Nothing is allocated before the bytes that remain are checked to hold it; failures are BodyErrors with an offset.
 */
import type { Type } from 'avsc';
import { TsdbError } from '../common/errors.js';
import type { Point } from '../common/point.js';

/** A body that does not decode, with the offset (from the record start) where it stopped making sense. */
export class BodyError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

/** Recursive writer schemas could nest without bound; real data never comes close. */
const MAX_DEPTH = 64;
/** Smallest encoding of a Point: empty metric (1) + empty map (1) + timestamp (1) + double (8). */
const MIN_POINT_BYTES = 11;

/*
 * Short strings are interned in a small direct-mapped table keyed by their bytes. Metric names, tag keys and most
 * tag values repeat across the points of a batch and across batches; comparing a few bytes in JS is several times
 * cheaper than a native UTF-8 decode per string (measured 60–120 ns each), and repeated tags then share one string.
 */
const MAX_INTERNED = 48;
const INTERN_SLOTS = 4096;
// Slot i's bytes live at internArena[i * MAX_INTERNED], so a miss costs a copy, not an allocation.
const internArena = new Uint8Array(INTERN_SLOTS * MAX_INTERNED);
const internLength = new Int8Array(INTERN_SLOTS).fill(-1);
const internStrings: string[] = new Array<string>(INTERN_SLOTS).fill('');

function interned(buf: Buffer, start: number, end: number): string {
  const len = end - start;
  let h = 0x811c9dc5 ^ len; // FNV-1a
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  const slot = (h ^ (h >>> 16)) & (INTERN_SLOTS - 1);
  const base = slot * MAX_INTERNED;
  if (internLength[slot] === len) {
    let i = 0;
    while (i < len && internArena[base + i] === buf[start + i]) i++;
    if (i === len) return internStrings[slot]!;
  }
  const s = buf.toString('utf8', start, end);
  for (let i = 0; i < len; i++) internArena[base + i] = buf[start + i]!;
  internLength[slot] = len;
  internStrings[slot] = s;
  return s;
}

export class Cursor {
  /** Array and map items declared so far; capped at the body size, so zero-byte items cannot loop for long. */
  items = 0;
  depth = 0;

  constructor(readonly buf: Buffer, public pos: number) {}

  fail(reason: string, at: number = this.pos): never {
    throw new BodyError(reason, at);
  }

  /** A zigzag varint long, rejected outside ±(2^53 - 1) rather than silently rounded. */
  long(): number {
    const buf = this.buf;
    const start = this.pos;
    let b = buf[start] ?? 0x80;
    if (b < 0x80) {
      // One byte: counts, lengths and small values, by far the most common case.
      this.pos = start + 1;
      return (b >>> 1) ^ -(b & 1);
    }
    let pos = start, lo = 0, hi = 0;
    // Bits 0–27 in integer arithmetic, the rest as a float multiple of 2^28.
    for (let shift = 0; ; shift += 7) {
      if (pos >= buf.length) this.fail('truncated varint', start);
      b = buf[pos++]!;
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift < 70) hi += (b & 0x7f) * 2 ** (shift - 28);
      else this.fail('varint longer than 10 bytes', start);
      if (b < 0x80) break;
    }
    this.pos = pos;
    if (hi === 0) return (lo >>> 1) ^ -(lo & 1);
    if (hi >= 2 ** 26) this.fail('long outside the safe integer range ±(2^53 - 1)', start);
    const half = hi * 134217728 + (lo >>> 1); // (u >>> 1) with u = hi * 2^28 + lo
    const v = lo & 1 ? -half - 1 : half;
    if (!Number.isSafeInteger(v)) this.fail('long outside the safe integer range ±(2^53 - 1)', start);
    return v;
  }

  /** Length prefix of a string or bytes, checked against what remains. */
  length(): number {
    const at = this.pos;
    const len = this.long();
    if (len < 0) this.fail(`negative length ${len}`, at);
    if (len > this.buf.length - this.pos) this.fail(`length ${len} exceeds the ${this.buf.length - this.pos} remaining bytes`, at);
    return len;
  }

  string(): string {
    const len = this.length();
    const start = this.pos;
    this.pos += len;
    return len <= MAX_INTERNED ? interned(this.buf, start, this.pos) : this.buf.toString('utf8', start, this.pos);
  }

  /** A long that must lie in [min, limit), e.g. an enum or union index. */
  index(limit: number, what: string, min = 0): number {
    const at = this.pos;
    const i = this.long();
    if (i < min || i >= limit) this.fail(`${what} ${i} outside [${min}, ${limit})`, at);
    return i;
  }

  skip(n: number): void {
    if (n > this.buf.length - this.pos) this.fail(`needs ${n} bytes, ${this.buf.length - this.pos} remain`);
    this.pos += n;
  }

  double(): number {
    this.skip(8);
    return this.buf.readDoubleLE(this.pos - 8);
  }

  /** An array or map block count (0 ends the value); a negative count is followed by the block's byte size. */
  blockCount(minItemBytes: number): number {
    const at = this.pos;
    let n = this.long();
    if (n < 0) {
      n = -n;
      const size = this.long();
      if (size < 0 || size > this.buf.length - this.pos) this.fail(`block byte size ${size} is not in [0, remaining]`, at);
    }
    const need = n * Math.max(minItemBytes, 1);
    if (need > this.buf.length - this.pos) {
      this.fail(`block of ${n} items needs at least ${need} bytes, ${this.buf.length - this.pos} remain`, at);
    }
    this.items += n;
    if (this.items > this.buf.length) this.fail(`more array/map items than bytes (${this.items})`, at);
    return n;
  }

  end(): void {
    const extra = this.buf.length - this.pos;
    if (extra !== 0) this.fail(`${extra} trailing bytes after the body`);
  }
}

/** A map<string> of tags. */
export function readTags(c: Cursor): Record<string, string> {
  const tags: Record<string, string> = {};
  for (let n = c.blockCount(2); n !== 0; n = c.blockCount(2)) {
    for (; n > 0; n--) {
      const k = c.string();
      const v = c.string();
      // A plain assignment to "__proto__" would set the prototype (and drop the tag) instead of adding a key.
      if (k === '__proto__') Object.defineProperty(tags, k, { value: v, enumerable: true, writable: true, configurable: true });
      else tags[k] = v;
    }
  }
  return tags;
}

function readPoint(c: Cursor): Point {
  const metric = c.string();
  const tags = readTags(c);
  const timestamp = c.long();
  const value = c.double();
  return { metric, tags, timestamp, value };
}

export function readPointBatchBody(buf: Buffer, pos: number): Point[] {
  const c = new Cursor(buf, pos);
  const points: Point[] = [];
  for (let n = c.blockCount(MIN_POINT_BYTES); n !== 0; n = c.blockCount(MIN_POINT_BYTES)) {
    for (; n > 0; n--) points.push(readPoint(c));
  }
  c.end();
  return points;
}

export function readPointBody(buf: Buffer, pos: number): Point {
  const c = new Cursor(buf, pos);
  const p = readPoint(c);
  c.end();
  return p;
}

/** The parts of avsc's Type objects a scanner needs (avsc's typings leave them out). */
interface TypeShape {
  typeName: string;
  fields?: { type: Type }[];
  itemsType?: Type;
  valuesType?: Type;
  types?: Type[];
  size?: number;
  symbols?: string[];
  underlyingType?: Type;
}

type Scan = (c: Cursor) => void;

/** A validating skipper for a writer schema: walks the body as avsc would, checking every length and count. */
function compileScan(type: Type, memo: Map<Type, Scan>): Scan {
  const done = memo.get(type);
  if (done) return done;
  const t = type as unknown as TypeShape;
  switch (t.typeName) {
    case 'null': return () => {};
    case 'boolean': return (c) => c.skip(1);
    case 'int': return (c) => void c.index(2 ** 31, 'int', -(2 ** 31));
    // avsc reads longs below -2^52 inexactly (odd zigzag values above 2^53), so they are refused here.
    case 'long': return (c) => void c.index(2 ** 53, 'long (as avsc can resolve it)', -(2 ** 52));
    case 'float': return (c) => c.skip(4);
    case 'double': return (c) => c.skip(8);
    case 'string':
    case 'bytes': return (c) => c.skip(c.length());
    case 'fixed': return (c) => c.skip(t.size ?? 0);
    case 'enum': return (c) => void c.index(t.symbols?.length ?? 0, 'enum index');
    case 'array':
    case 'map': {
      const isMap = t.typeName === 'map';
      const inner = (isMap ? t.valuesType : t.itemsType)!;
      let item: Scan | undefined;
      return (c) => {
        item ??= compileScan(inner, memo);
        for (let n = c.blockCount(1); n !== 0; n = c.blockCount(1)) {
          for (; n > 0; n--) {
            if (isMap) c.skip(c.length());
            item(c);
          }
        }
      };
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branches = (t.types ?? []).map((b) => compileScan(b, memo));
      return (c) => branches[c.index(branches.length, 'union branch')]!(c);
    }
    case 'record':
    case 'error': {
      const fields: Scan[] = [];
      const scan: Scan = (c) => {
        if (++c.depth > MAX_DEPTH) c.fail(`records nested deeper than ${MAX_DEPTH}`);
        for (const f of fields) f(c);
        c.depth--;
      };
      memo.set(type, scan); // before the fields, for recursive schemas
      for (const f of t.fields ?? []) fields.push(compileScan(f.type, memo));
      return scan;
    }
    default:
      if (t.typeName.startsWith('logical:') && t.underlyingType) return compileScan(t.underlyingType, memo);
      throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot register Avro writer schema: unsupported type ${t.typeName}`);
  }
}

export function scannerFor(type: Type): (buf: Buffer, pos: number) => void {
  const scan = compileScan(type, new Map());
  return (buf, pos) => {
    const c = new Cursor(buf, pos);
    scan(c);
    c.end();
  };
}
