/**
 * Repeatable query-path measurement for V3 alone (no peer): loads the TSBS quick data set (or `--full`) once into a
 * data dir that later runs reuse, waits until compaction and tiering settle, restarts the node on it with the query
 * and metadata caches off (as bench/run.ts does), runs every TSBS shape `--runs` times and prints median/p95.
 *
 *   npm run build && node dist/bench/query-profile.js [--data-dir DIR] [--runs N] [--rounds N] [--restarts N] [--pause-ms N] [--shapes a,b]
 *     [--cpu-prof DIR] [--full] [--seed N] [--flags "--serve-flag value ..."]
 *
 * --data-dir: default .cache/bench/query-profile-<dataset>; loaded on first use (a `.loaded` marker says it is done).
 * --runs: timed cases per shape (plus the WARMUPS untimed ones first), as bench/run.ts's --query-runs (20).
 * --rounds: run the shape list this many times on the same node, each round with its own hosts and windows. Round 1
 *   after a start is "cold" (fresh process, empty caches, unoptimised code: what bench/run.ts measures); later rounds
 *   are "warm" (optimised code and warm store caches, but blocks not decoded before).
 * --restarts: start the node this many times (cold figures are over all starts).
 * --pause-ms: wait this long after the node is ready before querying (default 0, 1000 with --cpu-prof).
 * --cpu-prof DIR: run the query node under `node --cpu-prof` and print self and inclusive time per function over the
 *   samples from the first query on (start-up left out; worker threads' profiles too).
 * BENCH_DATA_ROOT: the checkout whose .cache/bench/data holds the data set (default: this one), for a build of the
 *   tree in another directory (an A/B comparison) that must not re-encode the cached data set under its own paths.
 * Every start runs the same rounds: answers of the first start are kept and the later starts' must equal them.
 * Besides latency it prints the node's CPU (user + system, every thread, from /proc) per timed query: on a machine
 * shared with other work that is steadier than latency (clock ticks of 10 ms: use enough --runs for short queries).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDataset, type DatasetSpec } from './dataset.js';
import { log } from './lib/progress.js';
import { sleep } from './lib/proc.js';
import { V3 } from './peers/v3.js';
import { SHAPES, WARMUPS, compareAnswers, makeCases, normaliseV3, summarise, type Answer, type Shape } from './queries.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Args {
  dataDir?: string;
  runs: number;
  rounds: number;
  restarts: number;
  pauseMs?: number;
  shapes: Shape[];
  cpuProf?: string;
  full: boolean;
  seed: number;
  flags: string[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { runs: 20, rounds: 3, restarts: 3, shapes: [...SHAPES], full: false, seed: 123, flags: [] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    if (k === '--data-dir') a.dataDir = resolve(argv[++i]!);
    else if (k === '--runs') a.runs = Number(argv[++i]);
    else if (k === '--rounds') a.rounds = Number(argv[++i]);
    else if (k === '--restarts') a.restarts = Number(argv[++i]);
    else if (k === '--pause-ms') a.pauseMs = Number(argv[++i]);
    else if (k === '--shapes') a.shapes = argv[++i]!.split(',') as Shape[];
    else if (k === '--cpu-prof') a.cpuProf = resolve(argv[++i]!);
    else if (k === '--full') a.full = true;
    else if (k === '--seed') a.seed = Number(argv[++i]);
    else if (k === '--flags') a.flags = argv[++i]!.split(' ').filter(Boolean);
    else throw new Error(`unknown argument ${k}`);
  }
  for (const s of a.shapes) if (!SHAPES.includes(s)) throw new Error(`unknown shape ${s}`);
  return a;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const scale = args.full ? 1000 : 100;
  const spec: DatasetSpec = { name: `cpu-only-s${scale}-1d-seed${args.seed}`, scale, start: '2016-01-01T00:00:00Z', end: '2016-01-02T00:00:00Z', interval: '10s', seed: args.seed, linesPerVmBatch: 10_000, pointsPerV3Batch: 10_000 };
  // The data set cache records absolute paths: a copy of the tree built elsewhere must still name this checkout's.
  const ds = await prepareDataset(process.env.BENCH_DATA_ROOT ?? ROOT, spec);
  const dataDir = args.dataDir ?? join(ROOT, '.cache', 'bench', `query-profile-${spec.name}`);
  const workDir = join(dataDir, '..', `${dataDir.split('/').pop()}-logs`);
  mkdirSync(workDir, { recursive: true });
  const marker = join(dataDir, '.loaded');
  if (!existsSync(marker)) {
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true });
    log(`loading ${ds.points} points into ${dataDir}`);
    const v3 = await V3.start({ root: ROOT, workDir, label: 'load', log: 'embedded', dataDir });
    try {
      const ingest = await v3.ingest(ds, 4);
      log(`loaded in ${ingest.seconds.toFixed(1)} s; waiting for compaction and tiering to settle`);
      const settle = await v3.settle();
      log(`settled in ${settle.seconds.toFixed(1)} s (${settle.seals} sealed, ${settle.moves} moved)`);
    } finally {
      await v3.stop();
    }
    writeFileSync(marker, new Date().toISOString());
  }
  if (args.cpuProf) rmSync(args.cpuProf, { recursive: true, force: true });
  const flags = ['--query-cache-bytes', '0', '--metadata-cache-bytes', '0', ...args.flags];
  // Every round asks other hosts and windows (its own seed), so a warm round still reads blocks it has not decoded
  // before; every start asks the same rounds again, and their answers must not change.
  const roundCases = Array.from({ length: args.rounds }, (_, r) => new Map([...makeCases(ds, args.seed + r, args.runs)].filter(([s]) => args.shapes.includes(s))));
  // Round 1 after a start is what bench/run.ts measures (fresh process: cold caches, code not yet optimised).
  const cold = new Map<Shape, number[]>();
  const warm = new Map<Shape, number[]>();
  const first = new Map<string, Answer>();
  // Server CPU (user + system, all threads) per timed query: steadier than latency on a machine shared with other work.
  const coldCpu = new Map<Shape, number[]>();
  const warmCpu = new Map<Shape, number[]>();
  for (let restart = 0; restart < args.restarts; restart++) {
    const q = await V3.start({ root: ROOT, workDir, label: 'query', log: 'embedded', dataDir, flags, cpuProfDir: args.cpuProf });
    try {
      // With a profile, an idle second between start-up and the queries: printProfile cuts there.
      const pause = args.pauseMs ?? (args.cpuProf ? 1000 : 0);
      if (pause > 0) await sleep(pause);
      for (let round = 0; round < args.rounds; round++) {
        if (round > 0 && args.cpuProf) await sleep(1000); // rounds apart in the profile, too
        const line: string[] = [];
        for (const [shape, list] of roundCases[round]!) {
          const l: number[] = [];
          // The WARMUPS untimed cases (last in the list) go first.
          const order = [...list.keys()].map((k) => (k + list.length - WARMUPS) % list.length);
          let cpu0 = 0;
          for (const i of order) {
            const c = list[i]!;
            if (i === 0) cpu0 = processCpuMs(q.pid);
            const t0 = performance.now();
            const r = await q.get(c.v3.path, c.v3.params);
            const ms = performance.now() - t0;
            if (r.status !== 200) throw new Error(`${shape} (${c.label}): ${r.status} ${r.body.slice(0, 400)}`);
            if (i >= list.length - WARMUPS) continue;
            l.push(ms);
            const ans = normaliseV3(shape, r.body);
            const key = `${round}|${shape}#${i}`;
            const prev = first.get(key);
            if (!prev) first.set(key, ans);
            else {
              const diff = compareAnswers(ans, prev);
              if (diff) throw new Error(`start ${restart + 1} round ${round + 1} ${shape} case ${i} answered differently: ${diff}`);
            }
          }
          const into = round === 0 ? cold : warm;
          into.set(shape, [...(into.get(shape) ?? []), ...l]);
          const cpuInto = round === 0 ? coldCpu : warmCpu;
          cpuInto.set(shape, [...(cpuInto.get(shape) ?? []), (processCpuMs(q.pid) - cpu0) / Math.max(1, l.length)]);
          line.push(`${shape} ${summarise(l).median.toFixed(2)} ms`);
        }
        log(`start ${restart + 1} round ${round + 1}: ${line.join(', ')}`);
      }
    } finally {
      await q.stop();
    }
  }
  console.log(`\n${spec.name}, ${args.runs} cases per shape and round, ${args.restarts} start(s) x ${args.rounds} round(s) (ms)`);
  console.log('| shape | cold median | cold p95 | warm median | warm p95 | server CPU ms/query cold | warm |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  const fmt = (l: number[] | undefined, f: 'median' | 'p95'): string => (l && l.length > 0 ? summarise(l)[f].toFixed(2) : '-');
  for (const s of roundCases[0]!.keys()) console.log(`| ${s} | ${fmt(cold.get(s), 'median')} | ${fmt(cold.get(s), 'p95')} | ${fmt(warm.get(s), 'median')} | ${fmt(warm.get(s), 'p95')} | ${fmt(coldCpu.get(s), 'median')} | ${fmt(warmCpu.get(s), 'median')} |`);
  if (args.cpuProf) printProfile(args.cpuProf);
}

/** utime + stime of a process (every thread), in ms (clock ticks of 10 ms: time enough cases to average them out). */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

interface ProfNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Self and inclusive time per function over the samples from the first one inside runQuery (the queries). */
function printProfile(dir: string, top = 40): void {
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let busy = 0;
  const add = (m: Map<string, number>, k: string, ms: number): void => void m.set(k, (m.get(k) ?? 0) + ms);
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { nodes: ProfNode[]; samples: number[]; timeDeltas: number[] };
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const name = (n: ProfNode): string => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
    const stack = (id: number): ProfNode[] => {
      const out: ProfNode[] = [];
      for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) out.push(byId.get(x)!);
      return out;
    };
    const from = p.samples.findIndex((id) => stack(id).some((n) => n.callFrame.functionName === 'runQuery'));
    if (from < 0) continue;
    for (let i = from; i < p.samples.length; i++) {
      const frames = stack(p.samples[i]!);
      if (frames[0]!.callFrame.functionName === '(idle)') continue;
      const ms = p.timeDeltas[i]! / 1000;
      busy += ms;
      add(self, name(frames[0]!), ms);
      for (const k of new Set(frames.map(name))) add(incl, k, ms);
    }
  }
  console.log(`\nprofile (after start-up): busy ${busy.toFixed(0)} ms`);
  for (const [title, m] of [['self', self], ['inclusive', incl]] as const) {
    console.log(title);
    for (const [k, ms] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / busy).toFixed(1).padStart(5)}%  ${k}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
