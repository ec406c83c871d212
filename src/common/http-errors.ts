import type { FastifyError, FastifyInstance } from 'fastify';
import type { ErrorCode, ErrorDetail } from './errors.js';
import { TsdbError, isTsdbError } from './errors.js';
import type { Logger } from './logger.js';

/**
 * The one place errors become HTTP answers: TsdbErrors by their catalogue status, fastify's own errors mapped to
 * catalogue codes, anything else a logged 500. Every answer has the API.md error body.
 */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'TSDB_ERR_WRITE_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'TSDB_ERR_WRITE_CONTENT_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'TSDB_ERR_WRITE_MALFORMED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'TSDB_ERR_WRITE_MALFORMED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'TSDB_ERR_WRITE_MALFORMED',
  FST_ERR_VALIDATION: 'TSDB_ERR_HTTP_BAD_REQUEST',
};

export function toTsdbError(err: unknown, what: string): TsdbError {
  if (isTsdbError(err)) return err;
  const fe = err as FastifyError & { validation?: Array<{ instancePath?: string; message?: string; params?: Record<string, unknown> }>; validationContext?: string };
  if (fe.validation) {
    const details: ErrorDetail[] = fe.validation.map((v) => ({
      field: `${fe.validationContext ?? 'request'}${v.instancePath ? v.instancePath.replace(/\//g, '.') : ''}${v.params?.['missingProperty'] ? '.' + String(v.params['missingProperty']) : ''}`,
      reason: v.message ?? 'is invalid',
    }));
    return new TsdbError('TSDB_ERR_HTTP_BAD_REQUEST', `cannot ${what}: ${fe.message}`, { details, cause: err });
  }
  const code = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (code) return new TsdbError(code, `cannot ${what}: ${fe.message}`, { cause: err });
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new TsdbError('TSDB_ERR_HTTP_BAD_REQUEST', `cannot ${what}: ${fe.message}`, { cause: err });
  }
  return new TsdbError('TSDB_ERR_INTERNAL', `cannot ${what}: internal error`, { cause: err });
}

export function registerErrorHandling(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err, req, reply) => {
    const e = toTsdbError(err, `${req.method} ${req.routeOptions.url ?? req.url}`);
    if (e.status >= 500 && e.code === 'TSDB_ERR_INTERNAL') logger.error({ err, url: req.url }, 'internal error');
    if (e.retryAfterS !== undefined || e.status === 503) reply.header('Retry-After', String(e.retryAfterS ?? 1));
    void reply.status(e.status).type('application/json').send(JSON.stringify(e.toJSON()));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new TsdbError('TSDB_ERR_HTTP_NOT_FOUND', `cannot route ${req.method} ${req.url.split('?')[0]}: no such endpoint`);
    void reply.status(e.status).type('application/json').send(JSON.stringify(e.toJSON()));
  });
}

/** The shared error body schema (API.md), referenced by routes as `tsdbError#`. */
export const errorBodySchema = {
  $id: 'tsdbError',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        retriable: { type: 'boolean' },
        details: {
          type: 'array',
          items: { type: 'object', properties: { index: { type: 'integer' }, field: { type: 'string' }, position: { type: 'integer' }, reason: { type: 'string' } } },
        },
      },
    },
  },
} as const;
