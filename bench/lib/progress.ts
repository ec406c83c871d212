/** A one-line progress bar on stderr (redrawn at most every 200 ms; plain lines when stderr is not a TTY). */
export class Progress {
  private last = 0;
  private readonly t0 = performance.now();
  private lastPct = -1;
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit = 'points',
  ) {}

  update(done: number, force = false): void {
    const now = performance.now();
    if (!force && now - this.last < 200) return;
    this.last = now;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const secs = (now - this.t0) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const width = 30;
    const filled = Math.round(frac * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const text = `${this.label} [${bar}] ${(frac * 100).toFixed(1).padStart(5)}% ${fmtCount(done)}/${fmtCount(this.total)} ${this.unit} ${fmtCount(rate)}/s ${secs.toFixed(1)}s`;
    if (process.stderr.isTTY) process.stderr.write(`\r${text}\x1b[K`);
    else {
      const pct = Math.floor(frac * 10);
      if (pct !== this.lastPct || force) {
        this.lastPct = pct;
        process.stderr.write(text + '\n');
      }
    }
  }

  done(done: number): void {
    this.update(done, true);
    if (process.stderr.isTTY) process.stderr.write('\n');
  }
}

export function fmtCount(n: number): string {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + 'G';
  if (n >= 1e6) return (n / 1e6).toFixed(2) + 'M';
  if (n >= 1e3) return (n / 1e3).toFixed(1) + 'k';
  return n.toFixed(0);
}

export function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}
