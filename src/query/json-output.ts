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

/** Serialises a query answer without building an intermediate object graph per point. */
export function renderSeriesPoints(result: SeriesPoints[], partial: boolean, missing: number[]): string {
  const parts: string[] = ['{"series":['];
  for (let k = 0; k < result.length; k++) {
    const { series, points } = result[k]!;
    if (k > 0) parts.push(',');
    parts.push(seriesHeader(series), ',"points":[');
    const { ts, vs } = points;
    let chunk = '';
    for (let i = 0; i < ts.length; i++) {
      chunk += (i > 0 ? ',[' : '[') + ts[i] + ',' + jsonNumber(vs[i]!) + ']';
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
