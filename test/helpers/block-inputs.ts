/** Shared inputs of the block golden fixtures (codec-block-rollup, codec-rollup-sketch): a 2 h window and its data. */

/** A 2 h window start near 1.7e12 ms. */
export const W2H = Math.floor(1_700_000_000_000 / 7_200_000) * 7_200_000;

/** n timestamps from W2H, `step` apart. */
export const every = (n: number, step: number): number[] => Array.from({ length: n }, (_, i) => W2H + i * step);

/** A deterministic TSBS-like random walk of n integer values in [0, 100] starting at 57. */
export function walk(n: number): number[] {
  const out: number[] = [];
  let v = 57;
  for (let i = 0; i < n; i++) out.push((v = Math.max(0, Math.min(100, v + ((i * 7919) % 5) - 2))));
  return out;
}

/** Rollup resolutions used by the fixtures. */
export const M5 = 300_000;
export const H1 = 3_600_000;

/** The float64 with these bits (16 hex digits). */
export function fromBits(hex: string): number {
  return new Float64Array(BigUint64Array.of(BigInt(`0x${hex}`)).buffer)[0]!;
}

/** A float64's bits as 16 hex digits (tells -0 from 0 and NaN payloads apart). */
export function bits(v: number): string {
  return new BigUint64Array(Float64Array.of(v).buffer)[0]!.toString(16).padStart(16, '0');
}
