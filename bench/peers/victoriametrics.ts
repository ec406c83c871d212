/** VictoriaMetrics single-node (Debian package) as the peer: start, load over /write, wait, merge, measure. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset } from '../dataset.js';
import { load } from '../lib/load.js';
import { Progress, log } from '../lib/progress.js';
import { RssMonitor, diskUsage, freePort, sleep, start, stop, waitHttp, type Started } from '../lib/proc.js';

export function vmBinary(): string {
  for (const p of ['/usr/bin/victoria-metrics', '/usr/local/bin/victoria-metrics', '/usr/bin/victoria_metrics']) if (existsSync(p)) return p;
  throw new Error('victoria-metrics not installed (scripts/bench-setup.sh installs the Debian package)');
}

export class VictoriaMetrics {
  readonly url: string;
  private proc: Started | undefined;
  private rss: RssMonitor | undefined;
  private constructor(
    readonly port: number,
    readonly dataDir: string,
    readonly logPath: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(workDir: string): Promise<VictoriaMetrics> {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'bench-vm-'));
    const vm = new VictoriaMetrics(port, dataDir, join(workDir, 'victoria-metrics.log'));
    vm.proc = start(vmBinary(), [`-storageDataPath=${dataDir}`, `-httpListenAddr=127.0.0.1:${port}`, '-retentionPeriod=100y', '-loggerLevel=WARN'], vm.logPath);
    vm.rss = new RssMonitor(vm.proc.child.pid!);
    await waitHttp(`${vm.url}/health`, 30_000);
    return vm;
  }

  get pid(): number {
    return this.proc!.child.pid!;
  }

  async version(): Promise<string> {
    const r = await fetch(`${this.url}/metrics`);
    const text = await r.text();
    const m = /vm_app_version\{version="([^"]+)"/.exec(text);
    return m ? m[1]! : 'unknown';
  }

  async get(path: string, params: Record<string, string>): Promise<{ status: number; body: string }> {
    const r = await fetch(`${this.url}${path}?${new URLSearchParams(params)}`);
    return { status: r.status, body: await r.text() };
  }

  /** Sum of count_over_time over every cpu series: the points VM answers queries from. */
  async countPoints(ds: Dataset): Promise<number> {
    const windowS = Math.ceil((ds.endMs - ds.startMs) / 1000) + 1;
    const r = await this.get('/api/v1/query', {
      query: `sum(count_over_time({__name__=~"cpu_.*"}[${windowS}s]))`,
      time: String((ds.endMs - 1) / 1000),
      nocache: '1',
    });
    if (r.status !== 200) throw new Error(`VM count query: ${r.status} ${r.body.slice(0, 300)}`);
    const j = JSON.parse(r.body) as { data: { result: Array<{ value: [number, string] }> } };
    return j.data.result.length > 0 ? Number(j.data.result[0]!.value[1]) : 0;
  }

  /** Loads the data set; the clock stops once every point is answered by a count query. */
  async ingest(ds: Dataset, clients: number): Promise<{ seconds: number; loadSeconds: number; points: number }> {
    const t0 = performance.now();
    const res = await load({ url: `${this.url}/write`, contentType: 'text/plain', framesPath: ds.vmFrames, clients, totalPoints: ds.points, label: 'victoriametrics load' });
    const loadSeconds = (performance.now() - t0) / 1000;
    // VM keeps recent rows in in-memory buffers for ~1 s before they are searchable; force_flush makes them so.
    await fetch(`${this.url}/internal/force_flush`).then((r) => r.arrayBuffer()).catch(() => undefined);
    const bar = new Progress('victoriametrics queryable', ds.points);
    for (;;) {
      const n = await this.countPoints(ds);
      bar.update(n, true);
      if (n >= ds.points) break;
      await sleep(200);
      await fetch(`${this.url}/internal/force_flush`).then((r) => r.arrayBuffer()).catch(() => undefined);
    }
    const seconds = (performance.now() - t0) / 1000;
    bar.done(ds.points);
    return { seconds, loadSeconds, points: res.points };
  }

  private async activeMerges(): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    let n = 0;
    for (const m of text.matchAll(/^vm_active_merges\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
    return n;
  }

  /** Runs /internal/force_merge and waits until no merge is active and the data dir stopped changing. */
  async forceMerge(): Promise<void> {
    await fetch(`${this.url}/internal/force_flush`).then((r) => r.arrayBuffer()).catch(() => undefined);
    const r = await fetch(`${this.url}/internal/force_merge`);
    await r.arrayBuffer();
    if (r.status !== 200 && r.status !== 204) log(`victoriametrics: /internal/force_merge answered ${r.status}`);
    let stable = 0;
    let last = -1;
    const deadline = Date.now() + 600_000;
    while (stable < 5 && Date.now() < deadline) {
      await sleep(1000);
      const size = diskUsage(this.dataDir).apparent;
      const merges = await this.activeMerges();
      stable = merges === 0 && size === last ? stable + 1 : 0;
      last = size;
    }
  }

  disk(): { allocated: number; apparent: number } {
    return diskUsage(this.dataDir);
  }

  peakRss(): number {
    return this.rss?.peak ?? 0;
  }

  async stop(removeData = true): Promise<void> {
    this.rss?.stop();
    if (this.proc) await stop(this.proc, 60_000);
    if (removeData) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
