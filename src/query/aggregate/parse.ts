import { TsdbError } from '../../common/errors.js';
import { AGG_FNS, FILL_POLICIES, type AggFn, type FillPolicy } from './types.js';

const TAG_KEY_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const STEP_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

function invalid(field: string, value: unknown, reason: string): TsdbError {
  return new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot parse ${field} (${JSON.stringify(value)}): ${reason}`, {
    details: [{ field, reason }],
  });
}

/**
 * Parses a window length into integer milliseconds: `10s`, `1m`, `1h`, `1d` (also `ms` and `w`, and decimals that
 * come to whole milliseconds, e.g. `1.5s`), or integer milliseconds as a number or digit string. Must be >= 1 ms.
 */
export function parseStep(v: string | number): number {
  const reason = 'expected a positive duration: 10s, 1m, 1h, 1d, or integer milliseconds';
  let ms: number;
  if (typeof v === 'number') {
    ms = v;
  } else if (typeof v === 'string') {
    const m = STEP_RE.exec(v.trim());
    if (!m) throw invalid('step', v, reason);
    ms = Number(m[1]) * UNIT_MS[(m[2] ?? 'ms') as keyof typeof UNIT_MS];
    // 1.5s = 1500 exactly, but 0.1 * 3 style products can carry a rounding error: snap when within 1e-9 ms.
    const r = Math.round(ms);
    if (Math.abs(ms - r) < 1e-9) ms = r;
  } else {
    throw invalid('step', v, reason);
  }
  if (typeof ms !== 'number' || Number.isNaN(ms)) throw invalid('step', v, reason);
  if (!(Math.abs(ms) <= Number.MAX_SAFE_INTEGER)) throw invalid('step', v, 'is too large');
  if (!Number.isInteger(ms)) throw invalid('step', v, 'must be a whole number of milliseconds');
  if (ms < 1) throw invalid('step', v, 'must be at least 1 ms');
  return ms;
}

/**
 * Parses `by`: comma-separated tag keys (`[a-zA-Z_][a-zA-Z0-9_]*`, or `__name__` for the metric name). Blanks around
 * keys are trimmed; a repeated key is kept once (first position). An empty list or an empty entry is an error.
 */
export function parseBy(v: string): string[] {
  if (typeof v !== 'string') throw invalid('by', v, 'expected comma-separated tag keys');
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length === 1 && parts[0] === '') throw invalid('by', v, 'expected at least one tag key');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const k = parts[i]!;
    if (k === '') throw invalid('by', v, `entry ${i + 1} is empty`);
    if (!TAG_KEY_RE.test(k)) throw invalid('by', v, `tag key "${k}" does not match [a-zA-Z_][a-zA-Z0-9_]*`);
    if (!out.includes(k)) out.push(k);
  }
  return out;
}

export function parseFn(v: string): AggFn {
  if ((AGG_FNS as readonly string[]).includes(v)) return v as AggFn;
  throw invalid('fn', v, `expected one of ${AGG_FNS.join(' ')}`);
}

export function parseFill(v: string): FillPolicy {
  if ((FILL_POLICIES as readonly string[]).includes(v)) return v as FillPolicy;
  throw invalid('fill', v, `expected one of ${FILL_POLICIES.join(' ')}`);
}
