/**
 * The one error catalogue. Every error V3 raises on purpose is a TsdbError with a code from CATALOGUE.
 * HTTP status is mapped here and nowhere else, so routes never pick statuses by hand.
 * Messages follow `cannot <verb> <thing> (<ids, offsets, sizes>): <cause>`.
 */

export interface ErrorDetail {
  index?: number;
  field?: string;
  reason: string;
  position?: number;
}

interface CatalogueEntry {
  status: number;
  retriable: boolean;
  summary: string;
}

export const CATALOGUE = {
  TSDB_ERR_WRITE_INVALID: { status: 400, retriable: false, summary: 'one or more points are invalid' },
  TSDB_ERR_WRITE_MALFORMED: { status: 400, retriable: false, summary: 'the request body does not parse' },
  TSDB_ERR_WRITE_TOO_LARGE: { status: 413, retriable: false, summary: 'the request body is over the limit' },
  TSDB_ERR_WRITE_CONTENT_TYPE: { status: 415, retriable: false, summary: 'unsupported content type' },
  TSDB_ERR_WRITE_CARDINALITY: { status: 422, retriable: false, summary: 'the points would create more series of a metric than its limit (--max-series-per-metric)' },
  TSDB_ERR_AVRO_FINGERPRINT: { status: 400, retriable: false, summary: 'unknown Avro schema fingerprint' },
  TSDB_ERR_AVRO_DECODE: { status: 400, retriable: false, summary: 'Avro body does not decode' },
  TSDB_ERR_QUERY_INVALID: { status: 400, retriable: false, summary: 'the query is invalid' },
  TSDB_ERR_QUERY_SELECTOR: { status: 400, retriable: false, summary: 'the selector does not parse' },
  TSDB_ERR_QUERY_RANGE: { status: 400, retriable: false, summary: 'the time range is invalid' },
  TSDB_ERR_QUERY_LIMIT: { status: 422, retriable: false, summary: 'the query exceeds a limit' },
  TSDB_ERR_QUERY_TIMEOUT: { status: 503, retriable: true, summary: 'the query or its wait timed out' },
  TSDB_ERR_QUERY_CANCELLED: { status: 499, retriable: true, summary: 'the client closed the connection; the query was stopped' },
  TSDB_ERR_HTTP_BAD_REQUEST: { status: 400, retriable: false, summary: 'the request does not match the route schema' },
  TSDB_ERR_HTTP_NOT_FOUND: { status: 404, retriable: false, summary: 'no such route' },
  TSDB_ERR_LOG_UNAVAILABLE: { status: 503, retriable: true, summary: 'the log cannot take writes right now' },
  TSDB_ERR_LOG_CORRUPT: { status: 500, retriable: false, summary: 'a log record is corrupt' },
  TSDB_ERR_LOG_OFFSET: { status: 416, retriable: false, summary: 'the offset is outside the log' },
  TSDB_ERR_LOG_CLOSED: { status: 503, retriable: true, summary: 'the log is closed' },
  TSDB_ERR_STORE_IO: { status: 500, retriable: true, summary: 'the store failed an operation' },
  TSDB_ERR_STORE_CLOSED: { status: 503, retriable: true, summary: 'the store is closed' },
  TSDB_ERR_CONFIG_INVALID: { status: 500, retriable: false, summary: 'the configuration is invalid' },
  TSDB_ERR_CLI_USAGE: { status: 400, retriable: false, summary: 'bad command-line usage' },
  TSDB_ERR_INTERNAL: { status: 500, retriable: false, summary: 'internal error' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof CATALOGUE;

export interface TsdbErrorOptions {
  details?: ErrorDetail[];
  cause?: unknown;
  /** Overrides the catalogue's default (e.g. a store error known to be permanent). */
  retriable?: boolean;
  /** Seconds a client should wait before retrying (503s). */
  retryAfterS?: number;
}

export class TsdbError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: ErrorDetail[];
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, message: string, opts: TsdbErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TsdbError';
    this.code = code;
    this.retriable = opts.retriable ?? CATALOGUE[code].retriable;
    this.details = opts.details ?? [];
    this.retryAfterS = opts.retryAfterS;
  }

  get status(): number {
    return CATALOGUE[this.code].status;
  }

  toJSON(): { error: { code: ErrorCode; message: string; details: ErrorDetail[]; retriable: boolean } } {
    return { error: { code: this.code, message: this.message, details: this.details, retriable: this.retriable } };
  }
}

export function isTsdbError(e: unknown): e is TsdbError {
  return e instanceof TsdbError;
}

/** Wraps anything thrown into a TsdbError, keeping the original as `cause`. */
export function asTsdbError(e: unknown, code: ErrorCode, message: string): TsdbError {
  if (e instanceof TsdbError) return e;
  const why = e instanceof Error ? e.message : String(e);
  return new TsdbError(code, `${message}: ${why}`, { cause: e });
}

export function httpStatusOf(code: ErrorCode): number {
  return CATALOGUE[code].status;
}
