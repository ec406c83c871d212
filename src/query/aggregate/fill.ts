import type { FillPolicy } from './types.js';

/**
 * Fill policies over a sparse, ascending list of (window index, value) — the windows that have a value. A window
 * "without value" is one with no point, or one whose fn has no value (stddev with fewer than 2 points); fill treats
 * both alike (docs/query-semantics.md).
 *  - none:     only windows with a value.
 *  - null:     every window; null where there is no value.
 *  - zero:     every window; 0 where there is no value (for every fn, count and rate included).
 *  - previous: from the first window with a value to the last window of the range; a gap repeats the value of the
 *              closest earlier window with a value. Nothing before the first value.
 *  - linear:   from the first to the last window with a value; a gap between windows k0 and k1 (values v0, v1) gets
 *              v0 + (v1 - v0) * ((k - k0) / (k1 - k0)). Nothing before the first or after the last value.
 */

/** How many points applyFill will produce (checked against the output limit before anything is built). */
export function filledCount(ks: number[], nW: number, fill: FillPolicy): number {
  const n = ks.length;
  switch (fill) {
    case 'none':
      return n;
    case 'null':
    case 'zero':
      return nW;
    case 'previous':
      return n === 0 ? 0 : nW - ks[0]!;
    case 'linear':
      return n === 0 ? 0 : ks[n - 1]! - ks[0]! + 1;
  }
}

/** Window k is stamped w0 + k * len. */
export function applyFill(ks: number[], vals: number[], w0: number, len: number, nW: number, fill: FillPolicy): Array<[number, number | null]> {
  const n = ks.length;
  const out: Array<[number, number | null]> = new Array(filledCount(ks, nW, fill));
  let o = 0;
  switch (fill) {
    case 'none':
      for (let i = 0; i < n; i++) out[o++] = [w0 + ks[i]! * len, vals[i]!];
      break;
    case 'null':
    case 'zero': {
      const empty = fill === 'null' ? null : 0;
      let i = 0;
      for (let k = 0; k < nW; k++) {
        if (i < n && ks[i] === k) out[o++] = [w0 + k * len, vals[i++]!];
        else out[o++] = [w0 + k * len, empty];
      }
      break;
    }
    case 'previous': {
      if (n === 0) break;
      let i = 0;
      let last = 0;
      for (let k = ks[0]!; k < nW; k++) {
        if (i < n && ks[i] === k) last = vals[i++]!;
        out[o++] = [w0 + k * len, last];
      }
      break;
    }
    case 'linear': {
      if (n === 0) break;
      out[o++] = [w0 + ks[0]! * len, vals[0]!];
      for (let i = 1; i < n; i++) {
        const k0 = ks[i - 1]!;
        const k1 = ks[i]!;
        const v0 = vals[i - 1]!;
        const v1 = vals[i]!;
        for (let k = k0 + 1; k < k1; k++) out[o++] = [w0 + k * len, v0 + (v1 - v0) * ((k - k0) / (k1 - k0))];
        out[o++] = [w0 + k1 * len, v1];
      }
      break;
    }
  }
  return out;
}
