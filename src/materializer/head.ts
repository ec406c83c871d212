import { BlockStats } from '../codec/block.js';
import { GorillaEncoder, decodeGorilla } from '../codec/gorilla.js';
import type { PointColumns } from '../store/read-model.js';

/**
 * The points of one series in one block window since the last flush, compressed as they arrive (Gorilla), with the
 * block header statistics kept alongside: a flush writes the stream as the block body as it is (no decode, split or
 * re-encode; encodeBlockFromGorilla).
 */
export class HeadRun extends BlockStats {
  // Small start: with a 10 s scrape and a 10 s flush most series hold one or two points per head.
  readonly enc = new GorillaEncoder(32);

  constructor(readonly window: number) {
    super();
  }

  append(t: number, v: number): void {
    // The encoder rejects an unsafe timestamp before writing anything; the statistics follow only a stored point.
    this.enc.append(t, v);
    this.add(t, v);
  }

  /** The run's points in log order. */
  read(): PointColumns {
    return decodeGorilla(this.enc.view(), this.enc.count);
  }
}

/**
 * The in-memory head of one partition: per series, one run per block window it has points in, each in log order
 * (not sorted: out-of-order and duplicate points are resolved at read time). Duplicates of a timestamp always fall
 * in the same window, so splitting by window keeps every order that matters. A series' runs are in no particular
 * order (the most recently appended last, so the common append finds its run first).
 */
export class Head {
  readonly series = new Map<number, HeadRun[]>();
  points = 0;
  minT = Number.POSITIVE_INFINITY;
  maxT = Number.NEGATIVE_INFINITY;

  constructor(readonly windowMs: number) {}

  append(seriesId: number, t: number, v: number): void {
    const w = this.windowMs;
    let runs = this.series.get(seriesId);
    if (!runs) this.series.set(seriesId, (runs = []));
    let run = runs.length > 0 ? runs[runs.length - 1]! : undefined;
    if (run === undefined || !(t >= run.window && t < run.window + w)) run = this.runFor(runs, Math.floor(t / w) * w);
    run.append(t, v);
    this.points++;
    if (t < this.minT) this.minT = t;
    if (t > this.maxT) this.maxT = t;
  }

  /** The run of `window`, moved to (or created at) the end of `runs`. */
  private runFor(runs: HeadRun[], window: number): HeadRun {
    const last = runs.length - 1;
    for (let i = 0; i < last; i++) {
      const run = runs[i]!;
      if (run.window !== window) continue;
      runs[i] = runs[last]!;
      runs[last] = run;
      return run;
    }
    const run = new HeadRun(window);
    runs.push(run);
    return run;
  }

  /** Decoded points of one series, one run per window (each in log order; windows do not overlap in time). */
  read(seriesId: number): PointColumns[] {
    const runs = this.series.get(seriesId);
    if (!runs) return [];
    return runs.map((r) => r.read());
  }

  byteLength(): number {
    let n = 0;
    for (const runs of this.series.values()) for (const r of runs) n += r.enc.byteLength;
    return n;
  }
}
