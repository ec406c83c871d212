/**
 * MSB-first bit streams for the point codecs. Bits fill each byte from its most significant bit, so a
 * stream's hex dump reads left to right in write order (see docs/format/block.md).
 *
 * Positions are tracked in bits with 32-bit unsigned arithmetic, which caps one stream at 512 MiB;
 * blocks are orders of magnitude smaller.
 */

import { TsdbError } from '../common/errors.js';

const INITIAL_BYTES = 256;
/** One writeBits call touches at most 5 bytes (32 bits straddling byte boundaries); keep a margin. */
const WRITE_MARGIN = 8;

export class BitWriter {
  private buf: Uint8Array;
  private pos = 0; // bits written

  constructor(initialBytes = INITIAL_BYTES) {
    this.buf = new Uint8Array(Math.max(initialBytes, WRITE_MARGIN * 2));
  }

  get bitLength(): number {
    return this.pos;
  }

  get byteLength(): number {
    return (this.pos + 7) >>> 3;
  }

  /** Writes the low `nbits` bits of `value` (0 ≤ nbits ≤ 32), most significant first. */
  writeBits(value: number, nbits: number): void {
    if (nbits === 0) return;
    let idx = this.pos >>> 3;
    if (idx + WRITE_MARGIN > this.buf.length) this.grow();
    const buf = this.buf;
    let n = nbits;
    // Masking keeps stray high bits (e.g. a negative int's sign extension) out of neighbouring fields.
    let v = n === 32 ? value >>> 0 : (value & ((1 << n) - 1)) >>> 0;
    let free = 8 - (this.pos & 7);
    this.pos += n;
    while (n > free) {
      n -= free;
      buf[idx++] |= v >>> n;
      v &= (1 << n) - 1;
      free = 8;
    }
    // Unused bits of a byte are always zero (fresh buffers are zeroed, reset() clears), so OR suffices.
    buf[idx] |= v << (free - n);
  }

  writeBit(bit: number): void {
    const idx = this.pos >>> 3;
    if (idx + WRITE_MARGIN > this.buf.length) this.grow();
    if (bit !== 0) this.buf[idx] |= 0x80 >>> (this.pos & 7);
    this.pos += 1;
  }

  /**
   * Writes the low `nbits` (0 ≤ nbits ≤ 64) of the 64-bit quantity hi:lo. JS numbers cannot hold 64 bits,
   * so callers split them into two unsigned 32-bit halves.
   */
  writeBits64(hi: number, lo: number, nbits = 64): void {
    if (nbits > 32) {
      this.writeBits(hi, nbits - 32);
      this.writeBits(lo, 32);
    } else {
      this.writeBits(lo, nbits);
    }
  }

  /** The bytes written so far, as a view (no copy). A trailing partial byte is zero-padded. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.byteLength);
  }

  reset(): void {
    this.buf.fill(0, 0, Math.min(this.buf.length, this.byteLength + 1));
    this.pos = 0;
  }

  private grow(): void {
    const next = new Uint8Array(this.buf.length * 2);
    next.set(this.buf);
    this.buf = next;
  }
}

export class BitReader {
  private readonly buf: Uint8Array;
  private pos = 0;
  private readonly limit: number;

  /** Reads from `buf`; `bitLimit` (default: every bit of buf) bounds reads so truncation is detected. */
  constructor(buf: Uint8Array, bitLimit = buf.length * 8) {
    this.buf = buf;
    this.limit = Math.min(bitLimit, buf.length * 8);
  }

  get bitPosition(): number {
    return this.pos;
  }

  get bitsLeft(): number {
    return this.limit - this.pos;
  }

  readBit(): number {
    const p = this.pos;
    if (p >= this.limit) this.overrun(1);
    this.pos = p + 1;
    return (this.buf[p >>> 3] >>> (7 - (p & 7))) & 1;
  }

  /** Reads `nbits` (0 ≤ nbits ≤ 32) as an unsigned integer. */
  readBits(nbits: number): number {
    if (nbits === 0) return 0;
    const p = this.pos;
    if (p + nbits > this.limit) this.overrun(nbits);
    const buf = this.buf;
    let n = nbits;
    let out = 0;
    this.pos = p + n;
    let avail = 8 - (p & 7);
    let idx = p >>> 3;
    while (n > avail) {
      // Bitwise ops wrap at 32 bits, which is exactly the width we return; >>> 0 below restores unsignedness.
      out = (out << avail) | (buf[idx++] & ((1 << avail) - 1));
      n -= avail;
      avail = 8;
    }
    out = (out << n) | ((buf[idx] >>> (avail - n)) & ((1 << n) - 1));
    return out >>> 0;
  }

  private overrun(wanted: number): never {
    throw new TsdbError(
      'TSDB_ERR_STORE_IO',
      `cannot read bit stream (${this.buf.length} bytes, bit ${this.pos} of ${this.limit}): ` +
        `needs ${wanted} more bits, stream is truncated or corrupt`,
      { retriable: false },
    );
  }
}
