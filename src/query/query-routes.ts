import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { parseTime } from '../codec/validate-points.js';
import { decodeWriteToken } from '../codec/write-token.js';
import { SERVE_OPTIONS } from '../common/config.js';
import { TsdbError } from '../common/errors.js';
import { toTsdbError } from '../common/http-errors.js';
import type { Logger } from '../common/logger.js';
import type { Metrics } from '../common/metrics.js';
import type { Matcher } from '../store/read-model.js';
import { aggregate, parseBy, parseFill, parseFn, parseStep, type AggregatedSeries } from './aggregate/index.js';
import { SERIES_OPEN, renderAggregated, renderSeriesList, renderSeriesPoints, renderStringList, seriesClose, seriesCloseTruncated, seriesPointsChunks } from './json-output.js';
import { AnswerCache, matchersKey, offsetsKey } from './query-cache.js';
import { guardQuery, type QueryGuard } from './query-guard.js';
import type { QueryPlan, QueryService, ReadStats, TimeRange } from './query-service.js';
import { parseSelector } from './selector.js';

export interface QueryRoutesOptions {
  service: QueryService;
  metrics: Metrics;
  logger?: Logger;
  /** --query-timeout (ms). */
  timeoutMs?: number;
  /** --query-buffer-bytes: raw answers up to this size are sent whole; larger ones stream. */
  bufferBytes?: number;
  /** --query-cache-bytes (0 = off). */
  queryCacheBytes?: number;
  /** --metadata-cache-bytes (0 = off). */
  metadataCacheBytes?: number;
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

/** Optional filters of the tag endpoints (unknown parameters stay ignored, as before they existed). */
const metaFilterParams = {
  type: 'object',
  properties: { selector: { type: 'string', minLength: 1, maxLength: 16384 }, start: timeParam, end: timeParam, after: { type: 'string', minLength: 1, maxLength: 65536 } },
} as const;

const missingOut = { type: 'array', items: { type: 'integer' } };
const seriesOut = { type: 'object', properties: { metric: { type: 'string' }, tags: { type: 'object', additionalProperties: { type: 'string' } } } };
/** Documents the answer; bodies are rendered by json-output.ts and sent as text, so this never re-serialises them. */
const pointsAnswer = {
  type: 'object',
  properties: {
    series: { type: 'array', items: { ...seriesOut, properties: { ...seriesOut.properties, points: { type: 'array' } } } },
    partial: { type: 'boolean' },
    missing: missingOut,
    truncated: { type: 'boolean' },
    error: { type: 'object', additionalProperties: true },
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

interface MetaParams {
  selector?: string;
  start?: string | number;
  end?: string | number;
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

/** Metadata time filter: absent when neither bound is given; a missing bound is open. */
function parseOptionalRange(q: MetaParams): TimeRange | undefined {
  if (q.start === undefined && q.end === undefined) return undefined;
  return parseRange({ start: q.start ?? Number.MIN_SAFE_INTEGER, end: q.end ?? Number.MAX_SAFE_INTEGER });
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** Streamed answers are written in pieces of about this many characters. */
const STREAM_PIECE = 65536;

function sendJson(reply: FastifyReply, body: string): FastifyReply {
  return reply.type(JSON_TYPE).send(body);
}

/**
 * Query and metadata endpoints (API.md), with the guard rails (timeout, cancellation on disconnect, series and
 * point limits), streaming of large raw answers, and the result and metadata caches. README "Querying" and
 * docs/query-serving.md describe every behaviour chosen here.
 */
export const queryRoutes: FastifyPluginAsync<QueryRoutesOptions> = async (app: FastifyInstance, opts) => {
  const { service, metrics, logger } = opts;
  const timeoutMs = opts.timeoutMs ?? SERVE_OPTIONS.queryTimeout.default;
  const bufferBytes = opts.bufferBytes ?? SERVE_OPTIONS.queryBufferBytes.default;
  const queryCache = new AnswerCache('query', opts.queryCacheBytes ?? SERVE_OPTIONS.queryCacheBytes.default, metrics);
  const metaCache = new AnswerCache('metadata', opts.metadataCacheBytes ?? SERVE_OPTIONS.metadataCacheBytes.default, metrics);

  /** A cache key for a complete (not partial) plan: the normalized request plus the offsets the plan read. */
  const keyOf = (cache: AnswerCache, plan: QueryPlan, request: unknown[]): string | undefined =>
    cache.enabled && !plan.partial ? JSON.stringify(request) + '@' + offsetsKey(plan.offsets) : undefined;

  const guard = (reply: FastifyReply, endpoint: string, what: string, ids: string): QueryGuard => guardQuery(reply, { endpoint, timeoutMs, metrics, what, ids });

  const runQuery = async (q: QueryParams, reply: FastifyReply): Promise<FastifyReply> => {
    const timer = metrics.queryLatency.startTimer({ endpoint: 'query' });
    const matchers = parseSelector(q.selector);
    const { start, end } = parseRange(q);
    const after = q.after !== undefined ? decodeWriteToken(q.after) : undefined;
    if (q.fn === undefined) {
      const extra = q.step !== undefined ? 'step' : q.by !== undefined ? 'by' : q.fill !== undefined && q.fill !== 'none' ? 'fill' : undefined;
      if (extra) throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot run query (${extra} without fn): ${extra} applies to aggregates; add fn`, { details: [{ field: extra, reason: 'needs fn' }] });
    }
    const aq =
      q.fn === undefined
        ? undefined
        : {
            fn: parseFn(q.fn),
            start,
            end,
            step: q.step !== undefined ? parseStep(q.step) : undefined,
            by: q.by !== undefined ? parseBy(q.by) : undefined,
            fill: q.fill !== undefined ? parseFill(q.fill) : undefined,
          };
    // Check window limits before reading any data: a huge (end-start)/step fails fast.
    if (aq) aggregate([], aq);
    const g = guard(reply, 'query', 'query', `selector ${JSON.stringify(q.selector)}, range [${start}, ${end})`);
    let streaming = false;
    try {
      // Waits for `after` first: a cached answer is only ever served for offsets at or past the token.
      const plan = await service.plan({ matchers, limit: aq ? undefined : q.limit, after, signal: g.signal });
      const key = keyOf(queryCache, plan, ['query', matchersKey(matchers), start, end, aq?.fn ?? null, aq?.step ?? null, aq?.by ?? null, aq?.fill ?? 'none', q.limit ?? null]);
      const hit = key !== undefined ? queryCache.get(key) : undefined;
      if (hit) {
        metrics.queryPoints.inc(hit.points);
        metrics.queries.inc({ endpoint: 'query', outcome: 'ok' });
        return sendJson(reply, hit.body);
      }
      const outcome = plan.partial ? 'partial' : 'ok';
      if (aq) {
        const stats: ReadStats = { headerBlocks: 0, decodedBlocks: 0, points: 0 };
        let out: AggregatedSeries[];
        try {
          out = await service.aggregate(plan, aq, { signal: g.signal, stats });
        } finally {
          metrics.queryBlocks.inc({ source: 'header' }, stats.headerBlocks);
          metrics.queryBlocks.inc({ source: 'decoded' }, stats.decodedBlocks);
        }
        if (q.limit !== undefined) out = out.slice(0, q.limit);
        const body = renderAggregated(out, plan.partial, plan.missing);
        if (key !== undefined && service.unchanged(plan)) queryCache.set(key, body);
        metrics.queries.inc({ endpoint: 'query', outcome });
        return sendJson(reply, body);
      }

      // Raw points: buffer up to --query-buffer-bytes (errors keep their 4xx/503), then stream the rest.
      const rows = service.read(plan, start, end, g.signal);
      const pieces: string[] = [SERIES_OPEN];
      let size = SERIES_OPEN.length;
      let k = 0;
      let points = 0;
      while (size <= bufferBytes) {
        const r = await rows.next();
        if (r.done) {
          const body = pieces.join('') + seriesClose(plan.partial, plan.missing);
          if (key !== undefined && service.unchanged(plan)) queryCache.set(key, body, points);
          metrics.queryPoints.inc(points);
          metrics.queries.inc({ endpoint: 'query', outcome });
          return sendJson(reply, body);
        }
        points += r.value.points.ts.length;
        for (const c of seriesPointsChunks(r.value, k++)) {
          pieces.push(c);
          size += c.length;
        }
      }

      streaming = true;
      // A client that stops reading a streamed answer cannot receive the truncation trailer: once the query is
      // aborted, it is cut off one more timeout later, so no request outlives twice --query-timeout.
      const cutOff = (): void => {
        setTimeout(() => {
          if (!reply.raw.writableEnded) reply.raw.destroy();
        }, timeoutMs).unref();
      };
      if (g.signal.aborted) cutOff();
      else g.signal.addEventListener('abort', cutOff, { once: true });
      let result: 'complete' | 'truncated' = 'complete';
      let finished = false;
      /** Runs once: when the generator ends, or when the stream closes without ever having started it. */
      const finish = (): void => {
        if (finished) return;
        finished = true;
        g.done();
        void rows.return(undefined).catch(() => undefined);
        metrics.queryStreamed.inc({ outcome: result });
        metrics.queryPoints.inc(points);
        metrics.queries.inc({ endpoint: 'query', outcome: result === 'truncated' ? 'truncated' : outcome });
        timer();
      };
      async function* stream(): AsyncGenerator<string, void, undefined> {
        let kept: string[] | undefined = key !== undefined ? pieces.slice() : undefined;
        let keptSize = size;
        let buf = '';
        try {
          yield pieces.join('');
          pieces.length = 0;
          for (;;) {
            const r = await rows.next();
            if (r.done) break;
            points += r.value.points.ts.length;
            for (const c of seriesPointsChunks(r.value, k++)) {
              buf += c;
              if (kept) {
                kept.push(c);
                keptSize += c.length;
                if (keptSize > queryCache.maxEntryBytes) kept = undefined;
              }
              if (buf.length >= STREAM_PIECE) {
                yield buf;
                buf = '';
              }
            }
          }
          const close = seriesClose(plan.partial, plan.missing);
          if (kept && key !== undefined && service.unchanged(plan)) queryCache.set(key, kept.join('') + close, points);
          kept = undefined;
          yield buf + close;
        } catch (e) {
          // Headers are out: the status cannot change any more. End with a valid body that says what happened.
          result = 'truncated';
          const err = toTsdbError(e, 'run query');
          if (err.code === 'TSDB_ERR_INTERNAL') logger?.error({ err: e }, 'streamed query failed; answer truncated');
          yield buf + seriesCloseTruncated(plan.missing, err.toJSON().error);
        } finally {
          finish();
        }
      }
      const body = Readable.from(stream(), { objectMode: true, highWaterMark: 1 });
      body.once('close', finish);
      return reply.type(JSON_TYPE).send(body);
    } finally {
      if (!streaming) {
        g.done();
        timer();
      }
    }
  };

  app.get<{ Querystring: QueryParams }>('/api/v1/query', { schema: { querystring: queryParams, response: { 200: pointsAnswer, '4xx': errorBody, '5xx': errorBody } } }, (req, reply) => runQuery(req.query, reply));
  app.post<{ Body: QueryParams }>('/api/v1/query', { schema: { body: queryParams, response: { 200: pointsAnswer, '4xx': errorBody, '5xx': errorBody } } }, (req, reply) => runQuery(req.body, reply));

  /**
   * Series, tag keys and tag values share one flow: plan (selection + offsets), look the metadata cache up, compute,
   * render, remember. `matchers` undefined = no selection (whole partitions); `[]` = every series (a time filter
   * without a selector).
   */
  const runMeta = async (
    reply: FastifyReply,
    endpoint: string,
    request: unknown[],
    matchers: Matcher[] | undefined,
    afterToken: string | undefined,
    ids: string,
    compute: (plan: QueryPlan, signal: AbortSignal) => Promise<string>,
  ): Promise<FastifyReply> => {
    const timer = metrics.queryLatency.startTimer({ endpoint });
    const g = guard(reply, endpoint, `${endpoint} lookup`, ids);
    try {
      const after = afterToken !== undefined ? decodeWriteToken(afterToken) : undefined;
      const plan = await service.plan({ matchers, after, signal: g.signal });
      const key = keyOf(metaCache, plan, [...request, matchers ? matchersKey(matchers) : null]);
      const hit = key !== undefined ? metaCache.get(key) : undefined;
      let body: string;
      if (hit) body = hit.body;
      else {
        body = await compute(plan, g.signal);
        if (key !== undefined && service.unchanged(plan)) metaCache.set(key, body);
      }
      metrics.queries.inc({ endpoint, outcome: plan.partial ? 'partial' : 'ok' });
      return sendJson(reply, body);
    } finally {
      g.done();
      timer();
    }
  };

  const metaIds = (q: MetaParams, range: TimeRange | undefined): string =>
    [q.selector !== undefined ? `selector ${JSON.stringify(q.selector)}` : '', range ? `range [${range.start}, ${range.end})` : ''].filter(Boolean).join(', ');

  app.get<{ Querystring: MetaParams & { selector: string } }>(
    '/api/v1/series',
    {
      schema: {
        querystring: { ...metaFilterParams, required: ['selector'], additionalProperties: false },
        response: { 200: { type: 'object', properties: { series: { type: 'array', items: seriesOut }, partial: { type: 'boolean' }, missing: missingOut } }, '4xx': errorBody, '5xx': errorBody },
      },
    },
    async (req, reply) => {
      const matchers = parseSelector(req.query.selector);
      const range = parseOptionalRange(req.query);
      return runMeta(reply, 'series', ['series', range?.start ?? null, range?.end ?? null], matchers, req.query.after, metaIds(req.query, range), async (plan, signal) =>
        renderSeriesList(await service.series(plan, range, signal), plan.partial, plan.missing),
      );
    },
  );

  const metaMatchers = (q: MetaParams, range: TimeRange | undefined): Matcher[] | undefined => (q.selector !== undefined ? parseSelector(q.selector) : range ? [] : undefined);

  app.get<{ Querystring: MetaParams }>(
    '/api/v1/tags',
    { schema: { querystring: metaFilterParams, response: { 200: { type: 'object', properties: { tags: { type: 'array', items: { type: 'string' } }, partial: { type: 'boolean' }, missing: missingOut } }, '4xx': errorBody, '5xx': errorBody } } },
    async (req, reply) => {
      const range = parseOptionalRange(req.query);
      const matchers = metaMatchers(req.query, range);
      return runMeta(reply, 'tags', ['tags', range?.start ?? null, range?.end ?? null], matchers, req.query.after, metaIds(req.query, range), async (plan, signal) =>
        renderStringList('tags', await service.tagKeys(plan, range, signal), plan.partial, plan.missing),
      );
    },
  );

  app.get<{ Params: { key: string }; Querystring: MetaParams }>(
    '/api/v1/tags/:key/values',
    {
      schema: {
        params: { type: 'object', properties: { key: { type: 'string', minLength: 1, maxLength: 256 } } },
        querystring: metaFilterParams,
        response: { 200: { type: 'object', properties: { values: { type: 'array', items: { type: 'string' } }, partial: { type: 'boolean' }, missing: missingOut } }, '4xx': errorBody, '5xx': errorBody },
      },
    },
    async (req, reply) => {
      const range = parseOptionalRange(req.query);
      const matchers = metaMatchers(req.query, range);
      const key = req.params.key;
      const ids = [`key ${JSON.stringify(key)}`, metaIds(req.query, range)].filter(Boolean).join(', ');
      return runMeta(reply, 'tag_values', ['values', key, range?.start ?? null, range?.end ?? null], matchers, req.query.after, ids, async (plan, signal) =>
        renderStringList('values', await service.tagValues(plan, key, range, signal), plan.partial, plan.missing),
      );
    },
  );

  app.get<{ Querystring: { selector: string; after?: string } }>(
    '/api/v1/last',
    { schema: { querystring: { type: 'object', required: ['selector'], additionalProperties: false, properties: { selector: { type: 'string', minLength: 1, maxLength: 16384 }, after: { type: 'string', minLength: 1, maxLength: 65536 } } }, response: { 200: pointsAnswer, '4xx': errorBody, '5xx': errorBody } } },
    async (req, reply) => {
      const timer = metrics.queryLatency.startTimer({ endpoint: 'last' });
      const matchers = parseSelector(req.query.selector);
      const after = req.query.after !== undefined ? decodeWriteToken(req.query.after) : undefined;
      const g = guard(reply, 'last', 'last-point lookup', `selector ${JSON.stringify(req.query.selector)}`);
      try {
        const ans = await service.last(matchers, g.signal, after);
        metrics.queries.inc({ endpoint: 'last', outcome: ans.partial ? 'partial' : 'ok' });
        return sendJson(reply, renderSeriesPoints(ans.result, ans.partial, ans.missing));
      } finally {
        g.done();
        timer();
      }
    },
  );
};
