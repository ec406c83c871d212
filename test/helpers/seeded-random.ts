/** mulberry32: small, fast, seedable; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded stream for a test. Tests print their seed; TEST_SEED reproduces a run. */
export function seededRandom(name: string): { seed: number; next: () => number; int: (lo: number, hi: number) => number } {
  const seed = process.env.TEST_SEED !== undefined ? Number(process.env.TEST_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
  console.log(`# ${name}: seed ${seed} (reproduce with TEST_SEED=${seed})`);
  const next = mulberry32(seed >>> 0);
  return { seed, next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}
