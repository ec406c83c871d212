/**
 * The compact block header, written on sealed blocks only (docs/format/block.md §8). A sealed 720-point block body
 * is ~200 bytes, so the fixed 76-byte header was a quarter of it; sealed blocks are written once and read many
 * times, so a variable-length header that needs a short parse pays there.
 *
 * Integers are LEB128 varints; signed ones are sign-magnitude (compact-fields.ts). min/max/sum/first/last are stored
 * either as a signed mantissa m with one shared decimal exponent e (value = m / 10^e, checked bit-exact at encode
 * time) or, per field, as raw float64 (NaN payloads, −0, ±Inf, non-decimal or huge values).
 * Version 3 is version 2 plus a length-prefixed rollup section (block-rollup.ts, §9) after the fields; a header
 * read skips it by its length. The CRC (written by block.ts) follows and ends the header.
 */

import type { BlockHeader } from './block.js';
import { CompactReader, MAX_EXPONENT, POW10, chooseExponent, pushFloat64, pushSVarint, pushUVarint } from './compact-fields.js';

export const BLOCK_VERSION_COMPACT = 2;
/** Compact header followed by a rollup section (sealed cold blocks written with rollups configured). */
export const BLOCK_VERSION_ROLLUP = 3;
/** Layout byte: bit i (0..4) set = field i of STAT_FIELDS is a raw float64 instead of a mantissa. */
const STAT_FIELDS = ['min', 'max', 'sum', 'first', 'last'] as const;
/** Layout byte bit 5: maxT is stored absolute (signed) because maxT − minT exceeds 2^53 − 1. */
const LAYOUT_MAXT_ABSOLUTE = 0x20;
const LAYOUT_RESERVED = 0xc0;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** The header bytes up to (not including) the CRC; with a non-empty `rollups` section, version 3. */
export function encodeCompactHeader(h: BlockHeader, rollups?: Uint8Array): Uint8Array {
  const withRollups = rollups !== undefined && rollups.length > 0;
  const out: number[] = [0x56, 0x42, withRollups ? BLOCK_VERSION_ROLLUP : BLOCK_VERSION_COMPACT, h.encoding, h.flags, 0, 0];
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
      pushFloat64(out, h[STAT_FIELDS[i]!]);
    } else {
      pushSVarint(out, m!);
    }
  }
  out[5] = layout;
  out[6] = e;
  if (!withRollups) return Uint8Array.from(out);
  pushUVarint(out, rollups.length);
  const head = Uint8Array.from(out);
  const all = new Uint8Array(head.length + rollups.length);
  all.set(head);
  all.set(rollups, head.length);
  return all;
}

export interface CompactHeader {
  header: BlockHeader;
  /** Where the CRC field starts (the body follows it). */
  crcOffset: number;
  /** The rollup section (version 3), as [offset, offset + length) of the block; length 0 without one. */
  rollupOffset: number;
  rollupLength: number;
}

/**
 * The fields, where the rollup section is and where the CRC field starts; the caller checks magic, CRC and
 * encoding. Throws a plain Error with the reason; block.ts wraps it into the catalogue error.
 */
export function decodeCompactHeader(b: Uint8Array): CompactHeader {
  if (b.length < 7) throw new Error('shorter than the 7 fixed bytes of a compact header');
  const layout = b[5]!;
  const e = b[6]!;
  if ((layout & LAYOUT_RESERVED) !== 0) throw new Error(`compact header layout byte 0x${layout.toString(16)} has reserved bits set`);
  if (e > MAX_EXPONENT) throw new Error(`compact header exponent ${e} is above ${MAX_EXPONENT}`);
  const r = new CompactReader(b, 7, 'compact header');
  const count = r.uvarint('count');
  if (count > 0xffffffff) throw new Error(`count ${count} does not fit 32 bits`);
  const minT = r.svarint('minT');
  const maxT = (layout & LAYOUT_MAXT_ABSOLUTE) !== 0 ? r.svarint('maxT') : minT + r.uvarint('maxT - minT');
  if (!Number.isSafeInteger(maxT)) throw new Error(`maxT ${maxT} is not a safe integer`);
  const p10 = POW10[e]!;
  const min = r.stat((layout & 1) !== 0, p10, 'min');
  const max = r.stat((layout & 2) !== 0, p10, 'max');
  const sum = r.stat((layout & 4) !== 0, p10, 'sum');
  const first = r.stat((layout & 8) !== 0, p10, 'first');
  const last = r.stat((layout & 16) !== 0, p10, 'last');
  let rollupLength = 0;
  if (b[2] === BLOCK_VERSION_ROLLUP) {
    rollupLength = r.uvarint('rollup section length');
    if (rollupLength === 0) throw new Error('rollup section length is 0 in a version-3 header');
    if (r.pos + rollupLength > b.length) throw new Error(`rollup section of ${rollupLength} bytes ends past the block`);
  }
  const rollupOffset = r.pos;
  const crcOffset = r.pos + rollupLength;
  if (crcOffset + 4 > b.length) throw new Error('compact header ends before its crc');
  return {
    header: { version: b[2]!, encoding: b[3]!, flags: b[4]!, count, minT, maxT, min, max, sum, first, last },
    crcOffset,
    rollupOffset,
    rollupLength,
  };
}
