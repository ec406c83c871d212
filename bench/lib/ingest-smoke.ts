/**
 * V3 ingest only, no peer and no queries: `node dist/bench/lib/ingest-smoke.js [--frames N] [--clients N]
 * [--format series|batch|influx] [--cpu-prof DIR]` loads the first N cached quick-set bodies into a fresh embedded-log node
 * and prints points/s until all queryable. For before/after comparisons while optimising; results are not kept.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDataset } from '../dataset.js';
import { V3 } from '../peers/v3.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const frames = Number(opt('--frames', '200'));
const clients = Number(opt('--clients', '4'));
const cpuProf = opt('--cpu-prof', '');
const format = opt('--format', 'series') as 'series' | 'batch' | 'influx';
const ds = await prepareDataset(ROOT, { name: 'cpu-only-s100-1d-seed123', scale: 100, start: '2016-01-01T00:00:00Z', end: '2016-01-02T00:00:00Z', interval: '10s', seed: 123, linesPerVmBatch: 10_000, pointsPerV3Batch: 10_000 });
const workDir = mkdtempSync(join(tmpdir(), 'v3-smoke-'));
const v3 = await V3.start({ root: ROOT, workDir, label: 'smoke', log: 'embedded', ...(cpuProf ? { cpuProfDir: cpuProf } : {}) });
try {
  const r = await v3.ingest(ds, clients, frames, format);
  const count = await v3.countPoints(ds).catch(() => -1);
  console.log(JSON.stringify({ points: r.points, counted: count, seconds: +r.seconds.toFixed(2), pointsPerS: Math.round(r.points / r.seconds), peakRss: v3.peakRss() }));
} finally {
  await v3.stop();
  v3.removeData();
}
