import { parseArgs } from 'node:util';
import { systemClock } from '../common/clock.js';
import { SERVE_OPTIONS, resolveServeConfig, rollupResolutions } from '../common/config.js';
import { TsdbError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { createMetrics } from '../common/metrics.js';
import { createMaterializer } from '../materializer/materializer.js';
import { seriesLimitsFrom } from '../materializer/per-metric.js';
import { coldPartitionRanges, encodeState, partitionRanges, stateKey } from '../store/row-keys.js';
import type { KvStore } from '../store/types.js';
import { openColdStore, openLog, openStore } from './open-parts.js';

export const REPLAY_HELP = `Usage: tsdb replay --partition P|--all [--from earliest|OFFSET] [serve options]

Rebuilds the materialized state of partitions from the log: wipes what the store holds for them, then replays
the log from the first retained record (earliest, the default) or from OFFSET. Run it with the node stopped
(the store is locked while a node runs). Takes the same --data-dir / --log / --kafka-brokers / --topic /
--partitions settings as 'tsdb serve'. Progress goes to stderr.
Options:
  --partition P   one partition
  --all           every partition
  --from F        earliest (default) or a log offset; records before OFFSET are not replayed
  --help          this text
`;

function bar(done: number, total: number, width = 30): string {
  const f = total === 0 ? 1 : Math.min(1, done / total);
  const n = Math.round(f * width);
  return `[${'#'.repeat(n)}${'-'.repeat(width - n)}] ${(f * 100).toFixed(1).padStart(5)}%`;
}

export async function runReplayCommand(argv: string[]): Promise<void> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' }, partition: { type: 'string' }, all: { type: 'boolean' }, from: { type: 'string' } };
  for (const o of Object.values(SERVE_OPTIONS)) options[o.flag] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(REPLAY_HELP);
    return;
  }
  const usage = (why: string): never => {
    throw new TsdbError('TSDB_ERR_CLI_USAGE', `cannot replay: ${why} (see tsdb replay --help)`);
  };
  if ((values.partition === undefined) === !values.all) usage('give exactly one of --partition P or --all');
  const flags: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string' && k !== 'partition' && k !== 'from') flags[k] = v;
  const config = resolveServeConfig(flags);
  const from = values.from === undefined || values.from === 'earliest' ? 'earliest' : Number(values.from);
  if (from !== 'earliest' && !(Number.isSafeInteger(from) && from >= 0)) usage(`--from must be earliest or an offset, got ${JSON.stringify(values.from)}`);
  let partitions: number[];
  if (values.all) partitions = Array.from({ length: config.partitions }, (_, i) => i);
  else {
    const p = Number(values.partition);
    if (!Number.isInteger(p) || p < 0 || p >= config.partitions) usage(`--partition must be in 0..${config.partitions - 1}, got ${JSON.stringify(values.partition)}`);
    partitions = [p];
  }

  const logger = createLogger({ level: values['log-level'] === undefined ? 'warn' : config.logLevel, name: config.nodeId });
  const log = await openLog(config, logger, systemClock);
  const store = await openStore(config).catch(async (e: unknown) => {
    await log.close();
    throw e;
  });
  let coldStore: KvStore | undefined;
  try {
    coldStore = await openColdStore(config);
    let total = 0;
    const ends = new Map<number, { start: number; end: number }>();
    for (const p of partitions) {
      const o = await log.offsets(p);
      const begin = from === 'earliest' ? o.start : from;
      if (begin < o.start || begin > o.end) usage(`--from ${begin} is outside partition ${p}'s log [${o.start}, ${o.end}]`);
      ends.set(p, { start: begin, end: o.end });
      total += o.end - begin;
    }
    for (const p of partitions) {
      for (const r of partitionRanges(p)) await store.clearRange(r);
      for (const r of coldPartitionRanges(p)) await coldStore.clearRange(r);
      const begin = ends.get(p)!.start;
      if (begin > 0) await store.batch([{ type: 'put', key: stateKey(p), value: encodeState({ nextOffset: begin, flushSeq: 0, nextSeriesId: 0 }) }], { sync: true });
    }
    const materializer = createMaterializer({
      log,
      store,
      partitions,
      logger,
      clock: systemClock,
      metrics: createMetrics({ defaultMetrics: false }),
      flushIntervalMs: config.flushInterval,
      headMaxPoints: config.headMaxPoints,
      blockWindowMs: config.blockWindow,
      coldStore,
      hotDurationMs: config.hotDuration,
      rollupsMs: rollupResolutions(config.rollups),
      sealWorkers: config.sealWorkers,
      // The same per-partition series cap as the node, so a replay sets aside the same records (docs/series-index.md).
      seriesLimits: seriesLimitsFrom(config.maxSeriesPerMetric, config.maxSeriesPerMetricOverrides),
    });
    const started = Date.now();
    await materializer.start();
    const progress = (): number => partitions.reduce((n, p) => n + (materializer.nextOffset(p) - ends.get(p)!.start), 0);
    const tty = process.stderr.isTTY;
    let lastLine = 0;
    while (!partitions.every((p) => materializer.isReady(p))) {
      await new Promise((r) => setTimeout(r, 200));
      const now = Date.now();
      if (tty || now - lastLine > 2000) {
        lastLine = now;
        const done = progress();
        const rate = Math.round(done / Math.max(0.001, (now - started) / 1000));
        process.stderr.write(`${tty ? '\r' : ''}replay ${bar(done, total)} ${done}/${total} records, ${rate} records/s${tty ? '' : '\n'}`);
      }
    }
    await materializer.stop();
    const secs = (Date.now() - started) / 1000;
    process.stderr.write(`${tty ? '\r' : ''}replay ${bar(total, total)} ${total}/${total} records\n`);
    process.stdout.write(JSON.stringify({ partitions, records: progress(), seconds: Number(secs.toFixed(2)) }) + '\n');
  } finally {
    await log.close();
    await store.close();
    await coldStore?.close();
  }
}
