/** Summarises V8 `.cpuprofile` files (node --cpu-prof): self time per function, top N. */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  files: number;
  totalMs: number;
  idleMs: number;
  top: SelfTime[];
  /** Self time grouped by source area (src/ingest, src/log, node internals, ...). */
  byArea: Array<{ area: string; ms: number; pct: number }>;
}

function area(url: string, root: string): string {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const path = url.startsWith('file://') ? url.slice(7) : url;
  const rel = relative(root, path);
  if (rel.startsWith('node_modules/')) return rel.split('/').slice(0, 2).join('/');
  if (rel.startsWith('dist/src/')) return 'src/' + rel.split('/')[2];
  return rel;
}

export function summariseProfiles(dir: string, root: string, topN = 15): ProfileSummary {
  const self = new Map<string, SelfTime>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  for (const f of files) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const samples = p.samples ?? [];
    const deltas = p.timeDeltas ?? [];
    for (let i = 0; i < samples.length; i++) {
      const n = byId.get(samples[i]!);
      if (!n) continue;
      const ms = (deltas[i] ?? 0) / 1000;
      const { functionName, url, lineNumber } = n.callFrame;
      const name = functionName || '(anonymous)';
      total += ms;
      if (name === '(idle)') {
        idle += ms;
        continue;
      }
      const file = url ? relative(root, url.startsWith('file://') ? url.slice(7) : url) : '';
      const where = file ? `${file}:${lineNumber + 1}` : '';
      const key = `${name}@${where}`;
      const e = self.get(key) ?? { fn: name, where, ms: 0, pct: 0 };
      e.ms += ms;
      self.set(key, e);
      const a = area(url, root);
      areas.set(a, (areas.get(a) ?? 0) + ms);
    }
  }
  const busy = total - idle;
  const top = [...self.values()].sort((a, b) => b.ms - a.ms).slice(0, topN).map((e) => ({ ...e, pct: busy > 0 ? (100 * e.ms) / busy : 0 }));
  const byArea = [...areas].map(([a, ms]) => ({ area: a, ms, pct: busy > 0 ? (100 * ms) / busy : 0 })).sort((a, b) => b.ms - a.ms);
  return { files: files.length, totalMs: total, idleMs: idle, top, byArea };
}
