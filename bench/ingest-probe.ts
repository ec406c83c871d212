/**
 * V3 alone: load a cached TSBS dataset into one node and report ingest (until queryable), then optionally wait for
 * compaction to settle. For profiling and trying settings without a whole `npm run bench` (no peer, no queries).
 *
 *   node dist/bench/ingest-probe.js [--full] [--max-frames N] [--clients N] [--settle] [--cpu-prof] [--kafka BROKERS] [-- serve flags...]
 *
 * --kafka BROKERS: use the Kafka log on that (already running) cluster, topic bench.probe-<time> (left behind).
 *
 * The dataset must already be prepared (run `npm run bench` once at that size). Logs under .cache/bench/probe/<time>/.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDataset } from './dataset.js';
import { summariseProfiles } from './lib/cpuprofile.js';
import { log } from './lib/progress.js';
import { V3 } from './peers/v3.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const dash = argv.indexOf('--');
  const flags = dash >= 0 ? argv.slice(dash + 1) : [];
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const has = (k: string): boolean => own.includes(k);
  const num = (k: string, d: number | undefined): number | undefined => {
    const i = own.indexOf(k);
    return i >= 0 ? Number(own[i + 1]) : d;
  };
  const full = has('--full');
  const scale = full ? 1000 : 100;
  const ds = await prepareDataset(ROOT, { name: `cpu-only-s${scale}-1d-seed123`, scale, start: '2016-01-01T00:00:00Z', end: '2016-01-02T00:00:00Z', interval: '10s', seed: 123, linesPerVmBatch: 10_000, pointsPerV3Batch: 10_000 });
  const workDir = join(ROOT, '.cache', 'bench', 'probe', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(workDir, { recursive: true });
  const cpuProfDir = has('--cpu-prof') ? join(workDir, 'prof') : undefined;
  const kafkaAt = own.indexOf('--kafka');
  const kafka = kafkaAt >= 0 ? { log: 'kafka' as const, kafkaBrokers: own[kafkaAt + 1], topic: `bench.probe-${workDir.split('/').pop()!.toLowerCase()}` } : { log: 'embedded' as const };
  const v3 = await V3.start({ root: ROOT, workDir, label: 'probe', flags, cpuProfDir, ...kafka });
  try {
    const ingest = await v3.ingest(ds, num('--clients', 4)!, num('--max-frames', undefined));
    log(`probe: ${ingest.points} points queryable in ${ingest.seconds.toFixed(2)} s (load ${ingest.loadSeconds.toFixed(2)} s) = ${(ingest.points / ingest.seconds / 1e6).toFixed(3)} M points/s; peak RSS ${(v3.peakRss() / 2 ** 20).toFixed(0)} MiB`);
    if (has('--settle')) {
      const s = await v3.settle();
      log(`probe: settled in ${s.seconds.toFixed(1)} s (${s.seals} seals, ${s.moves} moves); peak RSS ${(v3.peakRss() / 2 ** 20).toFixed(0)} MiB`);
    }
  } finally {
    await v3.stop();
    v3.removeData();
  }
  if (cpuProfDir) {
    const prof = summariseProfiles(cpuProfDir, ROOT, 25);
    log(`profile: ${prof.files} files, ${prof.totalMs.toFixed(0)} ms sampled, ${prof.idleMs.toFixed(0)} ms idle`);
    for (const a of prof.byArea) log(`  ${a.area.padEnd(40)} ${a.ms.toFixed(0).padStart(8)} ms ${a.pct.toFixed(1)}%`);
    for (const t of prof.top) log(`  ${t.fn.padEnd(40)} ${t.where.padEnd(50)} ${t.ms.toFixed(0).padStart(8)} ms ${t.pct.toFixed(1)}%`);
  }
  log(`probe: logs in ${workDir}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
