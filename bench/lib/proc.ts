/** Processes, ports, memory and disk measurement for the benchmark. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface Started {
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** Spawns a server; stdout/stderr go to `logPath`. */
export function start(cmd: string, args: string[], logPath: string, env?: NodeJS.ProcessEnv): Started {
  const out = createWriteStream(logPath);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
  return { child, exited };
}

/** Stops a started server with SIGTERM (SIGKILL after `graceMs`); resolves with the exit code. */
export async function stop(s: Started, graceMs = 180_000): Promise<number | null> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return s.child.exitCode;
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), graceMs);
  const code = await s.exited;
  clearTimeout(timer);
  return code;
}

export async function waitHttp(url: string, timeoutMs: number, ok: (status: number) => boolean = (s) => s === 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (ok(r.status)) return;
      lastErr = `status ${r.status}`;
    } catch (e) {
      lastErr = String(e);
    }
    await sleep(100);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${lastErr})`);
}

/** Peak resident set size of a process, by polling VmHWM (kernel-kept high-water mark) in /proc/<pid>/status. */
export class RssMonitor {
  peak = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 250);
    this.sample();
  }
  sample(): void {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      for (const key of ['VmHWM', 'VmRSS']) {
        const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
        if (m) this.peak = Math.max(this.peak, Number(m[1]) * 1024);
      }
    } catch {
      /* process gone */
    }
  }
  stop(): number {
    this.sample();
    clearInterval(this.timer);
    return this.peak;
  }
}

/** Disk usage of a directory: allocated bytes (`du -B1`) and apparent bytes (`du -b`). */
export function diskUsage(dir: string): { allocated: number; apparent: number } {
  const run = (flag: string): number => {
    const r = spawnSync('du', ['-s', flag, dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`du ${flag} ${dir}: ${r.stderr}`);
    return Number(r.stdout.split(/\s+/)[0]);
  };
  return { allocated: run('-B1'), apparent: run('-b') };
}

export function cmdOutput(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return ((r.stdout ?? '') + (r.stderr ?? '')).trim();
}
