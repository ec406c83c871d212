import type { SeriesInfo } from '../store/read-model.js';
import type { AggregatedSeries } from './aggregate/index.js';
import type { SeriesPoints } from './query-service.js';

/** JSON number text that round-trips bit-exactly, including -0 (JSON.stringify(-0) is "0"). */
export function jsonNumber(v: number): string {
  if (v === 0 && 1 / v < 0) return '-0';
  if (!Number.isFinite(v)) return 'null';
  return String(v);
}

export function seriesHeader(s: SeriesInfo): string {
  return `{"metric":${JSON.stringify(s.metric)},"tags":${JSON.stringify(s.tags)}`;
}

/** The opening of every points answer; series follow, then `seriesClose`. */
export const SERIES_OPEN = '{"series":[';

/**
 * The JSON text of the k-th series (0-based) of a points answer, in pieces of about 64 KiB (a comma first when
 * k > 0). Joined, the pieces of every series between SERIES_OPEN and seriesClose are the whole answer, so the
 * buffered and the streamed answer are built by the same code and are byte-identical.
 */
export function* seriesPointsChunks(sp: SeriesPoints, k: number): Generator<string, void, undefined> {
  const { series, points } = sp;
  yield (k > 0 ? ',' : '') + seriesHeader(series) + ',"points":[';
  const { ts, vs } = points;
  let chunk = '';
  for (let i = 0; i < ts.length; i++) {
    chunk += (i > 0 ? ',[' : '[') + ts[i] + ',' + jsonNumber(vs[i]!) + ']';
    if (chunk.length > 65536) {
      yield chunk;
      chunk = '';
    }
  }
  yield chunk + ']}';
}

/** Closes a points answer: `],"partial":...}` (with `"missing"` when partial). */
export function seriesClose(partial: boolean, missing: number[]): string {
  return '],"partial":' + String(partial) + (partial ? ',"missing":' + JSON.stringify(missing) : '') + '}';
}

/**
 * Closes a streamed points answer that had to stop early (a limit or the timeout hit after the status line was
 * sent): `],"partial":true,"missing":[...],"truncated":true,"error":{...}}`. Always valid JSON, because it is only
 * ever written between two series.
 */
export function seriesCloseTruncated(missing: number[], error: { code: string; message: string; details: unknown[]; retriable: boolean }): string {
  return '],"partial":true,"missing":' + JSON.stringify(missing) + ',"truncated":true,"error":' + JSON.stringify(error) + '}';
}

/** Serialises a query answer without building an intermediate object graph per point. */
export function renderSeriesPoints(result: SeriesPoints[], partial: boolean, missing: number[]): string {
  const parts: string[] = [SERIES_OPEN];
  for (let k = 0; k < result.length; k++) for (const c of seriesPointsChunks(result[k]!, k)) parts.push(c);
  parts.push(seriesClose(partial, missing));
  return parts.join('');
}

/** `{"series":[{"metric":..,"tags":{..}},...],"partial":..}` (with `"missing"` when partial). */
export function renderSeriesList(series: SeriesInfo[], partial: boolean, missing: number[]): string {
  const parts: string[] = [SERIES_OPEN];
  for (let k = 0; k < series.length; k++) parts.push((k > 0 ? ',' : '') + seriesHeader(series[k]!) + '}');
  parts.push(seriesClose(partial, missing));
  return parts.join('');
}

/** `{"<field>":["a","b"],"partial":..}` (with `"missing"` when partial): tag keys and tag values. */
export function renderStringList(field: 'tags' | 'values', list: string[], partial: boolean, missing: number[]): string {
  return '{' + JSON.stringify(field) + ':' + JSON.stringify(list) + ',"partial":' + String(partial) + (partial ? ',"missing":' + JSON.stringify(missing) : '') + '}';
}

/** Serialises aggregated series; empty windows filled with `null` stay null. */
export function renderAggregated(result: AggregatedSeries[], partial: boolean, missing: number[]): string {
  const parts: string[] = ['{"series":['];
  for (let k = 0; k < result.length; k++) {
    const s = result[k]!;
    if (k > 0) parts.push(',');
    parts.push(`{"metric":${JSON.stringify(s.metric)},"tags":${JSON.stringify(s.tags)},"points":[`);
    let chunk = '';
    for (let i = 0; i < s.points.length; i++) {
      const [t, v] = s.points[i]!;
      chunk += (i > 0 ? ',[' : '[') + t + ',' + (v === null ? 'null' : jsonNumber(v)) + ']';
      if (chunk.length > 65536) {
        parts.push(chunk);
        chunk = '';
      }
    }
    parts.push(chunk, ']}');
  }
  parts.push('],"partial":', String(partial));
  if (partial) parts.push(',"missing":', JSON.stringify(missing));
  parts.push('}');
  return parts.join('');
}
