/**
 * InfluxDB line protocol write bodies (`POST /api/v1/write/influx`; docs/format/influx-line-protocol.md), parsed into
 * a SeriesBatch: `measurement[,tag=value…] field=value[,field=value…] [timestamp]`, one V3 point per numeric field,
 * metric `<measurement>_<field>`, the line's tags. A body with any bad line is refused whole, listing each bad line
 * by number; nothing of it is written.
 */
import type { SeriesBatch, SeriesRef } from '../codec/avro-record.js';
import { MAX_DETAILS } from '../codec/validate-points.js';
import type { ErrorDetail } from '../common/errors.js';

export type Precision = 'ns' | 'us' | 'ms' | 's';
export const PRECISIONS: readonly Precision[] = ['ns', 'us', 'ms', 's'];

/** The parsed body, and for each series and point the 1-based line it came from (to report problems by line). */
export interface ParsedLines {
  batch: SeriesBatch;
  lineOfSeries: number[];
  lineOfPoint: Int32Array;
  lines: number;
  /** Parse problems, one per bad line (at most MAX_DETAILS, then a summary). */
  errors: ErrorDetail[];
}

const FLOAT_RE = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const INT_RE = /^[-+]?\d+[iu]$/;
const TRUE = new Set(['t', 'T', 'true', 'True', 'TRUE']);
const FALSE = new Set(['f', 'F', 'false', 'False', 'FALSE']);

class LineError extends Error {}

/** Index of the first unescaped `ch` at or after `from` (outside double quotes when `quotes`), or -1. */
function findUnescaped(s: string, ch: string, from: number, quotes = false): number {
  let inQuote = false;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (quotes && c === '"') inQuote = !inQuote;
    else if (c === ch && !inQuote) return i;
  }
  return -1;
}

function splitUnescaped(s: string, ch: string, quotes = false): string[] {
  const out: string[] = [];
  let from = 0;
  for (;;) {
    const i = findUnescaped(s, ch, from, quotes);
    if (i < 0) break;
    out.push(s.slice(from, i));
    from = i + 1;
  }
  out.push(s.slice(from));
  return out;
}

const unescape = (s: string): string => (s.includes('\\') ? s.replace(/\\([,= \\"])/g, '$1') : s);

function fieldValue(key: string, raw: string): number {
  // Plain decimal numbers (nearly every value) without the regex: digits, one optional dot, optional sign.
  const c0 = raw.charCodeAt(0);
  if ((c0 >= 48 && c0 <= 57) || c0 === 45) {
    let i = c0 === 45 ? 1 : 0;
    let dot = false;
    let plain = i < raw.length;
    for (; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c === 46 && !dot) dot = true;
      else if (c < 48 || c > 57) {
        plain = false;
        break;
      }
    }
    if (plain && raw.charCodeAt(raw.length - 1) !== 46) return Number(raw);
    // 12i / 12u: the same digits before a one-letter suffix
    const last = raw.charCodeAt(raw.length - 1);
    if (!plain && !dot && i === raw.length - 1 && (last === 105 || last === 117) && raw.length > (c0 === 45 ? 2 : 1)) return Number(raw.slice(0, -1));
  }
  if (FLOAT_RE.test(raw)) return Number(raw);
  if (INT_RE.test(raw)) return Number(raw.slice(0, -1));
  if (TRUE.has(raw)) return 1;
  if (FALSE.has(raw)) return 0;
  if (raw.startsWith('"')) throw new LineError(`field "${key}": string values are not supported (V3 stores numbers)`);
  throw new LineError(`field "${key}": value ${JSON.stringify(raw.slice(0, 64))} is not a number, integer (i/u suffix) or boolean`);
}

const DIGITS: Record<Precision, number> = { ns: 6, us: 3, ms: 0, s: -3 };

/** An integer timestamp in `precision` units as ms (floored), exact for any length: ns values exceed 2^53. */
export function timestampMs(raw: string, precision: Precision): number {
  if (!/^-?\d+$/.test(raw)) throw new LineError(`timestamp ${JSON.stringify(raw.slice(0, 64))} is not an integer`);
  const neg = raw.startsWith('-');
  const digits = neg ? raw.slice(1) : raw;
  const cut = DIGITS[precision];
  let ms: number;
  if (cut > 0) {
    const whole = digits.length > cut ? Number(digits.slice(0, digits.length - cut)) : 0;
    const rest = digits.length > cut ? digits.slice(digits.length - cut) : digits;
    ms = neg ? -whole - (/^0*$/.test(rest) ? 0 : 1) : whole;
  } else {
    ms = Number(digits) * 10 ** -cut;
    if (neg) ms = -ms;
  }
  if (!Number.isSafeInteger(ms)) throw new LineError(`timestamp ${raw.slice(0, 64)} is outside the safe range in ms`);
  return ms === 0 ? 0 : ms; // never -0
}

export function parseInfluxLines(body: string, precision: Precision, now: number): ParsedLines {
  const series: SeriesRef[] = [];
  const lineOfSeries: number[] = [];
  /** Line head (measurement and tags as written) → its parsed form and, per field key, its series index. */
  const heads = new Map<string, { measurement: string; tags: Record<string, string>; fields: Map<string, number> }>();
  const idx: number[] = [];
  const ts: number[] = [];
  const vs: number[] = [];
  const pointLines: number[] = [];
  const errors: ErrorDetail[] = [];
  let badLines = 0;
  let lineNo = 0;
  let from = 0;
  while (from <= body.length) {
    let nl = body.indexOf('\n', from);
    if (nl < 0) nl = body.length;
    lineNo++;
    let line = body.slice(from, nl);
    from = nl + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const c0 = line.charCodeAt(0);
    if (line === '' || c0 === 35 || ((c0 === 32 || c0 === 9) && (line.trim() === '' || line.trim().startsWith('#')))) continue;
    try {
      // No escapes or quotes in the line (the usual case): plain searches.
      const simple = line.indexOf('\\') < 0 && line.indexOf('"') < 0;
      const sp1 = simple ? line.indexOf(' ') : findUnescaped(line, ' ', 0);
      if (sp1 <= 0) throw new LineError('needs a measurement, a space and at least one field');
      const head = line.slice(0, sp1);
      const sp2 = simple ? line.indexOf(' ', sp1 + 1) : findUnescaped(line, ' ', sp1 + 1, true);
      const fieldsPart = sp2 < 0 ? line.slice(sp1 + 1) : line.slice(sp1 + 1, sp2);
      const tsPart = sp2 < 0 ? '' : line.slice(sp2 + 1).trim();
      const t = tsPart === '' ? now : timestampMs(tsPart, precision);
      let h = heads.get(head);
      if (h === undefined) {
        const headParts = splitUnescaped(head, ',');
        const measurement = unescape(headParts[0]!);
        if (measurement === '') throw new LineError('empty measurement');
        const tags: Record<string, string> = {};
        for (let i = 1; i < headParts.length; i++) {
          const p = headParts[i]!;
          const eq = findUnescaped(p, '=', 0);
          if (eq <= 0) throw new LineError(`tag ${JSON.stringify(p.slice(0, 64))} is not key=value`);
          const k = unescape(p.slice(0, eq));
          if (k === '__proto__' || Object.prototype.hasOwnProperty.call(tags, k)) throw new LineError(`tag key "${k.slice(0, 64)}" is repeated or reserved`);
          tags[k] = unescape(p.slice(eq + 1));
        }
        h = { measurement, tags, fields: new Map() };
        heads.set(head, h);
      }
      // No escapes or quotes (the usual case): plain splits.
      const plain = simple;
      const fields = fieldsPart === '' ? [] : plain ? fieldsPart.split(',') : splitUnescaped(fieldsPart, ',', true);
      if (fields.length === 0) throw new LineError('has no fields');
      const n0 = idx.length;
      for (const f of fields) {
        const eq = plain ? f.indexOf('=') : findUnescaped(f, '=', 0);
        if (eq <= 0) {
          idx.length = ts.length = vs.length = pointLines.length = n0; // the line is refused whole
          throw new LineError(`field ${JSON.stringify(f.slice(0, 64))} is not key=value`);
        }
        const key = plain ? f.slice(0, eq) : unescape(f.slice(0, eq));
        let value: number;
        try {
          value = fieldValue(key, f.slice(eq + 1));
        } catch (e) {
          idx.length = ts.length = vs.length = pointLines.length = n0;
          throw e;
        }
        let sIdx = h.fields.get(key);
        if (sIdx === undefined) {
          sIdx = series.length;
          h.fields.set(key, sIdx);
          series.push({ metric: `${h.measurement}_${key}`, tags: h.tags });
          lineOfSeries.push(lineNo);
        }
        idx.push(sIdx);
        ts.push(t);
        vs.push(value);
        pointLines.push(lineNo);
      }
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      badLines++;
      if (errors.length < MAX_DETAILS) errors.push({ field: `line ${lineNo}`, reason: e.message });
    }
  }
  if (badLines > errors.length) errors.push({ field: 'lines', reason: `and ${badLines - errors.length} more bad lines not listed` });
  return {
    batch: { series, seriesIndex: Int32Array.from(idx), timestamps: Float64Array.from(ts), values: Float64Array.from(vs) },
    lineOfSeries,
    lineOfPoint: Int32Array.from(pointLines),
    lines: lineNo,
    errors,
  };
}
