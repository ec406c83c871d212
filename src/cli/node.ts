import Fastify, { type FastifyInstance } from 'fastify';
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/clock.js';
import type { ServeConfig } from '../common/config.js';
import { rollupResolutions } from '../common/config.js';
import { errorBodySchema, registerErrorHandling } from '../common/http-errors.js';
import type { Logger } from '../common/logger.js';
import { createMetrics, type Metrics } from '../common/metrics.js';
import { writeRoutes } from '../ingest/write-routes.js';
import { createWriteService } from '../ingest/write-service.js';
import type { PartitionedLog } from '../log/types.js';
import { createMaterializer, type Materializer } from '../materializer/materializer.js';
import { retentionFrom, seriesLimitsFrom } from '../materializer/per-metric.js';
import { queryRoutes } from '../query/query-routes.js';
import { createQueryService } from '../query/query-service.js';
import type { KvStore } from '../store/types.js';
import { openColdStore, openLog, openStore, parseRoles } from './open-parts.js';

export interface NodeOptions {
  config: ServeConfig;
  logger: Logger;
  clock?: Clock;
}

export interface V3Node {
  app: FastifyInstance;
  log: PartitionedLog;
  /** Absent when this process does not run the materializer role. */
  store: KvStore | undefined;
  materializer: Materializer | undefined;
  metrics: Metrics;
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** One node running the configured roles (all three by default: the single-node `tsdb serve`). */
export async function createNode(opts: NodeOptions): Promise<V3Node> {
  const { config, logger } = opts;
  const clock = opts.clock ?? systemClock;
  const roles = parseRoles(config.roles);
  const metrics = createMetrics();
  const log = await openLog(config, logger, clock);
  let store: KvStore | undefined;
  let coldStore: KvStore | undefined;
  let materializer: Materializer | undefined;
  try {
    if (roles.has('materializer')) {
      store = await openStore(config);
      coldStore = await openColdStore(config);
      materializer = createMaterializer({
        log,
        store,
        coldStore,
        hotDurationMs: config.hotDuration,
        compactionIntervalMs: config.compactionInterval,
        compactionGraceMs: config.compactionGrace,
        compactionMaxFragments: config.compactionMaxFragments,
        rollupsMs: rollupResolutions(config.rollups),
        sealWorkers: config.sealWorkers,
        blockCacheBytes: config.blockCacheBytes,
        partitions: Array.from({ length: config.partitions }, (_, i) => i),
        logger,
        clock,
        metrics,
        flushIntervalMs: config.flushInterval,
        headMaxPoints: config.headMaxPoints,
        headMaxBytes: config.headMaxBytes,
        blockWindowMs: config.blockWindow,
        seriesLimits: seriesLimitsFrom(config.maxSeriesPerMetric, config.maxSeriesPerMetricOverrides),
        retention: retentionFrom(config.retention, config.retentionOverrides),
        retentionIntervalMs: config.retentionInterval,
      });
      await materializer.start();
    }
  } catch (e) {
    await materializer?.stop().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await coldStore?.close().catch(() => undefined);
    await log.close().catch(() => undefined);
    throw e;
  }

  const app = Fastify({ logger: false, bodyLimit: config.maxBodyBytes, return503OnClosing: true });
  app.addSchema(errorBodySchema);
  registerErrorHandling(app, logger);
  if (roles.has('ingest')) {
    const writeService = createWriteService({ log, limits: config, clock, logger, metrics, admission: materializer, workers: config.ingestWorkers });
    await app.register(writeRoutes, { service: writeService, maxBodyBytes: config.maxBodyBytes });
  }
  if (roles.has('query') && materializer) {
    const queryService = createQueryService({
      reader: materializer,
      partitions: config.partitions,
      limits: { maxSeries: config.maxQuerySeries, maxPoints: config.maxQueryPoints, afterTimeoutMs: config.readyTimeout },
      logger,
    });
    await app.register(queryRoutes, {
      service: queryService,
      metrics,
      logger,
      timeoutMs: config.queryTimeout,
      bufferBytes: config.queryBufferBytes,
      queryCacheBytes: config.queryCacheBytes,
      metadataCacheBytes: config.metadataCacheBytes,
    });
  }

  const statusSchema = { response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, 503: { type: 'object', properties: { status: { type: 'string' }, replaying: { type: 'array', items: { type: 'integer' } } } } } };
  app.get('/health', { schema: statusSchema }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: statusSchema }, async (_req, reply) => {
    const replaying = materializer ? materializer.partitions().filter((p) => !materializer!.isReady(p)) : [];
    if (replaying.length > 0) return reply.status(503).send({ status: 'replaying', replaying });
    return { status: 'ready' };
  });
  app.get('/metrics', { schema: { response: { 200: { type: 'string' } } } }, async (_req, reply) => {
    await materializer?.refreshMetrics();
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  let closed = false;
  return {
    app,
    log,
    store,
    materializer,
    metrics,
    async listen() {
      return app.listen({ host: config.host, port: config.port });
    },
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await materializer?.stop();
      await log.close();
      await store?.close();
      await coldStore?.close();
    },
  };
}
