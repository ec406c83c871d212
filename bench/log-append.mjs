// Quick append throughput probe for the embedded log. Usage: npm run build && node bench/log-append.mjs [records]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedLog } from '../dist/src/log/embedded/index.js';
import { silentLogger } from '../dist/src/common/logger.js';

async function run({ records, size, appenders, perAppend, fsync = true }) {
  const dir = mkdtempSync(join(tmpdir(), 'v3-bench-'));
  const log = createEmbeddedLog({ dir, partitions: 1, logger: silentLogger(), fsync });
  await log.open();
  const value = Buffer.alloc(size, 7);
  const calls = Math.ceil(records / perAppend);
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: appenders }, async () => {
    while (next < calls) {
      next++;
      await log.append([{ partition: 0, values: Array.from({ length: perAppend }, () => value) }]);
    }
  }));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const { fsyncCount, writeCount } = log.stats;
  const { end } = await log.offsets(0);
  await log.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ records: end, size, appenders, perAppend, fsync, seconds: +s.toFixed(2), recordsPerS: Math.round(end / s), appendsPerS: Math.round(calls / s), fsyncs: fsyncCount, writes: writeCount, recordsPerFsync: +(end / Math.max(1, fsyncCount)).toFixed(1) }));
}

const n = Number(process.argv[2] ?? 100_000);
await run({ records: n, size: 200, appenders: 1, perAppend: 1 });
await run({ records: n, size: 200, appenders: 64, perAppend: 1 });
await run({ records: n, size: 200, appenders: 1, perAppend: 100 });
await run({ records: n, size: 200, appenders: 64, perAppend: 100 });
await run({ records: n, size: 200, appenders: 64, perAppend: 1, fsync: false });
