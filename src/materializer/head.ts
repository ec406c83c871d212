import { GorillaEncoder, decodeGorilla } from '../codec/gorilla.js';

/**
 * The in-memory head of one partition: per series, the points applied since the last flush, compressed as they
 * arrive (Gorilla), in log order (not sorted: out-of-order and duplicate points are resolved at read time).
 */
export class Head {
  readonly series = new Map<number, GorillaEncoder>();
  points = 0;
  minT = Number.POSITIVE_INFINITY;
  maxT = Number.NEGATIVE_INFINITY;

  append(seriesId: number, t: number, v: number): void {
    let enc = this.series.get(seriesId);
    // Small start: with a 10 s scrape and a 10 s flush most series hold one or two points per head.
    if (!enc) this.series.set(seriesId, (enc = new GorillaEncoder(32)));
    enc.append(t, v);
    this.points++;
    if (t < this.minT) this.minT = t;
    if (t > this.maxT) this.maxT = t;
  }

  /** Decoded points of one series, in log order; empty arrays when the head has none. */
  read(seriesId: number): { ts: number[]; vs: number[] } {
    const enc = this.series.get(seriesId);
    if (!enc || enc.count === 0) return { ts: [], vs: [] };
    return decodeGorilla(enc.view(), enc.count);
  }

  byteLength(): number {
    let n = 0;
    for (const enc of this.series.values()) n += enc.byteLength;
    return n;
  }
}
