/**
 * Log records and Avro write bodies: Avro single-object encoding (`C3 01`, the writer schema's 8-byte CRC-64-AVRO
 * fingerprint, then the Avro binary body) of a SeriesBatch (what V3 writes) or a PointBatch, or of a single Point
 * from external producers.
 * Byte layout and examples: docs/format/log-record.md.
 *
 * Every input is untrusted (HTTP bodies, log records written by other versions or other programs). Decoding never
 * allocates more than the input could hold: every declared length and block count is checked against the bytes
 * that remain before anything is allocated, and every failure is a TsdbError naming the byte offset.
 */
import { TsdbError } from '../common/errors.js';
import type { Point } from '../common/point.js';
import { BodyError } from './avro-body-reader.js';
import { encodeRecord } from './avro-body-writer.js';
import { findWriterSchema, HEADER_BYTES, POINT_BATCH_FINGERPRINT, POINT_FINGERPRINT, SERIES_BATCH_FINGERPRINT, writerSchemas, type RegistryEntry } from './avro-schemas.js';
import { encodeSeriesBatchRecord, type SeriesBatch } from './avro-series-batch.js';
import type { SeriesMemo } from './series-memo.js';

export type { Type as AvroType } from 'avsc';
export {
  HEADER_BYTES,
  POINT_BATCH_CANONICAL_FORM,
  POINT_BATCH_FINGERPRINT,
  POINT_BATCH_SCHEMA,
  POINT_CANONICAL_FORM,
  POINT_FINGERPRINT,
  POINT_SCHEMA,
  pointBatchType,
  pointType,
  registerWriterSchema,
  SERIES_BATCH_CANONICAL_FORM,
  SERIES_BATCH_FINGERPRINT,
  SERIES_BATCH_SCHEMA,
  seriesBatchType,
  writerSchemas,
} from './avro-schemas.js';
export { pointsToSeriesBatch, seriesBatchToPoints } from './avro-series-batch.js';
export type { SeriesBatch, SeriesRef } from './avro-series-batch.js';
export type { RecordKind, WriterSchema } from './avro-schemas.js';

/** One log record / application/avro body: single-object-encoded PointBatch of the current schema. */
export function encodePointBatch(points: readonly Point[]): Buffer {
  return encodeRecord(POINT_BATCH_FINGERPRINT, points, true);
}

/** A single-object-encoded Point, as some external producers write them. */
export function encodePoint(point: Point): Buffer {
  return encodeRecord(POINT_FINGERPRINT, [point], false);
}

/**
 * One log record: a single-object-encoded SeriesBatch of the points order[from..to) of `batch` (all of them
 * without `order`), with a series table of just the series those points use.
 */
export function encodeSeriesBatch(batch: SeriesBatch, order?: Int32Array, from?: number, to?: number): Buffer {
  return encodeSeriesBatchRecord(SERIES_BATCH_FINGERPRINT, batch, order, from, to);
}

/**
 * Decodes a single-object-encoded SeriesBatch, PointBatch or Point written with any registered writer schema.
 * Throws TSDB_ERR_AVRO_FINGERPRINT (short, bad magic, unknown fingerprint) or TSDB_ERR_AVRO_DECODE (body).
 */
export function decodeLogRecord(input: Buffer | Uint8Array): Point[] {
  return decodeWith(input, (entry, buf) => entry.decode(buf, HEADER_BYTES));
}

/** Like decodeLogRecord, as columns grouped by series: what the materializer applies. */
export function decodeLogRecordColumns(input: Buffer | Uint8Array, memo?: SeriesMemo): SeriesBatch {
  return decodeWith(input, (entry, buf) => entry.decodeColumns(buf, HEADER_BYTES, memo));
}

/** A write body as it was written: points (Point, PointBatch: validated point by point) or a SeriesBatch. */
export type DecodedBody = { kind: 'points'; points: Point[] } | { kind: 'series'; batch: SeriesBatch };

export function decodeWriteBody(input: Buffer | Uint8Array, memo?: SeriesMemo): DecodedBody {
  return decodeWith(input, (entry, buf): DecodedBody =>
    entry.kind === 'series' ? { kind: 'series', batch: entry.decodeColumns(buf, HEADER_BYTES, memo) } : { kind: 'points', points: entry.decode(buf, HEADER_BYTES) },
  );
}

function decodeWith<T>(input: Buffer | Uint8Array, body: (entry: RegistryEntry, buf: Buffer) => T): T {
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
  const entry = findWriterSchema(fingerprint);
  if (!entry) {
    const known = writerSchemas().map((e) => `${e.fingerprint} (${e.name})`).join(', ');
    throw headerError(`bytes=${size}, fingerprint=${fingerprint}`, `unknown writer schema; known: ${known}`, 'fingerprint', 2);
  }
  try {
    return body(entry, buf);
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
