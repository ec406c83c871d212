/**
 * The compact version-2 block header, written on sealed blocks only (docs/format/block.md §8). A sealed
 * 720-point block body is ~200 bytes, so the fixed 76-byte header was a quarter of it; sealed blocks are
 * written once and read many times, so a variable-length header that needs a short parse pays there.
 *
 * Integers are LEB128 varints computed with float arithmetic (no 32-bit bitwise ops, values reach 2^53);
 * signed ones are sign-magnitude: LEB128 of 2·|x| + (x < 0). min/max/sum/first/last are stored either as
 * a signed mantissa m with one shared decimal exponent e (value = m / 10^e, checked bit-exact at encode
 * time) or, per field, as raw float64 (NaN payloads, −0, ±Inf, non-decimal or huge values).
 * The CRC (written by block.ts) follows the parsed fields and ends the header.
 */

import type { BlockHeader } from './block.js';

export const BLOCK_VERSION_COMPACT = 2;
/** Layout byte: bit i (0..4) set = field i of STAT_FIELDS is a raw float64 instead of a mantissa. */
const STAT_FIELDS = ['min', 'max', 'sum', 'first', 'last'] as const;
/** Layout byte bit 5: maxT is stored absolute (signed) because maxT − minT exceeds 2^53 − 1. */
const LAYOUT_MAXT_ABSOLUTE = 0x20;
const LAYOUT_RESERVED = 0xc0;
/** Powers of ten that are exact float64 values (10^22 is the largest). */
const MAX_EXPONENT = 22;
const POW10 = Array.from({ length: MAX_EXPONENT + 1 }, (_, i) => Number(`1e${i}`));
/** A varint of up to 8 bytes holds 56 bits, enough for 2^53 and the sign bit. */
const MAX_VARINT_BYTES = 8;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export function encodeCompactHeader(h: BlockHeader): Uint8Array {
  const out: number[] = [0x56, 0x42, BLOCK_VERSION_COMPACT, h.encoding, h.flags, 0, 0];
  const { e, mantissas } = chooseExponent(STAT_FIELDS.map((f) => h[f]));
  const span = h.maxT - h.minT;
  // A difference that lands above 2^53 − 1 may have been rounded.
  const absolute = !(span <= MAX_SAFE);
  let layout = absolute ? LAYOUT_MAXT_ABSOLUTE : 0;
  pushUVarint(out, h.count);
  pushSVarint(out, h.minT);
  if (absolute) pushSVarint(out, h.maxT);
  else pushUVarint(out, span);
  for (let i = 0; i < STAT_FIELDS.length; i++) {
    const m = mantissas[i];
    if (m === null) {
      layout |= 1 << i;
      pushFloat64(out, h[STAT_FIELDS[i]]);
    } else {
      pushSVarint(out, m);
    }
  }
  out[5] = layout;
  out[6] = e;
  return Uint8Array.from(out);
}

/**
 * The fields, and where the CRC field starts (the body follows it); the caller checks magic, CRC and encoding.
 * Throws a plain Error with the reason; block.ts wraps it into the catalogue error.
 */
export function decodeCompactHeader(b: Uint8Array): { header: BlockHeader; crcOffset: number } {
  if (b.length < 7) throw new Error('shorter than the 7 fixed bytes of a compact header');
  const layout = b[5];
  const e = b[6];
  if ((layout & LAYOUT_RESERVED) !== 0) throw new Error(`compact header layout byte 0x${layout.toString(16)} has reserved bits set`);
  if (e > MAX_EXPONENT) throw new Error(`compact header exponent ${e} is above ${MAX_EXPONENT}`);
  pos = 7;
  const count = readUVarint(b, 'count');
  if (count > 0xffffffff) throw new Error(`count ${count} does not fit 32 bits`);
  const minT = readSVarint(b, 'minT');
  const maxT = (layout & LAYOUT_MAXT_ABSOLUTE) !== 0 ? readSVarint(b, 'maxT') : minT + readUVarint(b, 'maxT - minT');
  if (!Number.isSafeInteger(maxT)) throw new Error(`maxT ${maxT} is not a safe integer`);
  const p10 = POW10[e];
  const min = readStat(b, layout, 0, p10);
  const max = readStat(b, layout, 1, p10);
  const sum = readStat(b, layout, 2, p10);
  const first = readStat(b, layout, 3, p10);
  const last = readStat(b, layout, 4, p10);
  if (pos + 4 > b.length) throw new Error('compact header ends before its crc');
  return {
    header: { version: b[2], encoding: b[3], flags: b[4], count, minT, maxT, min, max, sum, first, last },
    crcOffset: pos,
  };
}

/** Read cursor of decodeCompactHeader (decoding is synchronous and not reentrant). */
let pos = 0;

function readStat(b: Uint8Array, layout: number, i: number, p10: number): number {
  if ((layout & (1 << i)) === 0) {
    const m = readSVarint(b, STAT_FIELDS[i]);
    return p10 === 1 ? m : m / p10;
  }
  if (pos + 8 > b.length) throw new Error(`compact header ends inside ${STAT_FIELDS[i]}`);
  const v = readFloat64(b, pos);
  pos += 8;
  return v;
}

/**
 * One exponent for all five fields: among the smallest exponents at which each field is exact, the one that
 * makes the fields smallest in total (a field not exact there is stored raw).
 */
function chooseExponent(vs: number[]): { e: number; mantissas: Array<number | null> } {
  const candidates = new Set<number>();
  for (const v of vs) {
    for (let e = 0; e <= MAX_EXPONENT; e++) {
      if (mantissaAt(v, e) !== null) {
        candidates.add(e);
        break;
      }
    }
  }
  let best = { e: 0, bytes: Infinity, mantissas: vs.map((): number | null => null) };
  for (const e of [...candidates].sort((a, b) => a - b)) {
    const mantissas = vs.map((v) => mantissaAt(v, e));
    const bytes = mantissas.reduce<number>((a, m) => a + (m === null ? 8 : svarintLength(m)), 0);
    if (bytes < best.bytes) best = { e, bytes, mantissas };
  }
  return best;
}

/** m with m / 10^e (m itself at e = 0) bit-identical to v, or null. −0 has no mantissa (sign-magnitude 0 is +0). */
function mantissaAt(v: number, e: number): number | null {
  const m = Math.round(v * POW10[e]);
  if (!Number.isSafeInteger(m) || Object.is(m, -0)) return null;
  return Object.is(e === 0 ? m : m / POW10[e], v) ? m : null;
}

function pushUVarint(out: number[], u: number): void {
  while (u >= 128) {
    const low = u % 128;
    out.push(low | 0x80);
    u = (u - low) / 128;
  }
  out.push(u);
}

/** LEB128 of 2·|x| + sign, without forming that number (it can exceed 2^53). */
function pushSVarint(out: number[], x: number): void {
  let u = Math.abs(x);
  const low = u % 64;
  u = (u - low) / 64;
  out.push((low * 2 + (x < 0 ? 1 : 0)) | (u > 0 ? 0x80 : 0));
  if (u > 0) pushUVarint(out, u);
}

function svarintLength(x: number): number {
  let u = Math.floor(Math.abs(x) / 64);
  let n = 1;
  for (; u > 0; n++) u = Math.floor(u / 128);
  return n;
}

// Bytes move through a Float64Array (as Buffer.writeDoubleLE does) so NaN payloads survive; hosts are little-endian.
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);

function pushFloat64(out: number[], v: number): void {
  F64[0] = v;
  for (let i = 0; i < 8; i++) out.push(F64_BYTES[i]);
}

function readFloat64(b: Uint8Array, pos: number): number {
  for (let i = 0; i < 8; i++) F64_BYTES[i] = b[pos + i];
  return F64[0];
}

function readUVarint(b: Uint8Array, what: string): number {
  let u = 0;
  let mult = 1;
  for (let i = 0; ; i++) {
    if (i === MAX_VARINT_BYTES) throw new Error(`${what} varint longer than ${MAX_VARINT_BYTES} bytes`);
    if (pos >= b.length) throw new Error(`compact header ends inside ${what}`);
    const byte = b[pos++];
    u += (byte & 0x7f) * mult;
    mult *= 128;
    if ((byte & 0x80) === 0) break;
  }
  if (u > MAX_SAFE) throw new Error(`${what} ${u} is above 2^53 - 1`);
  return u;
}

function readSVarint(b: Uint8Array, what: string): number {
  if (pos >= b.length) throw new Error(`compact header ends inside ${what}`);
  const first = b[pos++];
  let u = (first & 0x7f) >>> 1;
  if ((first & 0x80) !== 0) u += readUVarint(b, what) * 64;
  if (u > MAX_SAFE) throw new Error(`${what} ${u} is above 2^53 - 1`);
  return (first & 1) !== 0 ? -u : u;
}
