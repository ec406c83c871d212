/**
 * Series → partition routing: `partition = jumpConsistentHash(XXH64(utf8(canonicalSeriesKey), seed 0), P)`.
 * Producers in other languages compute the same function (docs/format/partitioning.md), so every byte of it is a
 * compatibility contract: the golden vectors in test/fixtures/partitioning.json must never change.
 *
 * XXH64 runs on 64-bit values held as two signed int32 halves (h, l) in local variables: ingest hashes every
 * point, and BigInt allocates on every operation (a BigInt XXH64 measured ~9× slower on 67-byte keys). Int32 (`| 0`) rather than
 * uint32 (`>>> 0`) because V8 keeps int32 values unboxed while a uint32 above 2^31 becomes a heap number whenever
 * it crosses a call or a variable outside registers. Additions and rotations are written inline; only the
 * 64-bit multiply's high word is a helper, whose arguments and result are int32 too.
 */
import { TsdbError } from '../common/errors.js';

// XXH64 primes as (high, low) int32 halves.
const P1H = 0x9e3779b1 | 0, P1L = 0x85ebca87 | 0;
const P2H = 0xc2b2ae3d | 0, P2L = 0x27d4eb4f | 0;
const P3H = 0x165667b1 | 0, P3L = 0x9e3779f9 | 0;
const P4H = 0x85ebca77 | 0, P4L = 0xc2b2ae63; // P4 is only ever added: its low half stays unsigned
const P5H = 0x27d4eb2f | 0, P5L = 0x165667c5 | 0;
// Lamping–Veach LCG multiplier 2862933555777941757 = 0x27BB2EE687B0B0FD.
const LCG_H = 0x27bb2ee6 | 0, LCG_L = 0x87b0b0fd | 0;

/** High word of (h, l) * (ch, cl) mod 2^64. The low word is Math.imul(l, cl). */
function mulHi(h: number, l: number, ch: number, cl: number): number {
  const a = l & 0xffff, c = l >>> 16, d = cl & 0xffff, e = cl >>> 16;
  // The high word of the unsigned 32×32 product l*cl from 16-bit partial products, each exact in a double.
  const p = a * d, q = a * e, r = c * d;
  const carry = ((p >>> 16) + (q & 0xffff) + (r & 0xffff)) >>> 16;
  return (c * e + (q >>> 16) + (r >>> 16) + carry + Math.imul(h, cl) + Math.imul(l, ch)) | 0;
}

function i32(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
}

/** Low half of a two-word result; the high half is the function's return value. */
let LO = 0;

/** XXH64 round(acc, input) = rotl(acc + input * P2, 31) * P1 over one lane's words at off, off + 32, ... < end. */
function lane(b: Uint8Array, off: number, end: number, h: number, l: number): number {
  for (let i = off; i < end; i += 32) {
    const y = i32(b, i);
    const x = mulHi(i32(b, i + 4), y, P2H, P2L);
    const t = (l >>> 0) + (Math.imul(y, P2L) >>> 0);
    h = (h + x + (t > 0xffffffff ? 1 : 0)) | 0;
    l = t | 0;
    const u = h;
    h = (h << 31) | (l >>> 1);
    l = (l << 31) | (u >>> 1);
    h = mulHi(h, l, P1H, P1L);
    l = Math.imul(l, P1L);
  }
  LO = l;
  return h;
}

/** mergeRound(acc, v) = (acc ^ round(0, v)) * P1 + P4. */
function merge(h: number, l: number, vh: number, vl: number): number {
  let x = mulHi(vh, vl, P2H, P2L);
  let y = Math.imul(vl, P2L);
  const u = x;
  x = (x << 31) | (y >>> 1);
  y = (y << 31) | (u >>> 1);
  h ^= mulHi(x, y, P1H, P1L);
  l ^= Math.imul(y, P1L);
  h = mulHi(h, l, P1H, P1L);
  const t = (Math.imul(l, P1L) >>> 0) + P4L;
  LO = t | 0;
  return (h + P4H + (t > 0xffffffff ? 1 : 0)) | 0;
}

/** (h, l) = (a, b) + (c, d) mod 2^64, for the seed set-up (not on the per-byte path). */
function add(ah: number, al: number, bh: number, bl: number): number {
  const t = (al >>> 0) + (bl >>> 0);
  LO = t | 0;
  return (ah + bh + (t > 0xffffffff ? 1 : 0)) | 0;
}

/** The converged accumulator after the 32-byte stripes of b[0..len), len >= 32. */
function stripes(b: Uint8Array, len: number, seedH: number, seedL: number): number {
  // The four lanes are independent, so they run one after another rather than interleaved as in the reference:
  // a loop body holding one lane's arithmetic stays small enough for V8 to inline mulHi into it.
  const end = len - (len % 32);
  const v1h = lane(b, 0, end, add(add(seedH, seedL, P1H, P1L), LO, P2H, P2L), LO);
  const v1l = LO;
  const v2h = lane(b, 8, end, add(seedH, seedL, P2H, P2L), LO);
  const v2l = LO;
  const v3h = lane(b, 16, end, seedH, seedL);
  const v3l = LO;
  const v4h = lane(b, 24, end, add(seedH, seedL, 0x61c8864e, 0x7a143579), LO); // seed - P1 = seed + (2^64 - P1)
  const v4l = LO;
  // h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)
  let h = add((v1h << 1) | (v1l >>> 31), (v1l << 1) | (v1h >>> 31), (v2h << 7) | (v2l >>> 25), (v2l << 7) | (v2h >>> 25));
  h = add(h, LO, (v3h << 12) | (v3l >>> 20), (v3l << 12) | (v3h >>> 20));
  h = add(h, LO, (v4h << 18) | (v4l >>> 14), (v4l << 18) | (v4h >>> 14));
  h = merge(h, LO, v1h, v1l);
  h = merge(h, LO, v2h, v2l);
  h = merge(h, LO, v3h, v3l);
  return merge(h, LO, v4h, v4l);
}

/** XXH64(b[0..len), seed); returns the high half, LO holds the low half. */
function xxh64Into(b: Uint8Array, len: number, seedH: number, seedL: number): number {
  let h = len >= 32 ? stripes(b, len, seedH, seedL) : add(seedH, seedL, P5H, P5L);
  h = add(h, LO, (len / 4294967296) | 0, len | 0);
  let l = LO;
  let i = len - (len % 32);
  let u: number, t: number;
  for (; i + 8 <= len; i += 8) {
    // k = round(0, word); h = rotl(h ^ k, 27) * P1 + P4
    const y = i32(b, i);
    let kh = mulHi(i32(b, i + 4), y, P2H, P2L);
    let kl = Math.imul(y, P2L);
    u = kh;
    kh = (kh << 31) | (kl >>> 1);
    kl = (kl << 31) | (u >>> 1);
    h ^= mulHi(kh, kl, P1H, P1L);
    l ^= Math.imul(kl, P1L);
    u = h;
    h = (h << 27) | (l >>> 5);
    l = (l << 27) | (u >>> 5);
    h = mulHi(h, l, P1H, P1L);
    t = (Math.imul(l, P1L) >>> 0) + P4L;
    h = (h + P4H + (t > 0xffffffff ? 1 : 0)) | 0;
    l = t | 0;
  }
  if (i + 4 <= len) {
    // h = rotl(h ^ (word32 * P1), 23) * P2 + P3
    const y = i32(b, i);
    h ^= mulHi(0, y, P1H, P1L);
    l ^= Math.imul(y, P1L);
    u = h;
    h = (h << 23) | (l >>> 9);
    l = (l << 23) | (u >>> 9);
    h = mulHi(h, l, P2H, P2L);
    t = (Math.imul(l, P2L) >>> 0) + (P3L >>> 0);
    h = (h + P3H + (t > 0xffffffff ? 1 : 0)) | 0;
    l = t | 0;
    i += 4;
  }
  for (; i < len; i++) {
    // h = rotl(h ^ (byte * P5), 11) * P1
    h ^= mulHi(0, b[i]!, P5H, P5L);
    l ^= Math.imul(b[i]!, P5L);
    u = h;
    h = (h << 11) | (l >>> 21);
    l = (l << 11) | (u >>> 21);
    h = mulHi(h, l, P1H, P1L);
    l = Math.imul(l, P1L);
  }
  // Avalanche: h ^= h >>> 33; h *= P2; h ^= h >>> 29; h *= P3; h ^= h >>> 32.
  l ^= h >>> 1;
  h = mulHi(h, l, P2H, P2L);
  l = Math.imul(l, P2L);
  l ^= (l >>> 29) | (h << 3);
  h ^= h >>> 29;
  h = mulHi(h, l, P3H, P3L);
  l = Math.imul(l, P3L);
  LO = l ^ h;
  return h;
}

let scratch = new Uint8Array(1024);
const encoder = new TextEncoder();

/**
 * UTF-8 bytes of s into `scratch` (WHATWG UTF-8: a lone surrogate becomes U+FFFD); returns the byte length.
 * encodeInto measured faster than both a charCodeAt loop and Buffer#write for typical 30–100 character keys.
 */
function utf8Into(s: string): number {
  if (s.length * 3 > scratch.length) scratch = new Uint8Array(Math.max(s.length * 3, scratch.length * 2));
  return encoder.encodeInto(s, scratch).written;
}

/** XXH64 (seed 0) of the key's UTF-8 bytes; LO holds the low half. */
function hashKey(seriesKey: string): number {
  const len = utf8Into(seriesKey); // first: it may replace `scratch` with a larger buffer
  return xxh64Into(scratch, len, 0, 0);
}

function toBigInt(h: number, l: number): bigint {
  return (BigInt(h >>> 0) << 32n) | BigInt(l >>> 0);
}

/** XXH64 of bytes with a 64-bit seed (reduced mod 2^64), as an unsigned 64-bit integer. */
export function xxh64(data: Uint8Array, seed: bigint = 0n): bigint {
  const s = BigInt.asUintN(64, seed);
  const h = xxh64Into(data, data.length, Number(BigInt.asIntN(32, s >> 32n)), Number(BigInt.asIntN(32, s)));
  return toBigInt(h, LO);
}

/** XXH64 with seed 0 over the UTF-8 bytes of a canonical series key (src/common/series-key.ts). */
export function hash64(seriesKey: string): bigint {
  const h = hashKey(seriesKey);
  return toBigInt(h, LO);
}

/** hash64 as the 16 lowercase hex digits used in docs and fixtures. */
export function hash64Hex(seriesKey: string): string {
  return hash64(seriesKey).toString(16).padStart(16, '0');
}

const MAX_BUCKETS = 0x7fffffff;

function checkBuckets(buckets: number): void {
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS) {
    throw new TsdbError(
      'TSDB_ERR_CONFIG_INVALID',
      `cannot route series (partitions=${String(buckets)}): partitions must be an integer in [1, 2^31-1]`,
    );
  }
}

/**
 * Lamping & Veach (2014), "A Fast, Minimal Memory, Consistent Hash Algorithm", with its double arithmetic kept
 * exactly: `j = (b + 1) * (2^31 / ((key >>> 33) + 1))` — divide first, then multiply, both in IEEE doubles, then
 * truncate. Other orders (e.g. Guava's `(b + 1) / (x / 2^31)`) round differently on rare keys.
 */
function jumpHiLo(kh: number, kl: number, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    // key = key * 2862933555777941757 + 1 mod 2^64
    kh = mulHi(kh, kl, LCG_H, LCG_L);
    const t = (Math.imul(kl, LCG_L) >>> 0) + 1;
    kh = (kh + (t > 0xffffffff ? 1 : 0)) | 0;
    kl = t | 0;
    j = Math.floor((b + 1) * (2147483648 / ((kh >>> 1) + 1)));
  }
  return b;
}

/**
 * Jump consistent hash of a 64-bit key into [0, buckets). The key is taken mod 2^64, so a signed 64-bit value
 * (a Java `long` hash) gives the same bucket as its unsigned twin.
 */
export function jumpConsistentHash(key: bigint, buckets: number): number {
  checkBuckets(buckets);
  const k = BigInt.asUintN(64, key);
  return jumpHiLo(Number(BigInt.asIntN(32, k >> 32n)), Number(BigInt.asIntN(32, k)), buckets);
}

/** The partition of a series: jumpConsistentHash(hash64(seriesKey), partitions), without any BigInt. */
export function partitionOf(seriesKey: string, partitions: number): number {
  checkBuckets(partitions);
  const h = hashKey(seriesKey);
  return jumpHiLo(h, LO, partitions);
}

export interface PartitionCache {
  readonly partitions: number;
  /** Same answer as partitionOf(seriesKey, partitions), memoized. */
  partitionOf(seriesKey: string): number;
  readonly size: number;
  readonly hits: number;
  readonly misses: number;
  clear(): void;
}

/**
 * Memoizes seriesKey → partition in a Map of at most maxEntries keys. Eviction is FIFO (Map insertion order)
 * rather than LRU so that a hit stays one Map lookup; hot series are re-inserted soon after they are evicted.
 */
export function createPartitionCache(partitions: number, maxEntries: number): PartitionCache {
  checkBuckets(partitions);
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new TsdbError(
      'TSDB_ERR_CONFIG_INVALID',
      `cannot create partition cache (maxEntries=${String(maxEntries)}): maxEntries must be a positive integer`,
    );
  }
  const map = new Map<string, number>();
  let hits = 0;
  let misses = 0;
  return {
    partitions,
    partitionOf(seriesKey: string): number {
      const cached = map.get(seriesKey);
      if (cached !== undefined) {
        hits++;
        return cached;
      }
      misses++;
      const h = hashKey(seriesKey);
      const p = jumpHiLo(h, LO, partitions);
      if (map.size >= maxEntries) map.delete(map.keys().next().value as string);
      map.set(seriesKey, p);
      return p;
    },
    get size() {
      return map.size;
    },
    get hits() {
      return hits;
    },
    get misses() {
      return misses;
    },
    clear() {
      map.clear();
    },
  };
}

/** The routing hash as an 8-byte big-endian Kafka message key (V3 sets it on every record it produces). */
export function routingKey(seriesKey: string): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(hash64(seriesKey));
  return b;
}

/**
 * A kafkajs partitioner (`producer({ createPartitioner: createV3Partitioner })`) for external producers: a message
 * whose key is the 8-byte routing hash (routingKey) or the canonical series key (UTF-8) goes to the partition V3
 * expects. Messages without a key are refused: guessing would put points where no materializer looks for them.
 */
export function createV3Partitioner(): (args: { topic: string; partitionMetadata: Array<{ partitionId: number }>; message: { key?: Buffer | string | null } }) => number {
  return ({ topic, partitionMetadata, message }) => {
    const key = message.key;
    if (key === undefined || key === null) {
      throw new TsdbError('TSDB_ERR_WRITE_INVALID', `cannot choose a partition (topic ${topic}): the message has no key; set routingKey(seriesKey) or the canonical series key`);
    }
    const n = partitionMetadata.length;
    if (Buffer.isBuffer(key) && key.length === 8) return jumpConsistentHash(key.readBigUInt64BE(0), n);
    return partitionOf(Buffer.isBuffer(key) ? key.toString('utf8') : key, n);
  };
}
