/**
 * MSB-first bit streams for the point codecs. Bits fill each byte from its most significant bit, so a
 * stream's hex dump reads left to right in write order (see docs/format/block.md).
 *
 * Positions are tracked in bits with 32-bit unsigned arithmetic, which caps one stream at 512 MiB;
 * blocks are orders of magnitude smaller.
 */

import { TsdbError } from '../common/errors.js';

const INITIAL_BYTES = 256;
/** Smallest buffer: room for a few words. */
const WRITE_MARGIN = 8;

export class BitWriter {
  private buf: Uint8Array;
  /** Whole 32-bit words written to buf so far, in bytes. */
  private bytePos = 0;
  /** Pending bits, right-aligned, not yet in buf; acc holds accBits (0..31) of them. */
  private acc = 0;
  private accBits = 0;

  constructor(initialBytes = INITIAL_BYTES) {
    this.buf = new Uint8Array(Math.max(initialBytes, WRITE_MARGIN * 2));
  }

  get bitLength(): number {
    return this.bytePos * 8 + this.accBits;
  }

  get byteLength(): number {
    return this.bytePos + ((this.accBits + 7) >>> 3);
  }

  /** Writes the low `nbits` bits of `value` (0 ≤ nbits ≤ 32), most significant first. */
  writeBits(value: number, nbits: number): void {
    if (nbits === 0) return;
    // Masking keeps stray high bits (e.g. a negative int's sign extension) out of neighbouring fields.
    const v = nbits === 32 ? value >>> 0 : (value & ((1 << nbits) - 1)) >>> 0;
    const free = 32 - this.accBits;
    if (nbits < free) {
      this.acc = ((this.acc << nbits) | v) >>> 0;
      this.accBits += nbits;
      return;
    }
    // Fill the word, write it out, keep the rest. (nbits - free < 32, and shifts by 32 are avoided.)
    const rest = nbits - free;
    const word = free === 32 ? v : ((this.acc << free) | (v >>> rest)) >>> 0;
    this.putWord(word);
    this.acc = rest === 0 ? 0 : (v & ((1 << rest) - 1)) >>> 0;
    this.accBits = rest;
  }

  writeBit(bit: number): void {
    this.acc = ((this.acc << 1) | (bit !== 0 ? 1 : 0)) >>> 0;
    if (++this.accBits === 32) {
      this.putWord(this.acc);
      this.acc = 0;
      this.accBits = 0;
    }
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

  /**
   * The bytes written so far, as a view (no copy). A trailing partial byte is zero-padded. The pending bits are
   * copied into the buffer for the view; later writes overwrite those bytes.
   */
  bytes(): Uint8Array {
    const n = (this.accBits + 7) >>> 3;
    if (n > 0) {
      if (this.bytePos + 4 > this.buf.length) this.grow();
      const left = (this.acc << (32 - this.accBits)) >>> 0; // pending bits left-aligned, zeros after
      for (let i = 0; i < n; i++) this.buf[this.bytePos + i] = (left >>> (24 - 8 * i)) & 0xff;
    }
    return this.buf.subarray(0, this.bytePos + n);
  }

  reset(): void {
    this.bytePos = 0;
    this.acc = 0;
    this.accBits = 0;
  }

  private putWord(word: number): void {
    const p = this.bytePos;
    if (p + 4 > this.buf.length) this.grow();
    const buf = this.buf;
    buf[p] = word >>> 24;
    buf[p + 1] = (word >>> 16) & 0xff;
    buf[p + 2] = (word >>> 8) & 0xff;
    buf[p + 3] = word & 0xff;
    this.bytePos = p + 4;
  }

  private grow(): void {
    const next = new Uint8Array(this.buf.length * 2);
    next.set(this.buf.subarray(0, this.bytePos));
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
