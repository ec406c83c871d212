import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { TsdbError } from '../common/errors.js';
import { PRECISIONS, type Precision } from './influx-lines.js';
import type { WriteService } from './write-service.js';

export interface WriteRoutesOptions {
  service: WriteService;
  maxBodyBytes: number;
}

const errorBody = { $ref: 'tsdbError#' };

/** POST /api/v1/write: JSON `{"points":[...]}`, NDJSON, or one Avro single-object-encoded PointBatch, Point or SeriesBatch. */
export const writeRoutes: FastifyPluginAsync<WriteRoutesOptions> = async (app: FastifyInstance, opts) => {
  app.addHook('onClose', async () => opts.service.close());
  // Bodies are parsed here (not by fastify's defaults) so a malformed body gets a precise, catalogued 400.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'application/x-ndjson', 'application/avro', 'avro/binary', 'text/plain'], { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (req, _body, done) => {
    // Line protocol clients do not always say what they send; any content type is taken as line protocol there.
    if (req.url.startsWith('/api/v1/write/influx')) done(null, _body);
    else done(contentTypeError(req.headers['content-type'] ?? ''), undefined);
  });

  app.post(
    '/api/v1/write/influx',
    {
      schema: {
        description: 'Write points as InfluxDB line protocol (docs/format/influx-line-protocol.md): one point per numeric field, metric <measurement>_<field>. A body with any bad line is refused whole, each bad line listed by number.',
        querystring: { type: 'object', properties: { precision: { type: 'string', enum: [...PRECISIONS] } }, additionalProperties: true },
        response: {
          200: { type: 'object', required: ['accepted', 'token'], properties: { accepted: { type: 'integer' }, token: { type: 'string' } } },
          '4xx': errorBody,
          '5xx': errorBody,
        },
      },
    },
    async (req) => {
      const body = req.body as Buffer | undefined;
      if (!body || body.length === 0) throw new TsdbError('TSDB_ERR_WRITE_MALFORMED', 'cannot write points (0 bytes): the body is empty');
      const precision = ((req.query as { precision?: Precision }).precision ?? 'ns') as Precision;
      return opts.service.writeInflux(body, precision);
    },
  );

  app.post(
    '/api/v1/write',
    {
      schema: {
        description: 'Write points. Body: JSON {"points":[...]}, NDJSON (one point per line), or an Avro single-object-encoded PointBatch, Point or SeriesBatch.',
        response: {
          200: { type: 'object', required: ['accepted', 'token'], properties: { accepted: { type: 'integer' }, token: { type: 'string' } } },
          '4xx': errorBody,
          '5xx': errorBody,
        },
      },
    },
    async (req) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      // text/plain is parsed for /api/v1/write/influx only.
      if (type === 'text/plain') throw contentTypeError(type);
      const body = req.body as Buffer | undefined;
      if (!body || body.length === 0) throw new TsdbError('TSDB_ERR_WRITE_MALFORMED', 'cannot write points (0 bytes): the body is empty');
      if (type === 'application/avro' || type === 'avro/binary') {
        return opts.service.writeAvro(body);
      }
      return opts.service.write(type === 'application/x-ndjson' ? parseNdjson(body) : parseJsonBody(body), 'json');
    },
  );
};

function contentTypeError(type: string): TsdbError {
  return new TsdbError('TSDB_ERR_WRITE_CONTENT_TYPE', `cannot write points (content type ${JSON.stringify(type)}): send application/json, application/x-ndjson or application/avro (line protocol goes to /api/v1/write/influx)`);
}

function parseJsonBody(body: Buffer): unknown[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new TsdbError('TSDB_ERR_WRITE_MALFORMED', `cannot parse JSON body (${body.length} bytes): ${(e as Error).message}`, { details: [{ field: 'body', reason: (e as Error).message }] });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || !Array.isArray((doc as { points?: unknown }).points)) {
    throw new TsdbError('TSDB_ERR_WRITE_MALFORMED', `cannot write points (${body.length} bytes): the body must be an object {"points": [...]}`, {
      details: [{ field: 'points', reason: 'must be an array of points' }],
    });
  }
  const extra = Object.keys(doc).filter((k) => k !== 'points');
  if (extra.length > 0) throw new TsdbError('TSDB_ERR_WRITE_MALFORMED', `cannot write points: unknown top-level field "${extra[0]}"`, { details: [{ field: extra[0]!, reason: 'unknown field' }] });
  return (doc as { points: unknown[] }).points;
}

function parseNdjson(body: Buffer): unknown[] {
  const out: unknown[] = [];
  const lines = body.toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      out.push(JSON.parse(line));
    } catch (e) {
      throw new TsdbError('TSDB_ERR_WRITE_MALFORMED', `cannot parse NDJSON line ${i + 1}: ${(e as Error).message}`, { details: [{ field: `line ${i + 1}`, reason: (e as Error).message }] });
    }
  }
  return out;
}
