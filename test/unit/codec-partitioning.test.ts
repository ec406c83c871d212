import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import xxhash from 'xxhash-wasm';
import {
  createPartitionCache,
  hash64,
  hash64Hex,
  jumpConsistentHash,
  partitionOf,
  xxh64,
} from '../../src/codec/partitioning.js';
import { isTsdbError } from '../../src/common/errors.js';
import { canonicalSeriesKey } from '../../src/common/series-key.js';
import { seededRandom } from '../helpers/seeded-random.js';

interface Vector {
  metric: string;
  tags: Record<string, string>;
  key: string;
  utf8Bytes: number;
  hash64: string;
  partitions: Record<string, number>;
}
const golden = JSON.parse(readFileSync(new URL('../../../test/fixtures/partitioning.json', import.meta.url), 'utf8')) as {
  partitionCounts: number[];
  vectors: Vector[];
};

const wasm = await xxhash();
const enc = new TextEncoder();

/** The paper's algorithm, transcribed with BigInt for the LCG and doubles for j, as an independent reference. */
function jumpReference(key: bigint, buckets: number): number {
  let k = BigInt.asUintN(64, key);
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    k = BigInt.asUintN(64, k * 2862933555777941757n + 1n);
    j = Math.floor((b + 1) * (2 ** 31 / (Number(k >> 33n) + 1)));
  }
  return b;
}

/** Random strings that reach every XXH64 code path: lengths around 0, 4, 8, 32 and multiples, and every UTF-8 width. */
function randomString(rnd: ReturnType<typeof seededRandom>): string {
  const len = rnd.next() < 0.7 ? rnd.int(0, 80) : rnd.int(81, 600);
  const alphabet = rnd.int(0, 3);
  let s = '';
  for (let i = 0; i < len; i++) {
    if (alphabet === 0) s += String.fromCharCode(rnd.int(0x20, 0x7e));
    else if (alphabet === 1) s += String.fromCharCode(rnd.int(0, 0x7ff));
    else if (alphabet === 2) s += String.fromCodePoint(rnd.int(0x800, 0xd7ff));
    else s += rnd.next() < 0.5 ? String.fromCodePoint(rnd.int(0x10000, 0x10ffff)) : String.fromCharCode(rnd.int(0x20, 0x7e));
  }
  return s;
}

function isConfigError(e: unknown): boolean {
  return isTsdbError(e) && e.code === 'TSDB_ERR_CONFIG_INVALID';
}

describe('XXH64', () => {
  it('matches the published vectors (seed 0)', () => {
    const vectors: [string, string][] = [
      ['', 'ef46db3751d8e999'],
      ['a', 'd24ec4f1a98c6e5b'],
      ['abc', '44bc2cf5ad770999'],
      ['xxhash', '32dd38952c4bc720'],
      ['Nobody inspects the spammish repetition', 'fbcea83c8a378bf1'],
      ['The quick brown fox jumps over the lazy dog', '0b242d361fda71bc'],
    ];
    for (const [s, hex] of vectors) {
      assert.equal(hash64Hex(s), hex, JSON.stringify(s));
      assert.equal(hash64(s), BigInt('0x' + hex));
      assert.equal(xxh64(enc.encode(s)), BigInt('0x' + hex));
    }
  });

  it('agrees with xxhash-wasm on thousands of random strings', () => {
    const rnd = seededRandom('xxh64 vs xxhash-wasm');
    for (let i = 0; i < 5000; i++) {
      const s = randomString(rnd);
      assert.equal(hash64(s), wasm.h64(s), `string #${i} ${JSON.stringify(s.slice(0, 40))} (length ${s.length})`);
    }
  });

  it('agrees with xxhash-wasm on every length 0..300 and on random 64-bit seeds', () => {
    const rnd = seededRandom('xxh64 seeds');
    for (let len = 0; len <= 300; len++) {
      const bytes = new Uint8Array(len);
      for (let i = 0; i < len; i++) bytes[i] = rnd.int(0, 255);
      assert.equal(xxh64(bytes), wasm.h64Raw(bytes, 0n), `length ${len}`);
      const seed = (BigInt(rnd.int(0, 0xffffffff)) << 32n) | BigInt(rnd.int(0, 0xffffffff));
      assert.equal(xxh64(bytes, seed), wasm.h64Raw(bytes, seed), `length ${len}, seed ${seed}`);
    }
  });

  it('hashes lone surrogates as U+FFFD, like TextEncoder', () => {
    assert.equal(hash64('a\ud800b'), hash64('a\ufffdb'));
    assert.equal(hash64('a\ud800b'), wasm.h64('a\ud800b'));
  });
});

describe('jump consistent hash', () => {
  it('matches the vectors generated from the reference C++ code (dgryski/go-jump)', () => {
    const tests: [bigint, number[]][] = [
      [0n, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
      [1n, [0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17]],
      [0xdeadbeefn, [0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16]],
      [0x0ddc0ffeebadf00dn, [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15]],
    ];
    for (const [key, buckets] of tests) {
      buckets.forEach((want, i) => assert.equal(jumpConsistentHash(key, i + 1), want, `key ${key}, buckets ${i + 1}`));
    }
  });

  it('matches a BigInt transcription of the paper on random keys and bucket counts', () => {
    const rnd = seededRandom('jump vs reference');
    for (let i = 0; i < 3000; i++) {
      const key = (BigInt(rnd.int(0, 0xffffffff)) << 32n) | BigInt(rnd.int(0, 0xffffffff));
      const buckets = [1, 2, 3, 7, 64, 1000, 65536, 2 ** 31 - 1][i % 8]! + (i % 8 < 7 ? rnd.int(0, 3) : 0);
      assert.equal(jumpConsistentHash(key, buckets), jumpReference(key, buckets), `key ${key}, buckets ${buckets}`);
    }
  });

  it('takes keys mod 2^64, so a signed 64-bit hash lands where its unsigned twin does', () => {
    for (const p of [1, 5, 64, 1000]) {
      assert.equal(jumpConsistentHash(-1n, p), jumpConsistentHash(2n ** 64n - 1n, p));
      assert.equal(jumpConsistentHash(-(2n ** 63n), p), jumpConsistentHash(2n ** 63n, p));
    }
  });

  it('growing P from n to n + 1 moves only keys that land on the new bucket n', () => {
    const rnd = seededRandom('jump monotonicity');
    const keys = Array.from({ length: 20_000 }, (_, i) => `series_${i}{host="h${rnd.int(0, 1e9)}"}`);
    let prev = keys.map((k) => partitionOf(k, 1));
    for (let n = 1; n <= 130; n++) {
      const next = keys.map((k) => partitionOf(k, n + 1));
      let moved = 0;
      for (let i = 0; i < keys.length; i++) {
        if (next[i] !== prev[i]) {
          assert.equal(next[i], n, `${keys[i]} moved from ${prev[i]} to ${next[i]} when P went ${n} -> ${n + 1}`);
          moved++;
        }
      }
      // The expected share that moves is 1/(n+1); allow generous statistical slack.
      const expected = keys.length / (n + 1);
      assert.ok(Math.abs(moved - expected) < 6 * Math.sqrt(expected) + 5, `P ${n} -> ${n + 1}: ${moved} moved, ~${expected.toFixed(0)} expected`);
      prev = next;
    }
  });

  it('spreads series evenly', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 64_000; i++) counts[partitionOf(`cpu{host="host-${i}",dc="dc${i % 3}"}`, 16)]!++;
    for (const c of counts) assert.ok(Math.abs(c - 4000) < 300, `bucket sizes ${counts.join(' ')}`);
  });

  it('rejects partition counts outside [1, 2^31 - 1]', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 31, Infinity]) {
      assert.throws(() => partitionOf('up', bad), isConfigError, String(bad));
      assert.throws(() => jumpConsistentHash(1n, bad), isConfigError, String(bad));
      assert.throws(() => createPartitionCache(bad, 10), isConfigError, String(bad));
    }
    assert.throws(() => createPartitionCache(8, 0), isConfigError);
    assert.equal(partitionOf('up', 2 ** 31 - 1), jumpReference(hash64('up'), 2 ** 31 - 1));
  });
});

describe('series -> partition golden vectors (test/fixtures/partitioning.json)', () => {
  it('has ~40 vectors covering every P', () => {
    assert.ok(golden.vectors.length >= 40);
    assert.deepEqual(golden.partitionCounts, [1, 2, 3, 8, 16, 64, 128, 1000]);
  });

  for (const v of golden.vectors) {
    it(v.key.length > 60 ? v.key.slice(0, 57) + '...' : v.key, () => {
      assert.equal(canonicalSeriesKey(v.metric, v.tags), v.key);
      assert.equal(Buffer.byteLength(v.key, 'utf8'), v.utf8Bytes);
      assert.equal(hash64Hex(v.key), v.hash64);
      assert.equal(wasm.h64ToString(v.key), v.hash64);
      for (const p of golden.partitionCounts) {
        const want = v.partitions[String(p)];
        assert.equal(partitionOf(v.key, p), want, `P=${p}`);
        assert.equal(jumpConsistentHash(BigInt('0x' + v.hash64), p), want, `P=${p}`);
        assert.equal(jumpReference(BigInt('0x' + v.hash64), p), want, `P=${p} (reference)`);
      }
    });
  }
});

describe('partition cache', () => {
  it('gives partitionOf answers, counts hits and stays bounded (FIFO eviction)', () => {
    const cache = createPartitionCache(64, 100);
    const keys = Array.from({ length: 250 }, (_, i) => `m{i="${i}"}`);
    for (const k of keys) assert.equal(cache.partitionOf(k), partitionOf(k, 64));
    assert.equal(cache.size, 100);
    assert.equal(cache.misses, 250);
    for (const k of keys.slice(150)) assert.equal(cache.partitionOf(k), partitionOf(k, 64));
    assert.equal(cache.hits, 100);
    assert.equal(cache.partitionOf(keys[0]!), partitionOf(keys[0]!, 64)); // evicted earlier: a miss again
    assert.equal(cache.misses, 251);
    assert.equal(cache.size, 100);
    cache.clear();
    assert.equal(cache.size, 0);
    assert.equal(cache.partitions, 64);
  });
});

describe('speed (informational)', () => {
  it('reports partitionOf and hash64 throughput without a cache', () => {
    const keys = Array.from({ length: 50_000 }, (_, i) => `cpu_usage{dc="eu-west-${i % 7}",host="host-${i}.example.com",region="r${i % 13}"}`);
    for (const k of keys) partitionOf(k, 64); // warm up
    let t = process.hrtime.bigint();
    let x = 0;
    for (let r = 0; r < 4; r++) for (const k of keys) x ^= partitionOf(k, 64);
    const perSec = (4 * keys.length) / (Number(process.hrtime.bigint() - t) / 1e9);
    t = process.hrtime.bigint();
    for (const k of keys) x ^= Number(hash64(k) & 1n);
    const hashPerSec = keys.length / (Number(process.hrtime.bigint() - t) / 1e9);
    console.log(`# partitionOf (P=64, ${keys[0]!.length}-byte keys, no cache): ${(perSec / 1e6).toFixed(2)} M keys/s; hash64: ${(hashPerSec / 1e6).toFixed(2)} M keys/s (${x & 1})`);
    assert.ok(perSec > 0);
  });
});
