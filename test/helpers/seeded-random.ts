/** mulberry32: small, fast, seedable. Tests print their seed; TEST_SEED reproduces a run. */
export function seededRandom(name: string): { seed: number; next: () => number; int: (lo: number, hi: number) => number } {
  const seed = process.env.TEST_SEED !== undefined ? Number(process.env.TEST_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
  console.log(`# ${name}: seed ${seed} (reproduce with TEST_SEED=${seed})`);
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}
