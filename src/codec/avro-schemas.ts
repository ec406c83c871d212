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

export interface RegistryEntry extends WriterSchema {
  decode(buf: Buffer, pos: number): Point[];
}

const registry = new Map<string, RegistryEntry>();

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
  let entry: RegistryEntry;
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
function resolvedEntry(fingerprint: string, name: string, canonicalForm: string, type: Type): RegistryEntry {
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

export function findWriterSchema(fingerprint: string): RegistryEntry | undefined {
  return registry.get(fingerprint);
}

registerWriterSchema(POINT_BATCH_SCHEMA);
registerWriterSchema(POINT_SCHEMA);
