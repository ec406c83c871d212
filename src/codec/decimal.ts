/**
 * Decimal scaling as VictoriaMetrics does it: a block's values become integers m[i] with one shared decimal
 * exponent e, v[i] = m[i] · 10^−e, when that reproduces every value's float64 bits exactly. Gauges printed
 * with a few decimals and integer counters then compress as small integer deltas instead of XORed mantissas.
 *
 * Reconstruction is one correctly rounded IEEE operation on exact operands (10^k is exact for k ≤ 22):
 * m / 10^e for e > 0, m · 10^−e for e ≤ 0. Its result is the float64 nearest the real number m·10^−e, so a
 * value exact at exponent e stays exact at any larger exponent (same real number), which lets the block
 * exponent be the largest per-value exponent. Every value is still verified before use.
 */

export const MAX_DECIMAL_EXP = 22;
/** |m| bound: keeps m, deltas (2^52) and delta-of-deltas (2^53) exactly representable. */
export const MAX_MANTISSA = 2 ** 51;

const POW10: number[] = [];
for (let i = 0; i <= MAX_DECIMAL_EXP; i++) POW10.push(10 ** i);

/** v · 10^e rounded to an integer, or NaN when that integer does not reproduce v bit-exactly within bounds. */
export function toScaled(v: number, e: number): number {
  const m = e >= 0 ? Math.round(v * POW10[e]) : Math.round(v / POW10[-e]);
  if (!(m <= MAX_MANTISSA && m >= -MAX_MANTISSA)) return NaN;
  const back = e > 0 ? m / POW10[e] : m * POW10[-e];
  // back === v alone would accept +0 for −0.
  if (back !== v || (v === 0 && 1 / v < 0)) return NaN;
  return m;
}

export function fromScaled(m: number, e: number): number {
  return e > 0 ? m / POW10[e] : m * POW10[-e];
}

/** The smallest exponent in [−22, 22] at which v is exactly representable, or NaN. */
export function minExponent(v: number): number {
  if (!(Math.abs(v) <= MAX_MANTISSA)) {
    // Too large for e ≥ 0 (or not finite): only trailing decimal zeros can make it fit.
    if (!Number.isFinite(v)) return NaN;
    for (let e = -MAX_DECIMAL_EXP; e < 0; e++) if (!Number.isNaN(toScaled(v, e))) return e;
    return NaN;
  }
  let e = 0;
  while (e <= MAX_DECIMAL_EXP && Number.isNaN(toScaled(v, e))) e++;
  if (e > MAX_DECIMAL_EXP) return NaN;
  if (e === 0 && v !== 0) {
    while (e > -MAX_DECIMAL_EXP && !Number.isNaN(toScaled(v, e - 1))) e--;
  }
  return e;
}

/**
 * The common exponent for vs, or NaN when some value has no exact decimal form. On success `out[i]` holds
 * the scaled integers. Costs one multiply, round and divide per value when the exponent is stable.
 */
export function scaleBlock(vs: ArrayLike<number>, out: Float64Array): number {
  const n = vs.length;
  if (n === 0) return 0;
  let e = minExponent(vs[0]);
  if (Number.isNaN(e)) return NaN;
  // Values before a change of exponent are rescaled once at the end; usually the exponent never changes.
  let validFrom = 0;
  for (let i = 0; i < n; i++) {
    const v = vs[i];
    const m = toScaled(v, e);
    if (!Number.isNaN(m)) {
      out[i] = m;
      continue;
    }
    const ei = minExponent(v);
    if (!(ei > e)) return NaN; // not decimal, or exact only at a smaller exponent (mantissa out of bounds)
    e = ei;
    out[i] = toScaled(v, e);
    validFrom = i;
  }
  for (let i = 0; i < validFrom; i++) {
    const m = toScaled(vs[i], e);
    if (Number.isNaN(m)) return NaN;
    out[i] = m;
  }
  return e;
}
