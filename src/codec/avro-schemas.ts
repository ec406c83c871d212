/**
 * The Avro schemas of log records and the writer-schema registry: which schema a record's fingerprint names, and
 * how its body is decoded into Points (the hand-written decoder for the current schemas, avsc resolution otherwise).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avsc from 'avsc';
import type { Type } from 'avsc';
import { TsdbError } from '../common/errors.js';
import type { Point } from '../common/point.js';
import { BodyError, readPointBatchBody, readPointBody, scannerFor } from './avro-body-reader.js';
import type { SeriesMemo } from './series-memo.js';
import { pointsToSeriesBatch, readSeriesBatchBody, seriesBatchToPoints, type SeriesBatch } from './avro-series-batch.js';
import { crc64AvroLE, parsingCanonicalForm } from './crc64-avro.js';

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
export const SERIES_BATCH_SCHEMA = loadSchema(SCHEMA_DIR, 'SeriesBatch.avsc');
/** Reader types: what every writer schema in the registry is resolved to. */
export const pointType: Type = avsc.Type.forSchema(POINT_SCHEMA as never);
export const pointBatchType: Type = avsc.Type.forSchema(POINT_BATCH_SCHEMA as never);
export const seriesBatchType: Type = avsc.Type.forSchema(SERIES_BATCH_SCHEMA as never);
export const POINT_CANONICAL_FORM = parsingCanonicalForm(POINT_SCHEMA);
export const POINT_BATCH_CANONICAL_FORM = parsingCanonicalForm(POINT_BATCH_SCHEMA);
export const SERIES_BATCH_CANONICAL_FORM = parsingCanonicalForm(SERIES_BATCH_SCHEMA);
/** Fingerprints as hex of the 8 bytes in record order (little-endian), i.e. as they appear in a hex dump. */
export const POINT_FINGERPRINT = crc64AvroLE(POINT_CANONICAL_FORM).toString('hex');
export const POINT_BATCH_FINGERPRINT = crc64AvroLE(POINT_BATCH_CANONICAL_FORM).toString('hex');
export const SERIES_BATCH_FINGERPRINT = crc64AvroLE(SERIES_BATCH_CANONICAL_FORM).toString('hex');

/** `C3 01` + 8-byte fingerprint. */
export const HEADER_BYTES = 10;

export type RecordKind = 'batch' | 'point' | 'series';

export interface WriterSchema {
  /** Hex of the fingerprint bytes in record order. */
  readonly fingerprint: string;
  readonly name: string;
  readonly kind: RecordKind;
  readonly canonicalForm: string;
  readonly type: Type;
}

export interface RegistryEntry extends WriterSchema {
  decode(buf: Buffer, pos: number): Point[];
  /** The same points grouped by series (for a SeriesBatch, as written; else in order of first use). */
  decodeColumns(buf: Buffer, pos: number, memo?: SeriesMemo): SeriesBatch;
}

const registry = new Map<string, RegistryEntry>();

function configError(fingerprint: string, cause: string): TsdbError {
  return new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot register Avro writer schema (fingerprint=${fingerprint}): ${cause}`);
}

/**
 * Adds a writer schema: records carrying its fingerprint are then decoded with it and resolved (Avro schema
 * resolution) to the current PointBatch, Point or SeriesBatch reader type. A new schema version ships by registering its
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
  let entry: RegistryEntry;
  if (canonicalForm === POINT_BATCH_CANONICAL_FORM) {
    // The current schemas take the hand-written decoder: one pass that checks and decodes, and no avsc objects.
    entry = { fingerprint, name, kind: 'batch', canonicalForm, type, decode: readPointBatchBody, decodeColumns: (buf, pos) => pointsToSeriesBatch(readPointBatchBody(buf, pos)) };
  } else if (canonicalForm === POINT_CANONICAL_FORM) {
    const decode = (buf: Buffer, pos: number): Point[] => [readPointBody(buf, pos)];
    entry = { fingerprint, name, kind: 'point', canonicalForm, type, decode, decodeColumns: (buf, pos) => pointsToSeriesBatch(decode(buf, pos)) };
  } else if (canonicalForm === SERIES_BATCH_CANONICAL_FORM) {
    entry = { fingerprint, name, kind: 'series', canonicalForm, type, decode: (buf, pos) => seriesBatchToPoints(readSeriesBatchBody(buf, pos)), decodeColumns: readSeriesBatchBody };
  } else {
    entry = resolvedEntry(fingerprint, name, canonicalForm, type);
  }
  registry.set(fingerprint, entry);
  return entry;
}

/** An older or newer writer schema: check the body against the writer schema, then let avsc resolve it. */
function resolvedEntry(fingerprint: string, name: string, canonicalForm: string, type: Type): RegistryEntry {
  const readers: Array<[RecordKind, Type]> = [['batch', pointBatchType], ['point', pointType], ['series', seriesBatchType]];
  let found: { kind: RecordKind; reader: Type; resolver: ReturnType<Type['createResolver']> } | undefined;
  const why: string[] = [];
  for (const [kind, reader] of readers) {
    try {
      found = { kind, reader, resolver: reader.createResolver(type) };
      break;
    } catch (e) {
      why.push((e as Error).message);
    }
  }
  if (!found) throw configError(fingerprint, `${name} resolves to none of io.v3.tsdb.PointBatch, Point, SeriesBatch (${why.join('; ')})`);
  const { kind, reader, resolver } = found;
  const scan = scannerFor(type);
  const resolve = (buf: Buffer, pos: number): unknown => {
    // The scan bounds every length and count, so avsc (which trusts them) cannot be driven into a huge loop.
    scan(buf, pos);
    try {
      return reader.decode(buf, pos, resolver).value;
    } catch (e) {
      throw new BodyError(`does not resolve to ${reader.name ?? ''}: ${(e as Error).message}`, pos);
    }
  };
  if (kind === 'series') {
    const decodeColumns = (buf: Buffer, pos: number): SeriesBatch => resolvedSeriesBatch(resolve(buf, pos) as ResolvedSeriesBatch, pos);
    return { fingerprint, name, kind, canonicalForm, type, decode: (buf, pos) => seriesBatchToPoints(decodeColumns(buf, pos)), decodeColumns };
  }
  const decode = (buf: Buffer, pos: number): Point[] => {
    const value = resolve(buf, pos);
    const recs = kind === 'batch' ? (value as { points: Point[] }).points : [value as Point];
    return recs.map(plainPoint);
  };
  return { fingerprint, name, kind, canonicalForm, type, decode, decodeColumns: (buf, pos) => pointsToSeriesBatch(decode(buf, pos)) };
}

interface ResolvedSeriesBatch {
  series: Array<{ metric: string; tags: Record<string, string> }>;
  seriesIndex: number[];
  timestamps: number[];
  values: number[];
}

/** avsc's value as columns, with the checks the hand-written decoder makes (equal lengths, indices in range). */
function resolvedSeriesBatch(v: ResolvedSeriesBatch, pos: number): SeriesBatch {
  const n = v.seriesIndex.length;
  if (v.timestamps.length !== n || v.values.length !== n) {
    throw new BodyError(`columns differ in length: seriesIndex ${n}, timestamps ${v.timestamps.length}, values ${v.values.length}`, pos);
  }
  for (let i = 0; i < n; i++) {
    const s = v.seriesIndex[i]!;
    if (s < 0 || s >= v.series.length) throw new BodyError(`series index ${s} of point ${i} outside [0, ${v.series.length})`, pos);
  }
  return {
    series: v.series.map((s) => ({ metric: s.metric, tags: { ...s.tags } })),
    seriesIndex: Int32Array.from(v.seriesIndex),
    timestamps: Float64Array.from(v.timestamps),
    values: Float64Array.from(v.values),
  };
}

/** avsc's records are class instances with methods; callers get plain objects, as from the fast path. */
function plainPoint(r: Point): Point {
  return { metric: r.metric, tags: { ...r.tags }, timestamp: r.timestamp, value: r.value };
}

/** Every registered writer schema, current ones first. */
export function writerSchemas(): WriterSchema[] {
  return [...registry.values()];
}

export function findWriterSchema(fingerprint: string): RegistryEntry | undefined {
  return registry.get(fingerprint);
}

registerWriterSchema(POINT_BATCH_SCHEMA);
registerWriterSchema(POINT_SCHEMA);
registerWriterSchema(SERIES_BATCH_SCHEMA);
