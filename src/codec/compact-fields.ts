/**
 * Byte primitives of the compact sealed-block header and its rollup section (docs/format/block.md §8, §9):
 * LEB128 varints computed with float arithmetic (values reach 2^53, so no 32-bit bitwise ops), sign-magnitude
 * signed varints, raw float64, and "stat" numbers stored as a mantissa over one shared decimal exponent when that
 * is bit-exact, else raw.
 */

/** Powers of ten that are exact float64 values (10^22 is the largest). */
export const MAX_EXPONENT = 22;
export const POW10 = Array.from({ length: MAX_EXPONENT + 1 }, (_, i) => Number(`1e${i}`));
/** A varint of up to 8 bytes holds 56 bits, enough for 2^53 and the sign bit. */
const MAX_VARINT_BYTES = 8;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * One exponent for a group of numbers: among the smallest exponents at which each number is exact, the one that
 * makes the group smallest in total (a number not exact there is stored raw: mantissa null).
 */
export function chooseExponent(vs: readonly number[]): { e: number; mantissas: Array<number | null> } {
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
  const m = Math.round(v * POW10[e]!);
  if (!Number.isSafeInteger(m) || Object.is(m, -0)) return null;
  return Object.is(e === 0 ? m : m / POW10[e]!, v) ? m : null;
}

export function pushUVarint(out: number[], u: number): void {
  while (u >= 128) {
    const low = u % 128;
    out.push(low | 0x80);
    u = (u - low) / 128;
  }
  out.push(u);
}

/** LEB128 of 2·|x| + sign, without forming that number (it can exceed 2^53). */
export function pushSVarint(out: number[], x: number): void {
  let u = Math.abs(x);
  const low = u % 64;
  u = (u - low) / 64;
  out.push((low * 2 + (x < 0 ? 1 : 0)) | (u > 0 ? 0x80 : 0));
  if (u > 0) pushUVarint(out, u);
}

/** Bytes of pushUVarint(u). */
export function uvarintLength(u: number): number {
  let n = 1;
  for (; u >= 128; n++) u = Math.floor(u / 128);
  return n;
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

export function pushFloat64(out: number[], v: number): void {
  F64[0] = v;
  for (let i = 0; i < 8; i++) out.push(F64_BYTES[i]!);
}

/** A stat number: its mantissa at the group's exponent, or (mantissa null) raw float64. */
export function pushStat(out: number[], v: number, mantissa: number | null): void {
  if (mantissa === null) pushFloat64(out, v);
  else pushSVarint(out, mantissa);
}

/**
 * Read cursor over compact fields. Errors are plain Errors naming the field (`what`); block.ts wraps them into the
 * catalogue error. `where` names the structure in messages ("compact header", "rollup section").
 */
export class CompactReader {
  constructor(
    readonly b: Uint8Array,
    public pos: number,
    private readonly where: string,
  ) {}

  uvarint(what: string): number {
    const b = this.b;
    let u = 0;
    let mult = 1;
    for (let i = 0; ; i++) {
      if (i === MAX_VARINT_BYTES) throw new Error(`${what} varint longer than ${MAX_VARINT_BYTES} bytes`);
      if (this.pos >= b.length) throw new Error(`${this.where} ends inside ${what}`);
      const byte = b[this.pos++]!;
      u += (byte & 0x7f) * mult;
      mult *= 128;
      if ((byte & 0x80) === 0) break;
    }
    if (u > MAX_SAFE) throw new Error(`${what} ${u} is above 2^53 - 1`);
    return u;
  }

  svarint(what: string): number {
    if (this.pos >= this.b.length) throw new Error(`${this.where} ends inside ${what}`);
    const first = this.b[this.pos++]!;
    let u = (first & 0x7f) >>> 1;
    if ((first & 0x80) !== 0) u += this.uvarint(what) * 64;
    if (u > MAX_SAFE) throw new Error(`${what} ${u} is above 2^53 - 1`);
    return (first & 1) !== 0 ? -u : u;
  }

  float64(what: string): number {
    if (this.pos + 8 > this.b.length) throw new Error(`${this.where} ends inside ${what}`);
    for (let i = 0; i < 8; i++) F64_BYTES[i] = this.b[this.pos + i]!;
    this.pos += 8;
    return F64[0]!;
  }

  /** A stat number: raw float64, or a mantissa over p10 = 10^e. */
  stat(raw: boolean, p10: number, what: string): number {
    if (raw) return this.float64(what);
    const m = this.svarint(what);
    return p10 === 1 ? m : m / p10;
  }
}
