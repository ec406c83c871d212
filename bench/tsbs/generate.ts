/**
 * TSBS "cpu-only" data in InfluxDB line protocol, for when `tsbs_generate_data` itself cannot be installed.
 *
 * The data model is TSBS's devops cpu-only use case: `scale` hosts, each with the ten TSBS host tags (hostname,
 * region, datacenter, rack, os, arch, team, service, service_version, service_environment, drawn from the same
 * choice lists), and one `cpu` line every `interval` with the ten usage_* fields. Each field is a clamped random
 * walk in [0, 100] (start uniform in [0, 100), step N(0, 1)), printed as an integer (`58i`) as TSBS prints them.
 * Lines are ordered by time, then host — as TSBS writes them. Values differ from TSBS's (another PRNG), the shape,
 * cardinality, sizes and value statistics are the same.
 */
import { createWriteStream } from 'node:fs';
import { Rng } from './prng.js';

export const CPU_FIELDS = [
  'usage_user',
  'usage_system',
  'usage_idle',
  'usage_nice',
  'usage_iowait',
  'usage_irq',
  'usage_softirq',
  'usage_steal',
  'usage_guest',
  'usage_guest_nice',
] as const;

const REGIONS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['us-east-1', ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1e']],
  ['us-west-1', ['us-west-1a', 'us-west-1b']],
  ['us-west-2', ['us-west-2a', 'us-west-2b', 'us-west-2c']],
  ['eu-west-1', ['eu-west-1a', 'eu-west-1b', 'eu-west-1c']],
  ['eu-central-1', ['eu-central-1a', 'eu-central-1b']],
  ['ap-southeast-1', ['ap-southeast-1a', 'ap-southeast-1b']],
  ['ap-southeast-2', ['ap-southeast-2a', 'ap-southeast-2b']],
  ['ap-northeast-1', ['ap-northeast-1a', 'ap-northeast-1c']],
  ['sa-east-1', ['sa-east-1a', 'sa-east-1b', 'sa-east-1c']],
];
const TEAMS = ['SF', 'NYC', 'LON', 'CHI'];
const OSES = ['Ubuntu16.10', 'Ubuntu16.04LTS', 'Ubuntu15.10'];
const ARCHES = ['x64', 'x86'];
const ENVS = ['production', 'staging', 'test'];

export interface GenerateOptions {
  scale: number;
  startMs: number;
  endMs: number;
  intervalMs: number;
  seed: number;
}

/** Writes the data set to `path`; `onProgress(linesWritten, totalLines)`. Returns the line count. */
export async function generateCpuOnly(o: GenerateOptions, path: string, onProgress?: (done: number, total: number) => void): Promise<number> {
  const rng = new Rng(o.seed);
  const prefixes: string[] = [];
  const state: Float64Array[] = [];
  for (let h = 0; h < o.scale; h++) {
    const [region, dcs] = rng.pick(REGIONS);
    const tags = [
      `hostname=host_${h}`,
      `region=${region}`,
      `datacenter=${rng.pick(dcs)}`,
      `rack=${rng.int(100)}`,
      `os=${rng.pick(OSES)}`,
      `arch=${rng.pick(ARCHES)}`,
      `team=${rng.pick(TEAMS)}`,
      `service=${rng.int(20)}`,
      `service_version=${rng.int(2)}`,
      `service_environment=${rng.pick(ENVS)}`,
    ];
    prefixes.push(`cpu,${tags.join(',')} `);
    const s = new Float64Array(CPU_FIELDS.length);
    for (let f = 0; f < s.length; f++) s[f] = rng.float() * 100;
    state.push(s);
  }
  const epochs = Math.ceil((o.endMs - o.startMs) / o.intervalMs);
  const total = epochs * o.scale;
  const out = createWriteStream(path, { highWaterMark: 1 << 22 });
  let written = 0;
  let chunk = '';
  const flush = async (): Promise<void> => {
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    chunk = '';
  };
  for (let e = 0; e < epochs; e++) {
    const tsNs = `${o.startMs + e * o.intervalMs}000000`;
    for (let h = 0; h < o.scale; h++) {
      const s = state[h]!;
      if (e > 0) {
        for (let f = 0; f < s.length; f++) {
          let v = s[f]! + rng.normal();
          if (v < 0) v = 0;
          else if (v > 100) v = 100;
          s[f] = v;
        }
      }
      let line = prefixes[h]!;
      for (let f = 0; f < s.length; f++) line += (f > 0 ? ',' : '') + CPU_FIELDS[f] + '=' + Math.trunc(s[f]!) + 'i';
      chunk += line + ' ' + tsNs + '\n';
      written++;
    }
    if (chunk.length > 1 << 20) {
      await flush();
      onProgress?.(written, total);
    }
  }
  await flush();
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  onProgress?.(written, total);
  return written;
}
