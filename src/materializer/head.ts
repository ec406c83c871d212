import { BlockStats } from '../codec/block-stats.js';
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
  /** The series' other runs (other windows): a chain, so the common one-window series costs no array. */
  next: HeadRun | null = null;

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

/** The runs of a chain (a series' runs in a head). */
export function runsOf(first: HeadRun | undefined): HeadRun[] {
  const out: HeadRun[] = [];
  for (let r = first ?? null; r !== null; r = r.next) out.push(r);
  return out;
}

/**
 * The in-memory head of one partition: per series, one run per block window it has points in, each in log order
 * (not sorted: out-of-order and duplicate points are resolved at read time). Duplicates of a timestamp always fall
 * in the same window, so splitting by window keeps every order that matters. A series' runs are chained in no
 * particular order except that the most recently appended is first, so the common append finds its run at once.
 */
export class Head {
  readonly series = new Map<number, HeadRun>();
  points = 0;
  minT = Number.POSITIVE_INFINITY;
  maxT = Number.NEGATIVE_INFINITY;

  constructor(readonly windowMs: number) {}

  append(seriesId: number, t: number, v: number): void {
    let run = this.series.get(seriesId);
    if (run === undefined || !(t >= run.window && t < run.window + this.windowMs)) run = this.runFor(seriesId, run, t);
    run.append(t, v);
    this.points++;
    if (t < this.minT) this.minT = t;
    if (t > this.maxT) this.maxT = t;
  }

  /** The run of t's window, moved to (or created at) the front of the series' chain. */
  private runFor(seriesId: number, first: HeadRun | undefined, t: number): HeadRun {
    const window = Math.floor(t / this.windowMs) * this.windowMs;
    let run: HeadRun | null = null;
    for (let prev = first ?? null; prev !== null && prev.next !== null; prev = prev.next) {
      if (prev.next.window !== window) continue;
      run = prev.next;
      prev.next = run.next;
      break;
    }
    if (run === null) run = new HeadRun(window);
    run.next = first ?? null;
    this.series.set(seriesId, run);
    return run;
  }

  /** Decoded points of one series, one run per window (each in log order; windows do not overlap in time). */
  read(seriesId: number): PointColumns[] {
    return runsOf(this.series.get(seriesId)).map((r) => r.read());
  }

  byteLength(): number {
    let n = 0;
    for (const first of this.series.values()) for (let r: HeadRun | null = first; r !== null; r = r.next) n += r.enc.byteLength;
    return n;
  }
}
