import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/clock.js';
import type { ServeConfig } from '../common/config.js';
import { errorBodySchema, registerErrorHandling } from '../common/http-errors.js';
import type { Logger } from '../common/logger.js';
import { createMetrics, type Metrics } from '../common/metrics.js';
import { writeRoutes } from '../ingest/write-routes.js';
import { createWriteService } from '../ingest/write-service.js';
import { createEmbeddedLog } from '../log/embedded/embedded-log.js';
import type { PartitionedLog } from '../log/types.js';
import { createMaterializer, type Materializer } from '../materializer/materializer.js';
import { queryRoutes } from '../query/query-routes.js';
import { createQueryService } from '../query/query-service.js';
import { createClassicLevelStore } from '../store/classic-level-store.js';
import type { KvStore } from '../store/types.js';

export interface NodeOptions {
  config: ServeConfig;
  logger: Logger;
  clock?: Clock;
}

export interface V3Node {
  app: FastifyInstance;
  log: PartitionedLog;
  store: KvStore;
  materializer: Materializer;
  metrics: Metrics;
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** One node with all three roles over an embedded log: the single-node default (`tsdb serve`). */
export async function createNode(opts: NodeOptions): Promise<V3Node> {
  const { config, logger } = opts;
  const clock = opts.clock ?? systemClock;
  if (config.log !== 'embedded') {
    throw new Error(`cannot start node (--log ${config.log}): only the embedded log is available in this build`);
  }
  mkdirSync(config.dataDir, { recursive: true });
  const metrics = createMetrics();
  const log = createEmbeddedLog({
    dir: join(config.dataDir, 'log'),
    partitions: config.partitions,
    logger: logger.child({ component: 'log' }),
    clock,
    segmentBytes: config.logSegmentBytes,
    retentionBytes: config.logRetentionBytes > 0 ? config.logRetentionBytes : undefined,
    retentionMs: config.logRetention > 0 ? config.logRetention : undefined,
  });
  await log.open();
  const store = createClassicLevelStore({ location: join(config.dataDir, 'store') });
  await store.open();
  const all = Array.from({ length: config.partitions }, (_, i) => i);
  const materializer = createMaterializer({
    log,
    store,
    partitions: all,
    logger,
    clock,
    metrics,
    flushIntervalMs: config.flushInterval,
    headMaxPoints: config.headMaxPoints,
    blockWindowMs: config.blockWindow,
  });
  await materializer.start();

  const app = Fastify({ logger: false, bodyLimit: config.maxBodyBytes, return503OnClosing: true });
  app.addSchema(errorBodySchema);
  registerErrorHandling(app, logger);
  const writeService = createWriteService({ log, limits: config, clock, logger, metrics });
  await app.register(writeRoutes, { service: writeService, maxBodyBytes: config.maxBodyBytes });
  const queryService = createQueryService({
    reader: materializer,
    partitions: config.partitions,
    limits: { maxSeries: config.maxQuerySeries, maxPoints: config.maxQueryPoints, afterTimeoutMs: config.readyTimeout },
    logger,
  });
  await app.register(queryRoutes, { service: queryService, metrics });

  const statusSchema = { response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, 503: { type: 'object', properties: { status: { type: 'string' }, replaying: { type: 'array', items: { type: 'integer' } } } } } };
  app.get('/health', { schema: statusSchema }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: statusSchema }, async (_req, reply) => {
    const replaying = materializer.partitions().filter((p) => !materializer.isReady(p));
    if (replaying.length > 0) return reply.status(503).send({ status: 'replaying', replaying });
    return { status: 'ready' };
  });
  app.get('/metrics', { schema: { response: { 200: { type: 'string' } } } }, async (_req, reply) => {
    await materializer.refreshMetrics();
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
      await materializer.stop();
      await log.close();
      await store.close();
    },
  };
}
