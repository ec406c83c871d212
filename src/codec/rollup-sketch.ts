/**
 * Bucket sketches of a rollup entry (docs/format/block.md §9.6): with `--rollups …,sketch`, each bucket of the coarsest
 * configured resolution also carries the DDSketch of its values (the query engine's mapping, α = 0.01, 4096 keys per
 * sign), so percentile queries can merge bucket sketches instead of decoding the block. The sketch's count, min and
 * max are the bucket's own (stored once, in the bucket); what is written is each sign's keys and counts, zeros derived.
 */
import { CompactReader, pushSVarint, pushUVarint, uvarintLength } from './compact-fields.js';
import { DDSketch, DEFAULT_SKETCH_ALPHA, DEFAULT_SKETCH_MAX_BUCKETS, SKETCH_MIN_INDEXABLE } from './sketch.js';

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

/** Key range of normal doubles under the rollup mapping (checked on read, so a lazy build cannot fail). */
const MAPPING = rollupSketch();
const MIN_KEY = MAPPING.keyOf(SKETCH_MIN_INDEXABLE);
const MAX_KEY = MAPPING.keyOf(Number.MAX_VALUE);

/**
 * Reads (and checks) one sign store; returns its total and first key. `into` collects its [key, count] pairs; without
 * it nothing is allocated (the checking pass).
 */
function readStore(r: CompactReader, end: number, prevFirst: number, what: string, into?: Array<[number, number]>): { total: number; first: number } {
  const h = r.uvarint(`${what} store length`);
  if (h === 0) return { total: 0, first: prevFirst };
  const dense = h % 2 === 1;
  const n = Math.floor(h / 2);
  // every stored key takes at least one byte: a longer store cannot be in the section
  if (n < 1 || n > end - r.pos || n > DEFAULT_SKETCH_MAX_BUCKETS) throw new Error(`${what} store of ${n} keys does not fit the rollup section or the sketch`);
  const first = prevFirst + r.svarint(`${what} first key`);
  let total = 0;
  let k = first;
  for (let j = 0; j < n; j++) {
    if (j > 0) k += dense ? 1 : 1 + r.uvarint(`${what} key gap`);
    const c = r.uvarint(`${what} count`);
    if (c === 0 && (!dense || j === 0 || j === n - 1)) throw new Error(`${what} store has a zero count at key ${k}`);
    total += c;
    if (c > 0 && into !== undefined) into.push([k, c]);
  }
  if (first < MIN_KEY || k > MAX_KEY || k - first + 1 > DEFAULT_SKETCH_MAX_BUCKETS) throw new Error(`${what} keys [${first}, ${k}] are outside [${MIN_KEY}, ${MAX_KEY}] or span more than ${DEFAULT_SKETCH_MAX_BUCKETS}`);
  if (r.pos > end || total > Number.MAX_SAFE_INTEGER) throw new Error(`${what} store overruns the rollup section or its counts 2^53`);
  return { total, first };
}

/**
 * Reads and checks the sketches of an entry's buckets (each bucket's count, min and max already read) and gives each
 * bucket a `sketch` property built on first use from a copy of these bytes: a reader that wants only count/sum/min/max
 * (the usual rollup query) pays for a checking pass, not for building sketches. The zero count is the bucket's count
 * minus both stores' totals and must not be negative. Everything a build needs is checked here, so it cannot fail.
 */
export function readBucketSketches(r: CompactReader, end: number, buckets: ReadonlyArray<{ count: number; min: number; max: number; sketch?: DDSketch }>, where: string): void {
  const from = r.pos;
  const at: Array<{ pos: number; negFirst: number; posFirst: number }> = [];
  let negFirst = 0;
  let posFirst = 0;
  for (let j = 0; j < buckets.length; j++) {
    at.push({ pos: r.pos - from, negFirst, posFirst });
    const neg = readStore(r, end, negFirst, `${where} bucket ${j} sketch negative`);
    const pos = readStore(r, end, posFirst, `${where} bucket ${j} sketch positive`);
    negFirst = neg.first;
    posFirst = pos.first;
    if (neg.total + pos.total > buckets[j]!.count) throw new Error(`${where} bucket ${j} sketch counts ${neg.total + pos.total} values, the bucket ${buckets[j]!.count}`);
  }
  const bytes = r.b.slice(from, r.pos);
  buckets.forEach((b, j) => {
    let built: DDSketch | undefined;
    Object.defineProperty(b, 'sketch', {
      enumerable: true,
      configurable: true,
      get(): DDSketch {
        if (built !== undefined) return built;
        const lr = new CompactReader(bytes, at[j]!.pos, where);
        const negative: Array<[number, number]> = [];
        const positive: Array<[number, number]> = [];
        const neg = readStore(lr, bytes.length, at[j]!.negFirst, where, negative);
        const pos = readStore(lr, bytes.length, at[j]!.posFirst, where, positive);
        return (built = DDSketch.fromBuckets({ negative, zero: b.count - neg.total - pos.total, positive }, b.min, b.max));
      },
    });
  });
}
