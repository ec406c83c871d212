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
  /** `<line head>\n<field key>` → series index: each distinct tag set and field becomes one series. */
  const seriesOf = new Map<string, number>();
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
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    try {
      const sp1 = findUnescaped(line, ' ', 0);
      if (sp1 <= 0) throw new LineError('needs a measurement, a space and at least one field');
      const head = line.slice(0, sp1);
      const sp2 = findUnescaped(line, ' ', sp1 + 1, true);
      const fieldsPart = sp2 < 0 ? line.slice(sp1 + 1) : line.slice(sp1 + 1, sp2);
      const tsPart = sp2 < 0 ? '' : line.slice(sp2 + 1).trim();
      const t = tsPart === '' ? now : timestampMs(tsPart, precision);
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
      const fields = fieldsPart === '' ? [] : splitUnescaped(fieldsPart, ',', true);
      if (fields.length === 0) throw new LineError('has no fields');
      const parsed: Array<[string, number]> = [];
      for (const f of fields) {
        const eq = findUnescaped(f, '=', 0);
        if (eq <= 0) throw new LineError(`field ${JSON.stringify(f.slice(0, 64))} is not key=value`);
        const key = unescape(f.slice(0, eq));
        parsed.push([key, fieldValue(key, f.slice(eq + 1))]);
      }
      for (const [key, value] of parsed) {
        const sk = `${head}\n${key}`;
        let s = seriesOf.get(sk);
        if (s === undefined) {
          s = series.length;
          seriesOf.set(sk, s);
          series.push({ metric: `${measurement}_${key}`, tags });
          lineOfSeries.push(lineNo);
        }
        idx.push(s);
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
