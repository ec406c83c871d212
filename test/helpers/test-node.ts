import type { ServeConfig } from '../../src/common/config.js';
import { defaultServeConfig, resolveServeConfig } from '../../src/common/config.js';
import { silentLogger } from '../../src/common/logger.js';
import { createNode, type V3Node } from '../../src/cli/node.js';
import { tempDir } from './temp-dir.js';

/** An in-process node on a temp dir, for app.inject() tests. */
export async function testNode(overrides: Partial<ServeConfig> = {}): Promise<V3Node & { dispose(): Promise<void>; dataDir: string }> {
  const tmp = tempDir('node');
  // TSDB_STORE_BACKEND=rocksdb runs the in-process tests on RocksDB too (spawned servers read it from the env anyway).
  const { storeBackend } = resolveServeConfig({}, { TSDB_STORE_BACKEND: process.env.TSDB_STORE_BACKEND });
  const config = defaultServeConfig({ dataDir: tmp.dir, port: 0, partitions: 4, flushInterval: 60_000, storeBackend, ...overrides });
  const node = await createNode({ config, logger: silentLogger() });
  return Object.assign(node, {
    dataDir: tmp.dir,
    async dispose() {
      await node.close();
      tmp.cleanup();
    },
  });
}

/** Sum of end offsets over every partition: changes iff anything was written to the log. */
export async function logSize(node: V3Node): Promise<number> {
  let n = 0;
  for (let p = 0; p < node.log.partitions; p++) n += (await node.log.offsets(p)).end;
  return n;
}
