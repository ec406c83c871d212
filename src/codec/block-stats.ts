/**
 * Block header statistics kept up to date as points arrive (BlockStats), and the hot block a run's existing Gorilla
 * stream makes with them (encodeBlockFromGorilla): a head flush writes cold-window runs without decoding or
 * re-encoding them (src/materializer/head-flush.ts). Byte for byte what block.ts encodeBlock writes.
 */
import { ENCODING_CONST_REGULAR, ENCODING_GORILLA, FLAG_STRICTLY_INCREASING, NO_BYTES, hotBlock, type Body } from './block.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

/**
 * Header statistics of a run of points kept up to date as points arrive, computed exactly as encodeBlock computes
 * them (Math.min/Math.max, left-to-right sum, first/last at minT/maxT with ties to the later point, fixed step and
 * bit-identical values for the constant case), so encodeBlockFromGorilla needs no pass over the points.
 */
export class BlockStats {
  count = 0;
  minT = 0;
  maxT = 0;
  min = 0;
  max = 0;
  sum = 0;
  first = 0;
  last = 0;
  increasing = true;
  regular = false;
  constant = false;
  private step = 0;
  private prevT = 0;
  private vHi = 0;
  private vLo = 0;

  add(t: number, v: number): void {
    if (this.count++ === 0) {
      this.minT = this.maxT = this.prevT = t;
      this.min = this.max = this.sum = this.first = this.last = v;
      this.regular = this.constant = true;
      F64[0] = v;
      this.vHi = U32[0];
      this.vLo = U32[1];
      return;
    }
    const d = t - this.prevT;
    this.prevT = t;
    if (d <= 0) this.increasing = false;
    if (this.regular) {
      if (this.count === 2) this.step = d;
      this.regular = d === this.step && d >= 0 && d <= MAX_SAFE;
    }
    if (this.constant) {
      F64[0] = v;
      this.constant = U32[0] === this.vHi && U32[1] === this.vLo;
    }
    if (t <= this.minT) {
      this.minT = t;
      this.first = v;
    }
    if (t >= this.maxT) {
      this.maxT = t;
      this.last = v;
    }
    this.min = Math.min(this.min, v);
    this.max = Math.max(this.max, v);
    this.sum += v;
  }
}

/**
 * The block encodeBlock(ts, vs, { gorilla: true }) writes, byte for byte, from the points' gorilla stream (a
 * GorillaEncoder fed the same points in the same order) and their BlockStats: no decode, no re-encode. For head
 * runs that a flush writes as fragments.
 */
export function encodeBlockFromGorilla(stream: Uint8Array, stats: BlockStats): Buffer {
  const n = stats.count;
  // encodeBlock's span check: the decoder recovers the step from the span, which must itself be exact.
  const regular = stats.regular && !(n > 1 && !(stats.maxT - stats.minT <= MAX_SAFE));
  const body: Body =
    regular && stats.constant
      ? { encoding: ENCODING_CONST_REGULAR, a: NO_BYTES, b: null, length: 0 }
      : { encoding: ENCODING_GORILLA, a: n === 0 ? NO_BYTES : stream, b: null, length: n === 0 ? 0 : stream.length };
  const { minT, maxT, min, max, sum, first, last } = stats;
  return hotBlock(body, { flags: stats.increasing ? FLAG_STRICTLY_INCREASING : 0, count: n, minT, maxT, min, max, sum, first, last });
}
