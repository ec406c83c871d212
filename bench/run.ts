/**
 * `npm run bench` — V3 against VictoriaMetrics on TSBS cpu-only data (see BENCHMARKS.md for what is measured and how).
 *
 *   node dist/bench/run.js [--full] [--clients N] [--query-runs N] [--seed N] [--no-kafka] [--no-profile]
 *                          [--max-frames N] [--out-dir DIR]
 *
 * --full: scale 1000 (86.4 M points) instead of the quick scale 100 (8.64 M points).
 * --max-frames N: load only the first N request bodies into V3 (a smoke test; results are not written).
 * Writes BENCHMARKS.md and bench/results.json (unless --max-frames), run logs under .cache/bench/runs/<time>/.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDataset, type Dataset, type DatasetSpec } from './dataset.js';
import { summariseProfiles, type ProfileSummary } from './lib/cpuprofile.js';
import { cmdOutput } from './lib/proc.js';
import { log } from './lib/progress.js';
import { V3 } from './peers/v3.js';
import { VictoriaMetrics } from './peers/victoriametrics.js';
import { SHAPES, compareAnswers, makeCases, runQueries, type Answer, type Shape, type Timing } from './queries.js';
import { writeReport, type RunDetails } from './report.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

interface Args {
  full: boolean;
  clients: number;
  queryRuns: number;
  seed: number;
  kafka: boolean;
  profile: boolean;
  maxFrames?: number;
  outDir?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { full: false, clients: 4, queryRuns: 20, seed: 123, kafka: true, profile: true };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${k} needs a positive number`);
      return v;
    };
    if (k === '--full') a.full = true;
    else if (k === '--quick') a.full = false;
    else if (k === '--clients') a.clients = num();
    else if (k === '--query-runs') a.queryRuns = num();
    else if (k === '--seed') a.seed = num();
    else if (k === '--no-kafka') a.kafka = false;
    else if (k === '--no-profile') a.profile = false;
    else if (k === '--max-frames') a.maxFrames = num();
    else if (k === '--out-dir') a.outDir = argv[++i];
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

function spec(full: boolean, seed: number): DatasetSpec {
  const scale = full ? 1000 : 100;
  return { name: `cpu-only-s${scale}-1d-seed${seed}`, scale, start: '2016-01-01T00:00:00Z', end: '2016-01-02T00:00:00Z', interval: '10s', seed, linesPerVmBatch: 10_000, pointsPerV3Batch: 10_000 };
}

function setup(): void {
  log('scripts/bench-setup.sh (installs VictoriaMetrics and tries tsbs_generate_data; idempotent)');
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'bench-setup.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`scripts/bench-setup.sh failed (${r.status})`);
}

function kafka(cmd: string[]): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'kafka.mjs'), ...cmd], { stdio: ['ignore', 2, 'inherit'] });
  if (r.status !== 0) throw new Error(`scripts/kafka.mjs ${cmd.join(' ')} failed (${r.status})`);
}

async function deleteTopic(topic: string, bootstrap: string): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({ clientId: 'v3-bench', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [topic], timeout: 30_000 });
  } finally {
    await admin.disconnect();
  }
}

function machine(): RunDetails['machine'] {
  const df = cmdOutput('df', ['-h', '--output=source,fstype,size,avail', '/tmp']).split('\n').pop() ?? '';
  const rot = cmdOutput('lsblk', ['-d', '-n', '-o', 'NAME,ROTA,SIZE'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 3)
    .map(([name, rota, size]) => `${name} ${size} ${rota === '1' ? 'rotational' : 'non-rotational'}`)
    .join(', ');
  return {
    nproc: Number(cmdOutput('nproc', [])),
    cpu: cpus()[0]?.model ?? 'unknown',
    ramBytes: totalmem(),
    freeRamBytes: freemem(),
    disk: `${df.replace(/\s+/g, ' ')} (lsblk: ${rot || 'n/a'})`,
    kernel: cmdOutput('uname', ['-sr']),
  };
}

function kafkaVersion(): string {
  try {
    const libs = spawnSync('ls', [join(ROOT, '.cache', 'kafka', 'libs')], { encoding: 'utf8' }).stdout;
    const m = /kafka_2\.13-([\d.]+)\.jar/.exec(libs);
    return m ? `Apache Kafka ${m[1]} (scripts/kafka.mjs, KRaft)` : 'scripts/kafka.mjs broker';
  } catch {
    return 'scripts/kafka.mjs broker';
  }
}

function kafkaStatus(): { running: boolean; brokers?: number; bootstrap?: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'kafka.mjs'), 'status', '--json'], { encoding: 'utf8' });
  try {
    return JSON.parse(r.stdout) as { running: boolean; brokers?: number; bootstrap?: string };
  } catch {
    return { running: false };
  }
}

function previousKafka(datasetName: string): RunDetails | undefined {
  for (const size of ['quick', 'full']) {
    try {
      const d = JSON.parse(readFileSync(join(ROOT, 'bench', `last-${size}.json`), 'utf8')) as RunDetails;
      if (d.dataset.spec.name === datasetName && d.v3Kafka && d.v3Kafka.ingest.points === d.dataset.points) return d;
    } catch {
      /* none */
    }
  }
  return undefined;
}

async function kafkaPhase(ds: Dataset, args: Args, workDir: string, runId: string): Promise<NonNullable<RunDetails['v3Kafka']>> {
  const st = kafkaStatus();
  if (st.running) throw new Error(`a Kafka cluster that this run did not start is running (${st.brokers ?? '?'} broker(s)); not using or touching it`);
  // Start the cluster size that is cached, so its state is not reformatted.
  let brokers = 1;
  try {
    brokers = (JSON.parse(readFileSync(join(ROOT, '.cache', 'kafka', 'cluster.json'), 'utf8')) as { brokers?: number }).brokers ?? 1;
  } catch {
    /* fresh */
  }
  kafka(['start', '--brokers', String(brokers), '--started-by', 'bench']);
  const bootstrap = kafkaStatus().bootstrap ?? '127.0.0.1:9092';
  const topic = `bench.${runId.toLowerCase()}`;
  try {
    const k = await V3.start({ root: ROOT, workDir, label: 'kafka', log: 'kafka', topic, kafkaBrokers: bootstrap });
    try {
      const ingest = await k.ingest(ds, args.clients, args.maxFrames);
      log(`v3 kafka: ${ingest.points} points queryable in ${ingest.seconds.toFixed(2)} s`);
      await k.stop();
      return { ingest, peakRss: k.peakRss(), disk: k.disk(), topic, broker: `${kafkaVersion()}, ${brokers} broker(s)` };
    } finally {
      await k.stop();
      k.removeData();
      await deleteTopic(topic, bootstrap).catch((e) => log(`could not delete topic ${topic}: ${String(e)}`));
    }
  } finally {
    kafka(['stop', '--if-started-by', 'bench']);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const runId = new Date().toISOString().replace(/[:.]/g, '-');
  const workDir = args.outDir ?? join(ROOT, '.cache', 'bench', 'runs', runId);
  mkdirSync(workDir, { recursive: true });
  log(`run ${runId}: ${args.full ? 'FULL' : 'quick'} size, logs in ${workDir}`);

  setup();
  const ds: Dataset = await prepareDataset(ROOT, spec(args.full, args.seed));
  const tPrepared = performance.now();
  const cases = makeCases(ds, args.seed, args.queryRuns);
  const vmAnswers = new Map<Shape, Answer>();
  const v3Answers = new Map<Shape, Answer>();
  // Each finished phase is saved at once, so a run that dies later still leaves its numbers behind.
  const partial: Record<string, unknown> = { size: args.full ? 'full' : 'quick', dataset: ds };
  const checkpoint = (phase: string, value: unknown): void => {
    partial[phase] = value;
    writeFileSync(join(workDir, 'details.partial.json'), JSON.stringify(partial, null, 2));
  };
  const keep = (into: Map<Shape, Answer>) => (shape: Shape, i: number, ans: Answer) => {
    if (i === 0) into.set(shape, ans);
  };

  // 1. VictoriaMetrics: load, wait until queryable, force merge, measure, query. Runs alone on the machine.
  log('--- VictoriaMetrics');
  const vm = await VictoriaMetrics.start(workDir);
  let vmResult: RunDetails['victoriametrics'];
  try {
    const version = await vm.version();
    const ingest = await vm.ingest(ds, args.clients);
    log(`victoriametrics: ${ds.points} points queryable in ${ingest.seconds.toFixed(2)} s`);
    log('victoriametrics: force merge');
    await vm.forceMerge();
    const disk = vm.disk();
    const count = await vm.countPoints(ds);
    log('victoriametrics: queries');
    const queries = await runQueries('vm', vm.url, cases, keep(vmAnswers));
    vmResult = { version, ingest, disk, count, peakRss: vm.peakRss(), queries: Object.fromEntries(queries) as Record<Shape, Timing> };
    checkpoint('victoriametrics', vmResult);
  } finally {
    await vm.stop();
  }

  // 2. V3 on its embedded log: load, wait for every write token, stop (flush), measure; restart and query.
  log('--- V3 (embedded log)');
  const v3 = await V3.start({ root: ROOT, workDir, label: 'embedded', log: 'embedded' });
  let embedded: RunDetails['v3Embedded'];
  try {
    const ingest = await v3.ingest(ds, args.clients, args.maxFrames);
    log(`v3 embedded: ${ingest.points} points queryable in ${ingest.seconds.toFixed(2)} s`);
    const count = await v3.countPoints(ds).catch((err: unknown) => {
      log(`WARNING: V3 count query failed: ${String(err)}`);
      return -1;
    });
    if (count !== ingest.points) log(`WARNING: V3 counts ${count} points, ${ingest.points} were written`);
    // Like VictoriaMetrics' force merge: bytes are measured once background compaction and tiering are done.
    log('v3 embedded: waiting for compaction and tiering to settle');
    const settle = await v3.settle();
    log(`v3 embedded: settled in ${settle.seconds.toFixed(1)} s (${settle.seals} windows sealed, ${settle.moves} moved to cold, ${settle.passes} passes)`);
    const tStop = performance.now();
    const code = await v3.stop();
    const stopSeconds = (performance.now() - tStop) / 1000;
    const peakRss = v3.peakRss();
    const disk = v3.disk();
    log(`v3 embedded: stopped (exit ${code}) in ${stopSeconds.toFixed(1)} s; hot store ${disk.store.allocated} B, cold store ${disk.cold.allocated} B, log ${disk.log.allocated} B`);
    const q = await V3.start({ root: ROOT, workDir, label: 'query', log: 'embedded', dataDir: v3.dataDir, flags: ['--query-cache-bytes', '0', '--metadata-cache-bytes', '0'] });
    let queries: Map<Shape, Timing>;
    try {
      log('v3: queries');
      queries = await runQueries('v3', q.url, cases, keep(v3Answers));
    } finally {
      await q.stop();
    }
    embedded = { ingest, count, settle, stopSeconds, peakRss, disk, queries: Object.fromEntries(queries) as Record<Shape, Timing> };
    checkpoint('v3Embedded', embedded);
  } finally {
    await v3.stop();
    v3.removeData();
  }

  const equality: RunDetails['equality'] = {};
  for (const shape of SHAPES) {
    const a = v3Answers.get(shape);
    const b = vmAnswers.get(shape);
    const c = cases.get(shape)![0]!;
    const diff = a && b ? compareAnswers(a, b) : 'missing answer';
    equality[shape] = { case: c.label, values: a?.size ?? 0, equal: diff === undefined, diff, v3: c.v3, vm: c.vm };
    checkpoint('equality', equality);
    log(`answer check ${shape} (${c.label}): ${diff ?? `equal (${a!.size} values)`}`);
  }

  // 3. V3 on Kafka. A cluster someone else started (e.g. a test run) is left alone: the phase is skipped and the last
  // recorded Kafka figure of this size is carried over, labelled with its date.
  let kafkaResult: RunDetails['v3Kafka'];
  if (args.kafka) {
    log('--- V3 (Kafka log)');
    try {
      kafkaResult = await kafkaPhase(ds, args, workDir, runId);
      checkpoint('v3Kafka', kafkaResult);
    } catch (e) {
      log(`Kafka phase skipped: ${e instanceof Error ? e.message : String(e)}`);
      const prev = previousKafka(ds.spec.name);
      if (prev) {
        kafkaResult = { ...prev.v3Kafka!, carriedFrom: prev.date };
        log(`using the Kafka figure of the run of ${prev.date}`);
      }
    }
  }

  // 4. CPU profile of V3 ingest (a separate, shorter run: profiling slows the node down).
  let profile: (ProfileSummary & { points: number; seconds: number }) | undefined;
  if (args.profile) {
    log('--- V3 ingest under --cpu-prof');
    const profDir = join(workDir, 'cpuprof');
    rmSync(profDir, { recursive: true, force: true });
    const frames = Math.min(args.maxFrames ?? Infinity, Math.ceil(ds.points / ds.pointsPerV3SeriesBatch / (args.full ? 20 : 2)));
    const p = await V3.start({ root: ROOT, workDir, label: 'profile', log: 'embedded', cpuProfDir: profDir });
    try {
      const ingest = await p.ingest(ds, args.clients, frames);
      await p.stop();
      profile = { ...summariseProfiles(profDir, ROOT, 15), points: ingest.points, seconds: ingest.seconds };
    } finally {
      await p.stop();
      p.removeData();
    }
  }

  const details: RunDetails = {
    size: args.full ? 'full' : 'quick',
    date: new Date().toISOString(),
    runSeconds: (performance.now() - t0) / 1000,
    prepareSeconds: (tPrepared - t0) / 1000,
    args: { ...args },
    machine: machine(),
    versions: {
      node: process.version,
      v3: `${cmdOutput('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'])}${cmdOutput('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']) ? ' (with uncommitted changes)' : ''}`,
      victoriametrics: vmResult.version,
      vmPackage: cmdOutput('dpkg-query', ['-W', '-f=${Version}', 'victoria-metrics']),
      tsbs: ds.generator,
      kafka: kafkaResult?.broker,
    },
    dataset: ds,
    victoriametrics: vmResult,
    v3Embedded: embedded,
    v3Kafka: kafkaResult,
    equality,
    profile,
  };
  writeFileSync(join(workDir, 'details.json'), JSON.stringify(details, null, 2));
  if (args.maxFrames !== undefined) {
    log(`--max-frames given: partial load, BENCHMARKS.md and bench/results.json left alone (details in ${workDir}/details.json)`);
  } else {
    writeReport(ROOT, details);
    log('wrote BENCHMARKS.md and bench/results.json');
    process.stdout.write(readFileSync(join(ROOT, 'bench', 'results.json'), 'utf8'));
  }
  log(`done in ${details.runSeconds.toFixed(0)} s`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
