import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../common/clock.js';
import type { ServeConfig } from '../common/config.js';
import { TsdbError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { createEmbeddedLog } from '../log/embedded/embedded-log.js';
import { createKafkaLog } from '../log/kafka/kafka-log.js';
import type { PartitionedLog } from '../log/types.js';
import { createStore } from '../store/open-store.js';
import type { KvStore } from '../store/types.js';

/** The log the configuration names, opened. `--log embedded` keeps it under <data-dir>/log. */
export async function openLog(config: ServeConfig, logger: Logger, clock: Clock): Promise<PartitionedLog> {
  const log =
    config.log === 'kafka'
      ? createKafkaLog({
          brokers: config.kafkaBrokers,
          topic: config.topic,
          partitions: config.partitions,
          replicationFactor: config.kafkaReplicationFactor,
          logger: logger.child({ component: 'log', log: 'kafka' }),
          clientId: `v3-${config.nodeId}`,
        })
      : createEmbeddedLog({
          dir: join(config.dataDir, 'log'),
          partitions: config.partitions,
          logger: logger.child({ component: 'log', log: 'embedded' }),
          clock,
          segmentBytes: config.logSegmentBytes,
          retentionBytes: config.logRetentionBytes > 0 ? config.logRetentionBytes : undefined,
          retentionMs: config.logRetention > 0 ? config.logRetention : undefined,
        });
  await log.open();
  return log;
}

export async function openStore(config: ServeConfig): Promise<KvStore> {
  mkdirSync(config.dataDir, { recursive: true });
  const store = createStore({ backend: config.storeBackend, location: join(config.dataDir, 'store') });
  await store.open();
  return store;
}

/** The cold-tier store (docs/storage-lifecycle.md): same backend as the hot one, its own directory. */
export async function openColdStore(config: ServeConfig): Promise<KvStore> {
  const location = config.coldDir || join(config.dataDir, 'cold');
  mkdirSync(location, { recursive: true });
  const store = createStore({ backend: config.storeBackend, location, tier: 'cold' });
  await store.open();
  return store;
}

export type Role = 'ingest' | 'materializer' | 'query';

export function parseRoles(list: string[]): Set<Role> {
  const roles = new Set<Role>();
  for (const r of list) {
    if (r !== 'ingest' && r !== 'materializer' && r !== 'query') {
      throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot read setting --roles (${list.join(',')}): unknown role "${r}" (expected ingest, materializer, query)`);
    }
    roles.add(r);
  }
  if (roles.size === 0) throw new TsdbError('TSDB_ERR_CONFIG_INVALID', 'cannot read setting --roles: at least one role is needed');
  if (roles.has('query') && !roles.has('materializer')) {
    throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot read setting --roles (${list.join(',')}): query reads the local materializer in this build; add materializer`);
  }
  return roles;
}
