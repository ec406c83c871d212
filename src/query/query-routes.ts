import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { parseTime } from '../codec/validate-points.js';
import { decodeWriteToken } from '../codec/write-token.js';
import { TsdbError } from '../common/errors.js';
import type { Metrics } from '../common/metrics.js';
import { aggregate, parseBy, parseFill, parseFn, parseStep } from './aggregate/index.js';
import { renderAggregated, renderSeriesPoints } from './json-output.js';
import type { QueryService } from './query-service.js';
import { parseSelector } from './selector.js';

export interface QueryRoutesOptions {
  service: QueryService;
  metrics: Metrics;
}

const timeParam = { anyOf: [{ type: 'integer' }, { type: 'string', minLength: 1, maxLength: 64 }] };
const errorBody = { $ref: 'tsdbError#' };

const queryParams = {
  type: 'object',
  required: ['selector', 'start', 'end'],
  additionalProperties: false,
  properties: {
    selector: { type: 'string', minLength: 1, maxLength: 16384 },
    start: timeParam,
    end: timeParam,
    fn: { type: 'string', enum: ['count', 'sum', 'min', 'max', 'avg', 'first', 'last', 'stddev', 'p50', 'p90', 'p95', 'p99', 'rate', 'increase'] },
    step: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', minLength: 1, maxLength: 32 }] },
    by: { type: 'string', maxLength: 4096 },
    fill: { type: 'string', enum: ['none', 'null', 'previous', 'zero', 'linear'] },
    limit: { type: 'integer', minimum: 1 },
    after: { type: 'string', minLength: 1, maxLength: 65536 },
  },
} as const;

const seriesOut = { type: 'object', properties: { metric: { type: 'string' }, tags: { type: 'object', additionalProperties: { type: 'string' } } } };
const pointsAnswer = {
  type: 'object',
  properties: {
    series: { type: 'array', items: { ...seriesOut, properties: { ...seriesOut.properties, points: { type: 'array' } } } },
    partial: { type: 'boolean' },
    missing: { type: 'array', items: { type: 'integer' } },
  },
};

interface QueryParams {
  selector: string;
  start: string | number;
  end: string | number;
  fn?: string;
  step?: string | number;
  by?: string;
  fill?: string;
  limit?: number;
  after?: string;
}

function time(v: string | number, field: 'start' | 'end'): number {
  const t = parseTime(v);
  if (t === undefined) {
    throw new TsdbError('TSDB_ERR_QUERY_RANGE', `cannot run query (${field}=${JSON.stringify(v)}): not integer milliseconds or an RFC 3339 time`, {
      details: [{ field, reason: 'must be integer milliseconds since the epoch or an RFC 3339 time' }],
    });
  }
  return t;
}

export function parseRange(q: { start: string | number; end: string | number }): { start: number; end: number } {
  const start = time(q.start, 'start');
  const end = time(q.end, 'end');
  if (end <= start) {
    throw new TsdbError('TSDB_ERR_QUERY_RANGE', `cannot run query (start ${start}, end ${end}): end must be after start (ranges are [start, end))`, {
      details: [{ field: 'end', reason: 'must be greater than start' }],
    });
  }
  return { start, end };
}

function sendJson(reply: FastifyReply, body: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(body);
}

/** Query and metadata endpoints (API.md). */
export const queryRoutes: FastifyPluginAsync<QueryRoutesOptions> = async (app: FastifyInstance, opts) => {
  const { service, metrics } = opts;

  const runQuery = async (q: QueryParams, reply: FastifyReply): Promise<FastifyReply> => {
    const timer = metrics.queryLatency.startTimer({ endpoint: 'query' });
    const matchers = parseSelector(q.selector);
    const { start, end } = parseRange(q);
    const after = q.after !== undefined ? decodeWriteToken(q.after) : undefined;
    if (q.fn === undefined) {
      const extra = q.step !== undefined ? 'step' : q.by !== undefined ? 'by' : q.fill !== undefined && q.fill !== 'none' ? 'fill' : undefined;
      if (extra) throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot run query (${extra} without fn): ${extra} applies to aggregates; add fn`, { details: [{ field: extra, reason: 'needs fn' }] });
      const ans = await service.raw({ matchers, start, end, limit: q.limit, after });
      let n = 0;
      for (const s of ans.result) n += s.points.ts.length;
      metrics.queryPoints.inc(n);
      metrics.queries.inc({ endpoint: 'query', outcome: ans.partial ? 'partial' : 'ok' });
      timer();
      return sendJson(reply, renderSeriesPoints(ans.result, ans.partial, ans.missing));
    }
    const aq = {
      fn: parseFn(q.fn),
      start,
      end,
      step: q.step !== undefined ? parseStep(q.step) : undefined,
      by: q.by !== undefined ? parseBy(q.by) : undefined,
      fill: q.fill !== undefined ? parseFill(q.fill) : undefined,
    };
    // Check window limits before reading any data: a huge (end-start)/step fails fast.
    aggregate([], aq);
    const ans = await service.raw({ matchers, start, end, after });
    let out = aggregate(ans.result, aq);
    if (q.limit !== undefined) out = out.slice(0, q.limit);
    metrics.queries.inc({ endpoint: 'query', outcome: ans.partial ? 'partial' : 'ok' });
    timer();
    return sendJson(reply, renderAggregated(out, ans.partial, ans.missing));
  };

  app.get<{ Querystring: QueryParams }>('/api/v1/query', { schema: { querystring: queryParams, response: { 200: pointsAnswer, '4xx': errorBody, '5xx': errorBody } } }, (req, reply) => runQuery(req.query, reply));
  app.post<{ Body: QueryParams }>('/api/v1/query', { schema: { body: queryParams, response: { 200: pointsAnswer, '4xx': errorBody, '5xx': errorBody } } }, (req, reply) => runQuery(req.body, reply));

  app.get<{ Querystring: { selector: string; start?: string | number; end?: string | number } }>(
    '/api/v1/series',
    {
      schema: {
        querystring: { type: 'object', required: ['selector'], additionalProperties: false, properties: { selector: { type: 'string', minLength: 1, maxLength: 16384 }, start: timeParam, end: timeParam } },
        response: { 200: { type: 'object', properties: { series: { type: 'array', items: seriesOut }, partial: { type: 'boolean' }, missing: { type: 'array', items: { type: 'integer' } } } }, '4xx': errorBody },
      },
    },
    async (req) => {
      const matchers = parseSelector(req.query.selector);
      const hasRange = req.query.start !== undefined || req.query.end !== undefined;
      const range = hasRange ? parseRange({ start: req.query.start ?? Number.MIN_SAFE_INTEGER, end: req.query.end ?? Number.MAX_SAFE_INTEGER }) : undefined;
      const ans = await service.series(matchers, range);
      metrics.queries.inc({ endpoint: 'series', outcome: ans.partial ? 'partial' : 'ok' });
      return { series: ans.result.map((s) => ({ metric: s.metric, tags: s.tags })), partial: ans.partial, ...(ans.partial ? { missing: ans.missing } : {}) };
    },
  );

  app.get('/api/v1/tags', { schema: { response: { 200: { type: 'object', properties: { tags: { type: 'array', items: { type: 'string' } }, partial: { type: 'boolean' } } } } } }, async () => {
    const ans = service.tagKeys();
    return { tags: ans.result, partial: ans.partial };
  });

  app.get<{ Params: { key: string } }>(
    '/api/v1/tags/:key/values',
    { schema: { params: { type: 'object', properties: { key: { type: 'string', minLength: 1, maxLength: 256 } } }, response: { 200: { type: 'object', properties: { values: { type: 'array', items: { type: 'string' } }, partial: { type: 'boolean' } } } } } },
    async (req) => {
      const ans = service.tagValues(req.params.key);
      return { values: ans.result, partial: ans.partial };
    },
  );

  app.get<{ Querystring: { selector: string } }>(
    '/api/v1/last',
    { schema: { querystring: { type: 'object', required: ['selector'], additionalProperties: false, properties: { selector: { type: 'string', minLength: 1, maxLength: 16384 } } }, response: { 200: pointsAnswer, '4xx': errorBody } } },
    async (req, reply) => {
      const ans = await service.last(parseSelector(req.query.selector));
      metrics.queries.inc({ endpoint: 'last', outcome: ans.partial ? 'partial' : 'ok' });
      return sendJson(reply, renderSeriesPoints(ans.result, ans.partial, ans.missing));
    },
  );
};
