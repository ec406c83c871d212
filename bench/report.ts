/** Writes BENCHMARKS.md and bench/results.json from one run's details. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from './dataset.js';
import type { ProfileSummary } from './lib/cpuprofile.js';
import type { HttpQuery, Shape, Timing } from './queries.js';
import { SHAPES, WARMUPS } from './queries.js';

type Disk = { allocated: number; apparent: number };
interface Ingest {
  seconds: number;
  loadSeconds: number;
  points: number;
}

export interface RunDetails {
  size: 'quick' | 'full';
  date: string;
  runSeconds: number;
  prepareSeconds: number;
  args: Record<string, unknown>;
  machine: { nproc: number; cpu: string; ramBytes: number; freeRamBytes: number; disk: string; kernel: string };
  versions: { node: string; v3: string; victoriametrics: string; vmPackage: string; tsbs: string; kafka?: string };
  dataset: Dataset;
  victoriametrics: { version: string; ingest: Ingest; disk: Disk; count: number; peakRss: number; queries: Record<Shape, Timing> };
  v3Embedded: {
    ingest: Ingest;
    count: number;
    /** Background compaction/tiering after the load (absent in runs before tiering existed). */
    settle?: { seconds: number; seals: number; moves: number; passes: number };
    stopSeconds: number;
    peakRss: number;
    /** `cold` absent in runs before tiering existed. */
    disk: { store: Disk; cold?: Disk; log: Disk };
    queries: Record<Shape, Timing>;
  };
  v3Kafka?: { ingest: Ingest; peakRss: number; disk: { store: Disk; log: Disk }; topic: string; broker: string; carriedFrom?: string };
  equality: Partial<Record<Shape, { case: string; values: number; equal: boolean; diff?: string; v3: HttpQuery; vm: HttpQuery }>>;
  profile?: ProfileSummary & { points: number; seconds: number };
}

const r2 = (x: number): number => Math.round(x * 100) / 100;
const fmtInt = (x: number): string => Math.round(x).toLocaleString('en-US');
const mib = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');
const ms = (x: number): string => (x < 10 ? x.toFixed(2) : x.toFixed(1));
const qs = (q: HttpQuery): string => `${q.path}?${Object.entries(q.params).map(([k, v]) => `${k}=${v}`).join('&')}`;

/** Both tiers of V3's store (hot `store` + `cold`), without the log. */
const storeBytes = (disk: { store: Disk; cold?: Disk }): number => disk.store.allocated + (disk.cold?.allocated ?? 0);

export function results(d: RunDetails): unknown {
  const rate = (i: Ingest | undefined): number | null => (i ? Math.round(i.points / i.seconds) : null);
  return {
    ingest_points_per_s: { v3_embedded: rate(d.v3Embedded.ingest), v3_kafka: rate(d.v3Kafka?.ingest), victoriametrics: rate(d.victoriametrics.ingest) },
    bytes_per_point: {
      v3: r2((storeBytes(d.v3Embedded.disk) / d.v3Embedded.ingest.points) * 1000) / 1000,
      v3_hot: r2((d.v3Embedded.disk.store.allocated / d.v3Embedded.ingest.points) * 1000) / 1000,
      v3_cold: r2(((d.v3Embedded.disk.cold?.allocated ?? 0) / d.v3Embedded.ingest.points) * 1000) / 1000,
      victoriametrics: r2((d.victoriametrics.disk.allocated / d.victoriametrics.ingest.points) * 1000) / 1000 },
    peak_rss_bytes: { v3: d.v3Embedded.peakRss, victoriametrics: d.victoriametrics.peakRss },
    query_ms: Object.fromEntries(SHAPES.map((s) => [s, { v3: r2(d.v3Embedded.queries[s].median), victoriametrics: r2(d.victoriametrics.queries[s].median) }])),
  };
}

/**
 * Keeps this run's details in bench/last-<size>.json, then renders BENCHMARKS.md from the latest run of each size
 * (full first) and bench/results.json from the latest full run, or the quick one when no full run is recorded.
 */
export function writeReport(root: string, d: RunDetails): void {
  writeFileSync(join(root, 'bench', `last-${d.size}.json`), JSON.stringify(d, null, 2) + '\n');
  const load = (size: string): RunDetails | undefined => {
    const p = join(root, 'bench', `last-${size}.json`);
    return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as RunDetails) : undefined;
  };
  const runs = [load('full'), load('quick')].filter((x): x is RunDetails => x !== undefined);
  writeFileSync(join(root, 'bench', 'results.json'), JSON.stringify(results(runs[0]!), null, 2) + '\n');
  const analysisPath = join(root, 'bench', 'ANALYSIS.md');
  const analysis = existsSync(analysisPath) ? readFileSync(analysisPath, 'utf8') : '';
  const out: string[] = ['# Benchmarks: V3 vs VictoriaMetrics (TSBS cpu-only)', ''];
  out.push(
    `This file is written by \`npm run bench\` (quick size) and \`npm run bench -- --full\`; each keeps its latest run in ` +
      `\`bench/last-<size>.json\`. \`bench/results.json\` holds the medians of the ${runs[0]!.size} run. Sections: ` +
      runs.map((r) => `${r.size} run (${r.date.slice(0, 10)})`).join(', ') + ', analysis.',
  );
  out.push('');
  for (const r of runs) out.push(markdown(r));
  if (analysis.trim()) out.push(analysis.trim(), '');
  writeFileSync(join(root, 'BENCHMARKS.md'), out.join('\n'));
}

function markdown(d: RunDetails): string {
  const vm = d.victoriametrics;
  const e = d.v3Embedded;
  const k = d.v3Kafka;
  const ds = d.dataset;
  const n = ds.points;
  const rate = (i: Ingest): number => i.points / i.seconds;
  const L: string[] = [];
  L.push(`## ${d.size === 'quick' ? 'Quick run' : 'Full run'}: ${fmtInt(d.dataset.points)} points`);
  L.push('');
  L.push(`> **${d.size === 'quick' ? 'Quick run' : 'Full run'}** — ${d.size === 'quick' ? 'scale 100 (100 hosts), 1 day at 10 s: ' : 'scale 1000 (1,000 hosts), 1 day at 10 s: '}${fmtInt(n)} points. ` +
    `Generated by \`npm run bench${d.size === 'full' ? ' -- --full' : ''}\` on ${d.date.slice(0, 10)}; the whole run took ${Math.round(d.runSeconds)} s ` +
    `(${Math.round(d.prepareSeconds)} s of it installing/generating/encoding data, cached for later runs).` +
    (d.size === 'quick' ? ' The full size (`npm run bench -- --full`) is 10× bigger.' : ''));
  L.push('');
  L.push('Every figure is V3 / VictoriaMetrics (below 1.00× is better for V3 in every row except ingest, where above 1.00× is better).');
  L.push('');
  L.push('| figure | V3 | VictoriaMetrics | V3 / VM |');
  L.push('|---|---:|---:|---:|');
  L.push(`| ingest, points/s until all queryable — embedded log | ${fmtInt(rate(e.ingest))} | ${fmtInt(rate(vm.ingest))} | ${ratio(rate(e.ingest), rate(vm.ingest))} |`);
  if (k) L.push(`| ingest, points/s until all queryable — Kafka log${k.carriedFrom ? ` (from the run of ${k.carriedFrom}: the broker was busy with another session's tests during this one)` : ''} | ${fmtInt(rate(k.ingest))} | ${fmtInt(rate(vm.ingest))} | ${ratio(rate(k.ingest), rate(vm.ingest))} |`);
  const sb = storeBytes(e.disk);
  L.push(`| bytes/point on disk — store, hot + cold tier, after compaction (V3) vs data dir after force_merge (VM) | ${(sb / n).toFixed(3)} | ${(vm.disk.allocated / n).toFixed(3)} | ${ratio(sb, vm.disk.allocated)} |`);
  if (e.disk.cold) {
    L.push(`| … of which hot tier | ${(e.disk.store.allocated / n).toFixed(3)} | | |`);
    L.push(`| … of which cold tier | ${(e.disk.cold.allocated / n).toFixed(3)} | | |`);
  }
  L.push(`| bytes/point on disk — store + embedded log (V3's WAL) | ${((sb + e.disk.log.allocated) / n).toFixed(3)} | ${(vm.disk.allocated / n).toFixed(3)} | ${ratio(sb + e.disk.log.allocated, vm.disk.allocated)} |`);
  L.push(`| peak RSS during ingest (VmHWM) | ${mib(e.peakRss)} | ${mib(vm.peakRss)} | ${ratio(e.peakRss, vm.peakRss)} |`);
  for (const s of SHAPES) {
    L.push(`| query ${s}, median ms | ${ms(e.queries[s].median)} | ${ms(vm.queries[s].median)} | ${ratio(e.queries[s].median, vm.queries[s].median)} |`);
    L.push(`| query ${s}, p95 ms | ${ms(e.queries[s].p95)} | ${ms(vm.queries[s].p95)} | ${ratio(e.queries[s].p95, vm.queries[s].p95)} |`);
  }
  L.push('');
  L.push('Details:');
  L.push('');
  L.push(`- Ingest wall times (first byte sent → all points queryable): V3 embedded ${e.ingest.seconds.toFixed(2)} s (HTTP load ${e.ingest.loadSeconds.toFixed(2)} s)` +
    (k ? `, V3 Kafka ${k.ingest.seconds.toFixed(2)} s (load ${k.ingest.loadSeconds.toFixed(2)} s)` : '') +
    `, VictoriaMetrics ${vm.ingest.seconds.toFixed(2)} s (load ${vm.ingest.loadSeconds.toFixed(2)} s). Points answered afterwards by a count over the whole day: V3 ${fmtInt(e.count)}, VM ${fmtInt(vm.count)} (expected ${fmtInt(n)}).`);
  L.push(`- Disk: V3 hot store ${mib(e.disk.store.allocated)} (apparent ${mib(e.disk.store.apparent)}), cold store ${mib(e.disk.cold?.allocated ?? 0)} (apparent ${mib(e.disk.cold?.apparent ?? 0)}), V3 embedded log ${mib(e.disk.log.allocated)}; VictoriaMetrics data dir ${mib(vm.disk.allocated)} (apparent ${mib(vm.disk.apparent)}). ` +
    (e.settle
      ? `V3 is measured once background compaction and tiering settled (${e.settle.seconds.toFixed(1)} s after the load was queryable: ${fmtInt(e.settle.seals)} windows sealed, ${fmtInt(e.settle.moves)} moved hot → cold; TSBS data is dated 2016, so every window is older than the 24 h hot duration and ends in the cold tier), then after SIGTERM (stop took ${e.stopSeconds.toFixed(1)} s).`
      : `V3 is measured after SIGTERM (the node flushes every head to the store and exits; stop took ${e.stopSeconds.toFixed(1)} s); this run predates compaction, so "after compaction" is its flushed state.`));
  L.push(`- Request bodies: V3 ${fmtInt(ds.v3SeriesBytes)} bytes of Avro SeriesBatch (${(ds.v3SeriesBytes / n).toFixed(1)} B/point, ${ds.pointsPerV3SeriesBatch} points per request; as PointBatch the same points would be ${(ds.v3Bytes / n).toFixed(1)} B/point); VictoriaMetrics ${fmtInt(ds.influxBytes)} bytes of line protocol (${(ds.influxBytes / n).toFixed(1)} B/point, ${ds.spec.linesPerVmBatch} lines = ${ds.spec.linesPerVmBatch * 10} points per request). ${d.args.clients} parallel HTTP clients for both.`);
  L.push('');
  L.push('#### Query latency (ms, ' + `${vm.queries['lastpoint'].runs} runs per shape, random hosts/windows from seed ${String(d.args.seed)}, same parameters for both)`);
  L.push('');
  L.push('| shape | V3 median | V3 p95 | V3 min–max | VM median | VM p95 | VM min–max | median V3/VM |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of SHAPES) {
    const a = e.queries[s];
    const b = vm.queries[s];
    L.push(`| ${s} | ${ms(a.median)} | ${ms(a.p95)} | ${ms(a.min)}–${ms(a.max)} | ${ms(b.median)} | ${ms(b.p95)} | ${ms(b.min)}–${ms(b.max)} | ${ratio(a.median, b.median)} |`);
  }
  L.push('');
  L.push('#### Answer check (same work on both sides)');
  L.push('');
  L.push('The first timed query of each shape is compared value by value (relative tolerance 1e-9):');
  L.push('');
  L.push('| shape | case | values | result | V3 request | VictoriaMetrics request |');
  L.push('|---|---|---:|---|---|---|');
  for (const s of SHAPES) {
    const q = d.equality[s];
    if (!q) continue;
    const cell = (x: string): string => x.replace(/\|/g, '\\|');
    L.push(`| ${s} | ${q.case} | ${q.values} | ${q.equal ? 'equal' : `**DIFFERENT**: ${cell(q.diff ?? '')}`} | \`${cell(qs(q.v3))}\` | \`${cell(qs(q.vm))}\` |`);
  }
  L.push('');
  L.push(`### Setup (${d.size} run)`);
  L.push('');
  L.push(`- Machine: ${d.machine.nproc} cores (${d.machine.cpu}), ${(d.machine.ramBytes / 2 ** 30).toFixed(1)} GiB RAM, disk ${d.machine.disk}, ${d.machine.kernel}.`);
  L.push(`- Date: ${d.date}.`);
  L.push(`- Versions: Node.js ${d.versions.node}; V3 commit ${d.versions.v3}; VictoriaMetrics single-node, Debian package victoria-metrics ${d.versions.vmPackage}${d.versions.victoriametrics !== 'unknown' ? ` (reports ${d.versions.victoriametrics})` : ' (the Debian build reports no version of its own)'}; ${d.versions.kafka ?? 'no Kafka run'}.`);
  L.push(`- Data: ${d.versions.tsbs}. Options as \`tsbs_generate_data --use-case=cpu-only --format=influx --scale=${ds.spec.scale} --timestamp-start=${ds.spec.start} --timestamp-end=${ds.spec.end} --log-interval=${ds.spec.interval} --seed=${ds.spec.seed}\`: ${fmtInt(ds.lines)} lines, ${ds.hosts} hosts × 10 fields = ${ds.hosts * 10} series, ${fmtInt(n)} points.`);
  L.push('');
  L.push('Commands (`npm run bench` does all of it):');
  L.push('');
  L.push('```sh');
  L.push('bash scripts/bench-setup.sh        # apt-get install victoria-metrics; go install tsbs_generate_data (idempotent)');
  L.push(`npm run bench${d.size === 'full' ? ' -- --full' : ''}                      # = npm run build && node dist/bench/run.js${d.size === 'full' ? ' --full' : ''}`);
  L.push('# VictoriaMetrics, own temp data dir and free port:');
  L.push('victoria-metrics -storageDataPath=$TMP -httpListenAddr=127.0.0.1:$PORT -retentionPeriod=100y -loggerLevel=WARN');
  L.push('#   load: POST /write (line protocol), then /internal/force_flush and poll sum(count_over_time({__name__=~"cpu_.*"}[1d])) until all points count;');
  L.push('#   then /internal/force_merge, wait until vm_active_merges is 0 and the dir size is stable, du -B1 the data dir');
  L.push('# V3, own temp data dir and free port (caches left at their defaults for ingest):');
  L.push('node dist/src/cli/main.js serve --data-dir $TMP --host 127.0.0.1 --port $PORT --log embedded --log-level warn');
  L.push('node dist/src/cli/main.js serve ... --log kafka --kafka-brokers 127.0.0.1:9092 --topic bench.<run id>   # after node scripts/kafka.mjs start');
  L.push('#   load: POST /api/v1/write (application/avro, encodeSeriesBatch bodies of 10,000 lines = 100,000 points each, built before timing);');
  L.push('#   done = every write acknowledged and GET /api/v1/last?after=<all write tokens merged> answered 200;');
  L.push('#   then wait until background compaction/tiering settle (/metrics), SIGTERM (flushes heads), du -B1 $TMP/store, $TMP/cold and $TMP/log');
  L.push('# V3 queries: restarted on the same data dir with --query-cache-bytes 0 --metadata-cache-bytes 0; VM queries carry nocache=1');
  L.push('```');
  L.push('');
  L.push('How each figure is measured:');
  L.push('');
  L.push('- **Ingest** counts from the first request until every point is answered by a query, so buffering does not count as done. VictoriaMetrics: all `/write` requests answered, then `/internal/force_flush` and a count query repeated until it reports every point. V3: all writes acknowledged (a write is acknowledged once durable in the log), then a read with `after=` the merged write tokens — it returns once every partition has applied every written offset. Each system runs alone (the other is stopped).');
  L.push('- **Bytes/point**: allocated bytes (`du -B1`) over the points. VictoriaMetrics after `/internal/force_merge`; V3 after a graceful stop (heads flushed). V3\'s embedded log is its write-ahead log and the source of truth (kept for `--log-retention`, 7 days by default), so it is shown separately; with `--log kafka` it lives in Kafka.');
  L.push('- **Peak RSS**: the kernel\'s high-water mark (`VmHWM` in `/proc/<pid>/status`, polled every 250 ms) of the server process during load and flush.');
  L.push(`- **Queries**: the TSBS shapes as HTTP requests, ${WARMUPS} untimed warm-up queries per shape (their own random parameters), then the timed ones one after another; wall time of request + full response body from a keep-alive client on the same machine. Result caches are off on both sides so each query does its work (V3 \`--query-cache-bytes 0 --metadata-cache-bytes 0\`, VictoriaMetrics \`nocache=1\`); every timed query has different random parameters, except lastpoint which is one fixed query. Shapes:`);
  L.push('  - *single-groupby-1-1-1*: max of cpu_usage_user for 1 random host over a random 1 h, 1 m windows. V3 `fn=max&step=1m`; VM the TSBS query `max(max_over_time(sel[1m])) by (__name__)`.');
  L.push('  - *cpu-max-all-1*: max of all 10 cpu metrics for 1 random host over a random 8 h, 1 h windows. V3 selector `{__name__=~"cpu_.*",hostname="host_N"}` `fn=max&step=1h`; VM `max(max_over_time({__name__=~"cpu_.*",hostname="host_N"}[1h])) by (__name__)`.');
  L.push('  - *double-groupby-1*: mean of cpu_usage_user per host over a random 12 h, 1 h windows, all hosts. V3 `fn=avg&step=1h&by=hostname`; VM `avg(avg_over_time(cpu_usage_user[1h])) by (__name__, hostname)`.');
  L.push('  - *lastpoint*: the last point of every cpu series. V3 `GET /api/v1/last` (in-memory last-value index). VictoriaMetrics has no last-point API (TSBS does not implement lastpoint for it); the closest is an instant query of `{__name__=~"cpu_.*"}` at the end of the data, which returns each series\' last sample within the default 5 m look-back. Both return one value per series; the check compares the values.');
  L.push('- **Window semantics**: V3 aggregates windows `[T, T+step)` stamped `T`; a MetricsQL rollup `f(x[step])` at `T` covers `(T-step, T]`. The VM queries therefore add `offset -(step-1ms)` (at `T` that covers `[T, T+step)` for millisecond timestamps) and ask `query_range` for `end - step` (its end is inclusive): both systems aggregate exactly the same points under the same timestamps, which the answer check confirms. The offset only moves the window; it adds no work.');
  L.push('');
  if (d.profile) {
    const p = d.profile;
    const busy = p.totalMs - p.idleMs;
    L.push(`### Where V3 ingest spends its CPU (${d.size} run)`);
    L.push('');
    L.push(`\`node --cpu-prof\` on the V3 node during a separate embedded-log ingest of ${fmtInt(p.points)} points (${p.seconds.toFixed(1)} s under the profiler; ${p.files} profile file(s)). Busy ${(busy / 1000).toFixed(1)} s of ${(p.totalMs / 1000).toFixed(1)} s sampled (the rest idle, i.e. waiting on I/O or the client).`);
    L.push('');
    L.push('Top 15 functions by self time:');
    L.push('');
    L.push('| # | function | where | self ms | % of busy |');
    L.push('|---:|---|---|---:|---:|');
    p.top.forEach((t, i) => L.push(`| ${i + 1} | \`${t.fn}\` | ${t.where || '(native)'} | ${fmtInt(t.ms)} | ${t.pct.toFixed(1)}% |`));
    L.push('');
    L.push('Self time by area:');
    L.push('');
    L.push('| area | self ms | % of busy |');
    L.push('|---|---:|---:|');
    for (const a of p.byArea.slice(0, 15)) L.push(`| ${a.area} | ${fmtInt(a.ms)} | ${a.pct.toFixed(1)}% |`);
    L.push('');
  }
  return L.join('\n');
}
