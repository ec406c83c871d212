/**
 * Log records and Avro write bodies: Avro single-object encoding (`C3 01`, the writer schema's 8-byte CRC-64-AVRO
 * fingerprint, then the Avro binary body) of a PointBatch, or of a single Point from external producers.
 * Byte layout and examples: docs/format/log-record.md.
 *
 * Every input is untrusted (HTTP bodies, log records written by other versions or other programs). Decoding never
 * allocates more than the input could hold: every declared length and block count is checked against the bytes
 * that remain before anything is allocated, and every failure is a TsdbError naming the byte offset.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avsc from 'avsc';
import type { Type } from 'avsc';
import { TsdbError } from '../common/errors.js';
import type { Point } from '../common/point.js';
import { crc64AvroLE, parsingCanonicalForm } from './crc64-avro.js';

export type { Type as AvroType } from 'avsc';

// ---- Untrusted body reading ----------------------------------------------------------------------------------

/** A body that does not decode, with the offset (from the record start) where it stopped making sense. */
class BodyError extends Error {
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

class Cursor {
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

function readPoint(c: Cursor): Point {
  const metric = c.string();
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
  const timestamp = c.long();
  const value = c.double();
  return { metric, tags, timestamp, value };
}

function readPointBatchBody(buf: Buffer, pos: number): Point[] {
  const c = new Cursor(buf, pos);
  const points: Point[] = [];
  for (let n = c.blockCount(MIN_POINT_BYTES); n !== 0; n = c.blockCount(MIN_POINT_BYTES)) {
    for (; n > 0; n--) points.push(readPoint(c));
  }
  c.end();
  return points;
}

function readPointBody(buf: Buffer, pos: number): Point {
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

function scannerFor(type: Type): (buf: Buffer, pos: number) => void {
  const scan = compileScan(type, new Map());
  return (buf, pos) => {
    const c = new Cursor(buf, pos);
    scan(c);
    c.end();
  };
}

// ---- Schemas and the writer registry ---------------------------------------------------------------------------

/** The package root's schemas/ directory: two levels up from src/codec/, three from dist/src/codec/. */
function findSchemaDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'schemas', 'PointBatch.avsc'))) return join(dir, 'schemas');
    dir = dirname(dir);
  }
  throw new TsdbError(
    'TSDB_ERR_CONFIG_INVALID',
    `cannot load Avro schemas (from=${fileURLToPath(import.meta.url)}): no schemas/PointBatch.avsc in any parent directory`,
  );
}

function loadSchema(dir: string, file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
}

const SCHEMA_DIR = findSchemaDir();
export const POINT_SCHEMA = loadSchema(SCHEMA_DIR, 'Point.avsc');
export const POINT_BATCH_SCHEMA = loadSchema(SCHEMA_DIR, 'PointBatch.avsc');
/** Reader types: what every writer schema in the registry is resolved to. */
export const pointType: Type = avsc.Type.forSchema(POINT_SCHEMA as never);
export const pointBatchType: Type = avsc.Type.forSchema(POINT_BATCH_SCHEMA as never);
export const POINT_CANONICAL_FORM = parsingCanonicalForm(POINT_SCHEMA);
export const POINT_BATCH_CANONICAL_FORM = parsingCanonicalForm(POINT_BATCH_SCHEMA);
/** Fingerprints as hex of the 8 bytes in record order (little-endian), i.e. as they appear in a hex dump. */
export const POINT_FINGERPRINT = crc64AvroLE(POINT_CANONICAL_FORM).toString('hex');
export const POINT_BATCH_FINGERPRINT = crc64AvroLE(POINT_BATCH_CANONICAL_FORM).toString('hex');

/** `C3 01` + 8-byte fingerprint. */
export const HEADER_BYTES = 10;

export type RecordKind = 'batch' | 'point';

export interface WriterSchema {
  /** Hex of the fingerprint bytes in record order. */
  readonly fingerprint: string;
  readonly name: string;
  readonly kind: RecordKind;
  readonly canonicalForm: string;
  readonly type: Type;
}

interface Entry extends WriterSchema {
  decode(buf: Buffer, pos: number): Point[];
}

const registry = new Map<string, Entry>();

function configError(fingerprint: string, cause: string): TsdbError {
  return new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot register Avro writer schema (fingerprint=${fingerprint}): ${cause}`);
}

/**
 * Adds a writer schema: records carrying its fingerprint are then decoded with it and resolved (Avro schema
 * resolution) to the current PointBatch or Point reader type. A new schema version ships by registering its
 * writer schema here; old records keep decoding because their schemas stay registered.
 */
export function registerWriterSchema(schema: unknown): WriterSchema {
  let parsed = schema;
  if (typeof schema === 'string') {
    try {
      parsed = JSON.parse(schema) as unknown;
    } catch (e) {
      throw configError('?', `schema is not JSON: ${(e as Error).message}`);
    }
  }
  const canonicalForm = parsingCanonicalForm(parsed);
  const fingerprint = crc64AvroLE(canonicalForm).toString('hex');
  const known = registry.get(fingerprint);
  if (known) return known;
  let type: Type;
  try {
    type = avsc.Type.forSchema(parsed as never);
  } catch (e) {
    throw configError(fingerprint, `not a valid Avro schema: ${(e as Error).message}`);
  }
  const name = type.name ?? type.typeName;
  let entry: Entry;
  if (canonicalForm === POINT_BATCH_CANONICAL_FORM) {
    // The current schemas take the hand-written decoder: one pass that checks and decodes, and no avsc objects.
    entry = { fingerprint, name, kind: 'batch', canonicalForm, type, decode: readPointBatchBody };
  } else if (canonicalForm === POINT_CANONICAL_FORM) {
    entry = { fingerprint, name, kind: 'point', canonicalForm, type, decode: (buf, pos) => [readPointBody(buf, pos)] };
  } else {
    entry = resolvedEntry(fingerprint, name, canonicalForm, type);
  }
  registry.set(fingerprint, entry);
  return entry;
}

/** An older or newer writer schema: check the body against the writer schema, then let avsc resolve it. */
function resolvedEntry(fingerprint: string, name: string, canonicalForm: string, type: Type): Entry {
  let kind: RecordKind;
  let resolver: ReturnType<Type['createResolver']>;
  try {
    resolver = pointBatchType.createResolver(type);
    kind = 'batch';
  } catch {
    try {
      resolver = pointType.createResolver(type);
      kind = 'point';
    } catch (e) {
      throw configError(fingerprint, `${name} resolves to neither io.v3.tsdb.PointBatch nor io.v3.tsdb.Point (${(e as Error).message})`);
    }
  }
  const scan = scannerFor(type);
  const decode = (buf: Buffer, pos: number): Point[] => {
    // The scan bounds every length and count, so avsc (which trusts them) cannot be driven into a huge loop.
    scan(buf, pos);
    const reader = kind === 'batch' ? pointBatchType : pointType;
    let value: unknown;
    try {
      value = reader.decode(buf, pos, resolver).value;
    } catch (e) {
      throw new BodyError(`does not resolve to ${reader.name ?? ''}: ${(e as Error).message}`, pos);
    }
    const recs = kind === 'batch' ? (value as { points: Point[] }).points : [value as Point];
    return recs.map(plainPoint);
  };
  return { fingerprint, name, kind, canonicalForm, type, decode };
}

/** avsc's records are class instances with methods; callers get plain objects, as from the fast path. */
function plainPoint(r: Point): Point {
  return { metric: r.metric, tags: { ...r.tags }, timestamp: r.timestamp, value: r.value };
}

/** Every registered writer schema, current ones first. */
export function writerSchemas(): WriterSchema[] {
  return [...registry.values()];
}

registerWriterSchema(POINT_BATCH_SCHEMA);
registerWriterSchema(POINT_SCHEMA);

// ---- Encoding ------------------------------------------------------------------------------------------------

/*
 * Hand-written rather than avsc's encoder: avsc writes longs below -2^52 wrongly (its zigzag `-2n - 1` is computed
 * in doubles, which cannot hold that odd number exactly), and a direct writer measured ~1.6x faster.
 */
class Writer {
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
    const buf = this.buf;
    let pos = this.pos;
    if (v >= -0x40000000 && v < 0x40000000) {
      let m = v >= 0 ? v << 1 : (~v << 1) | 1;
      while (m > 0x7f) {
        buf[pos++] = (m & 0x7f) | 0x80;
        m >>>= 7;
      }
      buf[pos++] = m;
    } else {
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
    }
    this.pos = pos;
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
}

/** Kept between calls up to this size, so a rare huge batch does not pin its memory. */
const MAX_KEPT_SCRATCH = 4 * 1024 * 1024;
let scratch = new Writer(64 * 1024);

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

function encode(fingerprint: string, points: readonly Point[], batch: boolean): Buffer {
  const w = scratch;
  w.pos = 0;
  w.ensure(HEADER_BYTES);
  w.buf[0] = 0xc3;
  w.buf[1] = 0x01;
  w.buf.write(fingerprint, 2, 'hex');
  w.pos = HEADER_BYTES;
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
  const out = Buffer.allocUnsafe(w.pos);
  w.buf.copy(out, 0, 0, w.pos);
  if (w.buf.length > MAX_KEPT_SCRATCH) scratch = new Writer(64 * 1024);
  return out;
}

/** One log record / application/avro body: single-object-encoded PointBatch of the current schema. */
export function encodePointBatch(points: readonly Point[]): Buffer {
  return encode(POINT_BATCH_FINGERPRINT, points, true);
}

/** A single-object-encoded Point, as some external producers write them. */
export function encodePoint(point: Point): Buffer {
  return encode(POINT_FINGERPRINT, [point], false);
}

/**
 * Decodes a single-object-encoded PointBatch or Point written with any registered writer schema.
 * Throws TSDB_ERR_AVRO_FINGERPRINT (short, bad magic, unknown fingerprint) or TSDB_ERR_AVRO_DECODE (body).
 */
export function decodeLogRecord(input: Buffer | Uint8Array): Point[] {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const size = buf.length;
  const headerError = (what: string, cause: string, field: string, position: number): TsdbError =>
    new TsdbError('TSDB_ERR_AVRO_FINGERPRINT', `cannot decode log record (${what}): ${cause}`, {
      details: [{ field, reason: cause, position }],
    });
  if (size < HEADER_BYTES) {
    throw headerError(`bytes=${size}`, `too short for the single-object header (C3 01 + 8-byte fingerprint)`, 'header', size);
  }
  if (buf[0] !== 0xc3 || buf[1] !== 0x01) {
    const got = buf.toString('hex', 0, 2);
    throw headerError(`bytes=${size}`, `bad magic 0x${got}, expected 0xc301 (Avro single-object encoding)`, 'header', 0);
  }
  const fingerprint = buf.toString('hex', 2, HEADER_BYTES);
  const entry = registry.get(fingerprint);
  if (!entry) {
    const known = [...registry.values()].map((e) => `${e.fingerprint} (${e.name})`).join(', ');
    throw headerError(`bytes=${size}, fingerprint=${fingerprint}`, `unknown writer schema; known: ${known}`, 'fingerprint', 2);
  }
  try {
    return entry.decode(buf, HEADER_BYTES);
  } catch (e) {
    const at = e instanceof BodyError ? e.offset : HEADER_BYTES;
    const why = e instanceof Error ? e.message : String(e);
    throw new TsdbError(
      'TSDB_ERR_AVRO_DECODE',
      `cannot decode log record (bytes=${size}, fingerprint=${fingerprint}, schema=${entry.name}, offset=${at}): ${why}`,
      { cause: e, details: [{ field: 'body', reason: why, position: at }] },
    );
  }
}
