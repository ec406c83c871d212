/**
 * V3 as the system under test: `node dist/src/cli/main.js serve`, loaded with pre-encoded Avro SeriesBatch bodies
 * (or the older PointBatch ones, `format: 'batch'`, or VictoriaMetrics' line protocol bodies, `format: 'influx'`).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeWriteToken, encodeWriteToken } from '../../src/codec/write-token.js';
import type { Dataset } from '../dataset.js';
import { load } from '../lib/load.js';
import { Progress } from '../lib/progress.js';
import { RssMonitor, diskUsage, freePort, sleep, start, stop, waitHttp, type Started } from '../lib/proc.js';

export interface V3Options {
  root: string;
  workDir: string;
  label: string;
  log: 'embedded' | 'kafka';
  kafkaBrokers?: string;
  topic?: string;
  /** Reuse a data dir (restart on the same data); else a fresh temp dir. */
  dataDir?: string;
  /** Extra serve flags. */
  flags?: string[];
  /** Directory for `node --cpu-prof` profiles. */
  cpuProfDir?: string;
}

export class V3 {
  readonly url: string;
  private proc: Started | undefined;
  private rss: RssMonitor | undefined;
  private constructor(
    readonly opts: V3Options,
    readonly port: number,
    readonly dataDir: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(opts: V3Options): Promise<V3> {
    const port = await freePort();
    const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), `bench-v3-${opts.label}-`));
    const v3 = new V3(opts, port, dataDir);
    const node: string[] = [];
    if (opts.cpuProfDir) {
      mkdirSync(opts.cpuProfDir, { recursive: true });
      node.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`);
    }
    const args = [...node, join(opts.root, 'dist', 'src', 'cli', 'main.js'), 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port), '--log', opts.log, '--log-level', 'warn'];
    if (opts.log === 'kafka') args.push('--kafka-brokers', opts.kafkaBrokers ?? '127.0.0.1:9092', '--topic', opts.topic ?? 'bench.points');
    args.push(...(opts.flags ?? []));
    v3.proc = start(process.execPath, args, join(opts.workDir, `v3-${opts.label}.log`));
    v3.rss = new RssMonitor(v3.proc.child.pid!);
    const ready = waitHttp(`${v3.url}/ready`, 600_000);
    const died = v3.proc.exited.then((code) => {
      throw new Error(`V3 (${opts.label}) exited with ${code} before it was ready; see ${join(opts.workDir, `v3-${opts.label}.log`)}`);
    });
    await Promise.race([ready, died]);
    return v3;
  }

  get pid(): number {
    return this.proc!.child.pid!;
  }

  async get(path: string, params: Record<string, string>): Promise<{ status: number; body: string }> {
    const r = await fetch(`${this.url}${path}?${new URLSearchParams(params)}`);
    return { status: r.status, body: await r.text() };
  }

  /** Total points V3 answers for the whole data set (a count per series over one window, summed; one query per metric). */
  async countPoints(ds: Dataset): Promise<number> {
    const metrics = JSON.parse((await this.get('/api/v1/tags/__name__/values', {})).body) as { values?: string[] };
    const names = metrics.values && metrics.values.length > 0 ? metrics.values : ['{__name__=~"cpu_.*"}'];
    let n = 0;
    for (const name of names) {
      const r = await this.get('/api/v1/query', {
        selector: name,
        start: String(ds.startMs),
        end: String(ds.endMs),
        fn: 'count',
        step: String(ds.endMs - ds.startMs + 86_400_000),
      });
      if (r.status !== 200) throw new Error(`V3 count query: ${r.status} ${r.body.slice(0, 300)}`);
      const j = JSON.parse(r.body) as { series: Array<{ points: Array<[number, number | null]> }> };
      for (const s of j.series) for (const [, v] of s.points) n += v ?? 0;
    }
    return n;
  }

  /**
   * Loads the data set; the clock stops when every write was acknowledged AND a read with `after=<every token,
   * merged>` answered, i.e. every partition applied every written offset (all points queryable).
   */
  async ingest(ds: Dataset, clients: number, maxFrames?: number, format: 'series' | 'batch' | 'influx' = 'series'): Promise<{ seconds: number; loadSeconds: number; points: number }> {
    const maxOffsets: Record<number, number> = {};
    const onResponse = (body: string): void => {
      const token = (JSON.parse(body) as { token?: string }).token;
      if (!token) return;
      for (const [p, off] of Object.entries(decodeWriteToken(token))) {
        if ((maxOffsets[Number(p)] ?? -1) < off) maxOffsets[Number(p)] = off;
      }
    };
    // 'influx': the very bodies VictoriaMetrics is loaded with, on V3's line protocol endpoint.
    const perFrame = { series: ds.pointsPerV3SeriesBatch, batch: ds.spec.pointsPerV3Batch, influx: ds.spec.linesPerVmBatch * 10 }[format];
    const total = maxFrames !== undefined ? Math.min(ds.points, maxFrames * perFrame) : ds.points;
    const framesPath = { series: ds.v3SeriesFrames, batch: ds.v3Frames, influx: ds.vmFrames }[format];
    const url = `${this.url}/api/v1/write${format === 'influx' ? '/influx' : ''}`;
    const contentType = format === 'influx' ? 'text/plain' : 'application/avro';
    const t0 = performance.now();
    const res = await load({ url, contentType, framesPath, clients, totalPoints: total, label: `v3 ${this.opts.label} load`, onResponse, maxFrames });
    const loadSeconds = (performance.now() - t0) / 1000;
    const token = encodeWriteToken(maxOffsets);
    const bar = new Progress(`v3 ${this.opts.label} queryable`, 1, 'checks');
    for (;;) {
      const r = await this.get('/api/v1/last', { selector: 'cpu_usage_user{hostname="host_0"}', after: token });
      if (r.status === 200) break;
      if (r.status !== 503) throw new Error(`V3 after= query: ${r.status} ${r.body.slice(0, 300)}`);
      await sleep(50);
    }
    const seconds = (performance.now() - t0) / 1000;
    bar.done(1);
    return { seconds, loadSeconds, points: res.points };
  }

  peakRss(): number {
    return this.rss?.peak ?? 0;
  }

  /** SIGTERM: the node flushes its heads to the store and exits. */
  async stop(): Promise<number | null> {
    this.rss?.sample();
    const code = this.proc ? await stop(this.proc, 600_000) : null;
    this.rss?.stop();
    return code;
  }

  /** Hot tier (`store`), cold tier (`cold`, default `<data-dir>/cold`) and the embedded log, measured separately. */
  disk(): { store: { allocated: number; apparent: number }; cold: { allocated: number; apparent: number }; log: { allocated: number; apparent: number } } {
    return { store: diskUsage(join(this.dataDir, 'store')), cold: safeDu(join(this.dataDir, 'cold')), log: safeDu(join(this.dataDir, 'log')) };
  }

  /**
   * Waits until background compaction and tiering have nothing left to do: two completed storage passes in a row
   * during which no window was sealed or moved (read from /metrics). Returns how long that took and the work done.
   */
  async settle(timeoutMs = 3_600_000): Promise<{ seconds: number; seals: number; moves: number; passes: number }> {
    const t0 = performance.now();
    const sample = async (): Promise<{ passes: number; seals: number; moves: number }> => {
      const text = await (await fetch(`${this.url}/metrics`)).text();
      const sum = (name: string): number => {
        let n = 0;
        for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === '{' || line[name.length] === ' ')) n += Number(line.slice(line.lastIndexOf(' ') + 1));
        return n;
      };
      return { passes: sum('tsdb_storage_job_passes_total'), seals: sum('tsdb_compactions_total'), moves: sum('tsdb_tier_moves_total') };
    };
    const first = await sample();
    let base = first;
    const bar = new Progress(`v3 ${this.opts.label} compaction`, 1, 'settled');
    for (;;) {
      await sleep(1000);
      const now = await sample();
      if (now.seals !== base.seals || now.moves !== base.moves) base = now;
      else if (now.passes >= base.passes + 2) {
        bar.done(1);
        return { seconds: (performance.now() - t0) / 1000, seals: now.seals - first.seals, moves: now.moves - first.moves, passes: now.passes - first.passes };
      }
      if (performance.now() - t0 > timeoutMs) throw new Error(`V3 (${this.opts.label}) compaction did not settle within ${timeoutMs} ms`);
    }
  }

  removeData(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

function safeDu(dir: string): { allocated: number; apparent: number } {
  try {
    return diskUsage(dir);
  } catch {
    return { allocated: 0, apparent: 0 };
  }
}
