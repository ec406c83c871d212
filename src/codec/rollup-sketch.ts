/**
 * Bucket sketches of a rollup entry (docs/format/block.md §9.6): with `--rollups …,sketch`, each bucket of the coarsest
 * configured resolution also carries the DDSketch of its values (the query engine's mapping, α = 0.01, 4096 keys per
 * sign), so percentile queries can merge bucket sketches instead of decoding the block. The sketch's count, min and
 * max are the bucket's own (stored once, in the bucket); what is written is each sign's keys and counts, zeros derived.
 */
import { CompactReader, pushSVarint, pushUVarint, uvarintLength } from './compact-fields.js';
import { DDSketch, DEFAULT_SKETCH_ALPHA, DEFAULT_SKETCH_MAX_BUCKETS } from './sketch.js';

/** A new, empty sketch with the mapping rollup sketches use (the same as the query engine's percentile sketches). */
export function rollupSketch(): DDSketch {
  return new DDSketch(DEFAULT_SKETCH_ALPHA, DEFAULT_SKETCH_MAX_BUCKETS);
}

type Entries = ReadonlyArray<readonly [number, number]>;

/**
 * One sign store: uvarint `2·L + dense` (0: empty), the first key as an svarint delta from the previous bucket's first
 * key of the same sign, then dense: L counts for keys first … first + L − 1 (zeros inside), or sparse: the first
 * key's count, then L − 1 pairs (key gap − 1, count). The writer picks the smaller. Returns the first key written.
 */
function pushStore(out: number[], list: Entries, prevFirst: number): number {
  if (list.length === 0) {
    out.push(0);
    return prevFirst;
  }
  const first = list[0]![0];
  const span = list[list.length - 1]![0] - first + 1;
  let sparse = 0;
  for (let j = 0; j < list.length; j++) sparse += uvarintLength(list[j]![1]) + (j > 0 ? uvarintLength(list[j]![0] - list[j - 1]![0] - 1) : 0);
  let dense = span - list.length; // one zero byte per empty key
  for (const [, c] of list) dense += uvarintLength(c);
  if (dense <= sparse) {
    pushUVarint(out, 2 * span + 1);
    pushSVarint(out, first - prevFirst);
    let j = 0;
    for (let k = first; k < first + span; k++) {
      if (list[j]![0] === k) pushUVarint(out, list[j++]![1]);
      else out.push(0);
    }
  } else {
    pushUVarint(out, 2 * list.length);
    pushSVarint(out, first - prevFirst);
    pushUVarint(out, list[0]![1]);
    for (let j = 1; j < list.length; j++) {
      pushUVarint(out, list[j]![0] - list[j - 1]![0] - 1);
      pushUVarint(out, list[j]![1]);
    }
  }
  return first;
}

/** Writes the sketches of an entry's buckets (all present), in bucket order: negative store, then positive. */
export function pushBucketSketches(out: number[], sketches: readonly DDSketch[]): void {
  let negFirst = 0;
  let posFirst = 0;
  for (const s of sketches) {
    const b = s.buckets();
    negFirst = pushStore(out, b.negative, negFirst);
    posFirst = pushStore(out, b.positive, posFirst);
  }
}

function readStore(r: CompactReader, end: number, prevFirst: number, what: string): { list: Array<[number, number]>; first: number } {
  const h = r.uvarint(`${what} store length`);
  if (h === 0) return { list: [], first: prevFirst };
  const dense = h % 2 === 1;
  const n = Math.floor(h / 2);
  // every stored key takes at least one byte: a longer store cannot be in the section
  if (n > end - r.pos || n > DEFAULT_SKETCH_MAX_BUCKETS) throw new Error(`${what} store of ${n} keys does not fit the rollup section or the sketch`);
  const first = prevFirst + r.svarint(`${what} first key`);
  const list: Array<[number, number]> = [];
  if (dense) {
    for (let j = 0; j < n; j++) {
      const c = r.uvarint(`${what} count`);
      if (c > 0) list.push([first + j, c]);
      else if (j === 0 || j === n - 1) throw new Error(`${what} dense store has a zero count at its first or last key`);
    }
  } else {
    list.push([first, r.uvarint(`${what} count`)]);
    for (let j = 1; j < n; j++) {
      const k = list[j - 1]![0] + 1 + r.uvarint(`${what} key gap`);
      list.push([k, r.uvarint(`${what} count`)]);
    }
  }
  if (r.pos > end) throw new Error(`${what} store overruns the rollup section`);
  return { list, first };
}

/**
 * Reads the sketches of an entry's buckets ([count, min, max] each, from the bucket fields just read). The zero count
 * is the bucket's count minus both stores' totals and must not be negative.
 */
export function readBucketSketches(r: CompactReader, end: number, buckets: ReadonlyArray<{ count: number; min: number; max: number }>, where: string): DDSketch[] {
  const out: DDSketch[] = [];
  let negFirst = 0;
  let posFirst = 0;
  for (let j = 0; j < buckets.length; j++) {
    const b = buckets[j]!;
    const neg = readStore(r, end, negFirst, `${where} bucket ${j} sketch negative`);
    const pos = readStore(r, end, posFirst, `${where} bucket ${j} sketch positive`);
    negFirst = neg.first;
    posFirst = pos.first;
    let stored = 0;
    for (const [, c] of neg.list) stored += c;
    for (const [, c] of pos.list) stored += c;
    if (stored > b.count) throw new Error(`${where} bucket ${j} sketch counts ${stored} values, the bucket ${b.count}`);
    out.push(DDSketch.fromBuckets({ negative: neg.list, zero: b.count - stored, positive: pos.list }, b.min, b.max));
  }
  return out;
}
