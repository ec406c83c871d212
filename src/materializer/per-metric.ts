import { TsdbError } from '../common/errors.js';
import { parseDuration } from '../common/units.js';

/** A numeric setting with per-metric overrides (`--max-series-per-metric`, `--retention`); 0 means "no limit". */
export interface PerMetric {
  readonly fallback: number;
  readonly overrides: ReadonlyMap<string, number>;
  /** The value for one metric: its override, else the fallback. */
  of(metric: string): number;
  /** True when no metric has a limit (fallback and every override are 0): callers skip all work. */
  readonly off: boolean;
}

export function perMetric(fallback: number, overrides: ReadonlyMap<string, number> = new Map()): PerMetric {
  const off = fallback === 0 && [...overrides.values()].every((v) => v === 0);
  return { fallback, overrides, off, of: (m) => overrides.get(m) ?? fallback };
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:.]*$/;

/**
 * Parses `NAME=VALUE` entries (the list form of an overrides setting). `value` turns the text after `=` into a
 * number or undefined when it does not parse; `expected` says what it wanted, for the error.
 */
export function parseOverrides(flag: string, entries: readonly string[], value: (raw: string) => number | undefined, expected: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const name = entry.slice(0, eq).trim();
    const v = eq > 0 ? value(entry.slice(eq + 1).trim()) : undefined;
    if (eq <= 0 || !METRIC.test(name) || v === undefined || !(v >= 0)) {
      throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot read setting --${flag} (${JSON.stringify(entry)}): expected METRIC=${expected}, comma-separated`);
    }
    if (out.has(name)) throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot read setting --${flag} (${JSON.stringify(entry)}): metric ${name} is listed twice`);
    out.set(name, v);
  }
  return out;
}

const count = (raw: string): number | undefined => (/^\d+$/.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : undefined);

/** `--max-series-per-metric` and its overrides (`cpu_x=1000,mem=0`). */
export function seriesLimitsFrom(max: number, overrides: readonly string[]): PerMetric {
  return perMetric(max, parseOverrides('max-series-per-metric-overrides', overrides, count, 'COUNT (0 = unlimited)'));
}

/** `--retention` and its overrides (`debug_x=1h,audit=0`). */
export function retentionFrom(retentionMs: number, overrides: readonly string[]): PerMetric {
  return perMetric(retentionMs, parseOverrides('retention-overrides', overrides, parseDuration, 'DURATION like 30d, 12h (0 = keep forever)'));
}
