/**
 * The data set: TSBS cpu-only in Influx line protocol (from `tsbs_generate_data` when it is installed, else from
 * bench/tsbs/generate.ts), and the request bodies both systems are loaded with, built once and cached under
 * .cache/bench/data/:
 *   <name>.influx        line protocol, as generated
 *   <name>.vm.frames     VictoriaMetrics bodies: `linesPerVmBatch` lines of line protocol each
 *   <name>.v3.frames     V3 bodies: Avro PointBatch (encodePointBatch) of `pointsPerV3Batch` points each; one V3
 *                        point per field: metric `cpu_<field>`, the line's tags, timestamp ns → ms, the value
 *   <name>.v3series-<N>.frames  V3 bodies: Avro SeriesBatch (encodeSeriesBatch) of N points each (10,000 lines, the
 *                        same lines as one VictoriaMetrics body); built from <name>.influx on first use, so adding
 *                        it did not invalidate the caches of the other files
 *   <name>.meta.json     counts and time range
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePointBatch, encodeSeriesBatch, pointsToSeriesBatch } from '../src/codec/avro-record.js';
import type { Point } from '../src/common/point.js';
import { FrameWriter } from './lib/frames.js';
import { Progress, log } from './lib/progress.js';
import { generateCpuOnly } from './tsbs/generate.js';

export interface DatasetSpec {
  name: string;
  scale: number;
  start: string;
  end: string;
  interval: string;
  seed: number;
  linesPerVmBatch: number;
  pointsPerV3Batch: number;
}

export interface Dataset {
  spec: DatasetSpec;
  generator: string;
  influxPath: string;
  vmFrames: string;
  v3Frames: string;
  lines: number;
  points: number;
  hosts: number;
  startMs: number;
  /** Last timestamp + 1 ms. */
  endMs: number;
  intervalMs: number;
  influxBytes: number;
  v3Bytes: number;
  /** SeriesBatch bodies (what the benchmark loads V3 with): file, total bytes, points per body. */
  v3SeriesFrames: string;
  v3SeriesBytes: number;
  pointsPerV3SeriesBatch: number;
}

/** Points per SeriesBatch body: 10,000 TSBS lines, as many as one VictoriaMetrics body carries. */
export const POINTS_PER_SERIES_BATCH = 100_000;

/** Bump when the generator's output or the frame layout changes (invalidates the cache). */
const DATA_VERSION = 1;

function parseInterval(s: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(s);
  if (!m) throw new Error(`bad interval ${s}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

/** Calls `onLine` for every line of a file (chunked reads, no readline overhead). */
async function eachLine(path: string, onLine: (line: string) => Promise<void> | void): Promise<void> {
  let rest = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 22 })) {
    const text = rest + (chunk as string);
    let from = 0;
    for (;;) {
      const nl = text.indexOf('\n', from);
      if (nl < 0) break;
      if (nl > from) {
        const r = onLine(text.slice(from, nl));
        if (r) await r;
      }
      from = nl + 1;
    }
    rest = text.slice(from);
  }
  if (rest.length > 0) await onLine(rest);
}

/** One TSBS cpu line → ten V3 points (pushed onto `out`); returns the line's timestamp in ms. */
export function lineToPoints(line: string, out: Point[]): number {
  const sp1 = line.indexOf(' ');
  const sp2 = line.indexOf(' ', sp1 + 1);
  const head = line.slice(0, sp1);
  const fields = line.slice(sp1 + 1, sp2);
  const tsNs = line.slice(sp2 + 1);
  const timestamp = Number(tsNs.slice(0, tsNs.length - 6));
  const parts = head.split(',');
  const measurement = parts[0]!;
  const tags: Record<string, string> = {};
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    const eq = p.indexOf('=');
    tags[p.slice(0, eq)] = p.slice(eq + 1);
  }
  for (const f of fields.split(',')) {
    const eq = f.indexOf('=');
    let v = f.slice(eq + 1);
    if (v.endsWith('i')) v = v.slice(0, -1);
    out.push({ metric: `${measurement}_${f.slice(0, eq)}`, tags, timestamp, value: Number(v) });
  }
  return timestamp;
}

function tsbsBinary(root: string): string | undefined {
  const p = join(root, '.cache', 'bench', 'bin', 'tsbs_generate_data');
  return existsSync(p) ? p : undefined;
}

export async function prepareDataset(root: string, spec: DatasetSpec): Promise<Dataset> {
  const dir = join(root, '.cache', 'bench', 'data');
  spawnSync('mkdir', ['-p', dir]);
  const base = join(dir, spec.name);
  const metaPath = `${base}.meta.json`;
  const key = JSON.stringify({ DATA_VERSION, spec });
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Dataset & { key: string };
    if (meta.key === key && existsSync(meta.influxPath) && existsSync(meta.vmFrames) && existsSync(meta.v3Frames)) {
      log(`data set ${spec.name}: cached (${meta.points} points, generator: ${meta.generator})`);
      return withSeriesFrames(base, metaPath, meta);
    }
  }
  const startMs = Date.parse(spec.start);
  const endMs = Date.parse(spec.end);
  const intervalMs = parseInterval(spec.interval);
  const influxPath = `${base}.influx`;
  const expectedLines = Math.ceil((endMs - startMs) / intervalMs) * spec.scale;

  // 1. line protocol
  const bin = tsbsBinary(root);
  let generator: string;
  if (bin) {
    const version = existsSync(`${bin}.version`) ? readFileSync(`${bin}.version`, 'utf8').trim() : 'unknown';
    generator = `tsbs_generate_data (github.com/timescale/tsbs@${version})`;
    log(`generating ${spec.name} with ${generator}`);
    const args = ['--use-case=cpu-only', '--format=influx', `--scale=${spec.scale}`, `--timestamp-start=${spec.start}`, `--timestamp-end=${spec.end}`, `--log-interval=${spec.interval}`, `--seed=${spec.seed}`, `--file=${influxPath}.tmp`];
    const r = spawnSync(bin, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error(`tsbs_generate_data failed (${r.status})`);
    renameSync(`${influxPath}.tmp`, influxPath);
  } else {
    generator = 'bench/tsbs/generate.ts (TSBS cpu-only data model; tsbs_generate_data not installable from the Go module proxy)';
    log(`generating ${spec.name} with ${generator}`);
    const bar = new Progress(`generate ${spec.name}`, expectedLines, 'lines');
    const n = await generateCpuOnly({ scale: spec.scale, startMs, endMs, intervalMs, seed: spec.seed }, `${influxPath}.tmp`, (d) => bar.update(d));
    bar.done(n);
    renameSync(`${influxPath}.tmp`, influxPath);
  }

  // 2. request bodies for both systems
  const vmFrames = `${base}.vm.frames`;
  const v3Frames = `${base}.v3.frames`;
  const vm = await FrameWriter.create(`${vmFrames}.tmp`);
  const v3 = await FrameWriter.create(`${v3Frames}.tmp`);
  const bar = new Progress(`encode ${spec.name}`, expectedLines, 'lines');
  let lines = 0;
  let vmLines: string[] = [];
  let vmPoints = 0;
  let batch: Point[] = [];
  let minT = Infinity;
  let maxT = -Infinity;
  const hosts = new Set<string>();
  await eachLine(influxPath, async (line) => {
    lines++;
    vmLines.push(line);
    const before = batch.length;
    const t = lineToPoints(line, batch);
    vmPoints += batch.length - before;
    if (t < minT) minT = t;
    if (t > maxT) maxT = t;
    if (hosts.size < 1_000_000) hosts.add(batch[batch.length - 1]!.tags.hostname ?? '');
    if (vmLines.length >= spec.linesPerVmBatch) {
      await vm.write(Buffer.from(vmLines.join('\n') + '\n'), vmPoints);
      vmLines = [];
      vmPoints = 0;
    }
    if (batch.length >= spec.pointsPerV3Batch) {
      await v3.write(encodePointBatch(batch), batch.length);
      batch = [];
    }
    if ((lines & 4095) === 0) bar.update(lines);
  });
  if (vmLines.length > 0) await vm.write(Buffer.from(vmLines.join('\n') + '\n'), vmPoints);
  if (batch.length > 0) await v3.write(encodePointBatch(batch), batch.length);
  bar.done(lines);
  await vm.close();
  await v3.close();
  if (vm.points !== v3.points) throw new Error(`point counts differ: vm ${vm.points}, v3 ${v3.points}`);
  renameSync(`${vmFrames}.tmp`, vmFrames);
  renameSync(`${v3Frames}.tmp`, v3Frames);
  const meta: Dataset & { key: string } = {
    key,
    spec,
    generator,
    influxPath,
    vmFrames,
    v3Frames,
    lines,
    points: v3.points,
    hosts: hosts.size,
    startMs: minT,
    endMs: maxT + 1,
    intervalMs,
    influxBytes: vm.bytes,
    v3Bytes: v3.bytes,
    v3SeriesFrames: '',
    v3SeriesBytes: 0,
    pointsPerV3SeriesBatch: POINTS_PER_SERIES_BATCH,
  };
  writeFileSync(metaPath, JSON.stringify(meta, null, 2));
  return withSeriesFrames(base, metaPath, meta);
}

/** Adds the SeriesBatch bodies to a cached data set, building them from its line protocol when missing. */
async function withSeriesFrames(base: string, metaPath: string, meta: Dataset & { key: string }): Promise<Dataset> {
  const path = `${base}.v3series-${POINTS_PER_SERIES_BATCH}.frames`;
  if (meta.v3SeriesFrames === path && existsSync(path)) return meta;
  const bar = new Progress(`encode ${meta.spec.name} (SeriesBatch)`, meta.lines, 'lines');
  const out = await FrameWriter.create(`${path}.tmp`);
  let batch: Point[] = [];
  let lines = 0;
  const flush = async (): Promise<void> => {
    await out.write(encodeSeriesBatch(pointsToSeriesBatch(batch)), batch.length);
    batch = [];
  };
  await eachLine(meta.influxPath, async (line) => {
    lineToPoints(line, batch);
    if (batch.length >= POINTS_PER_SERIES_BATCH) await flush();
    if ((++lines & 4095) === 0) bar.update(lines);
  });
  if (batch.length > 0) await flush();
  bar.done(lines);
  await out.close();
  if (out.points !== meta.points) throw new Error(`SeriesBatch bodies hold ${out.points} points, the data set ${meta.points}`);
  renameSync(`${path}.tmp`, path);
  const next = { ...meta, v3SeriesFrames: path, v3SeriesBytes: out.bytes, pointsPerV3SeriesBatch: POINTS_PER_SERIES_BATCH };
  writeFileSync(metaPath, JSON.stringify(next, null, 2));
  return next;
}
