/**
 * JSON form of partial aggregates (docs/format/partial-aggregate.md), for shipping them between nodes: a node
 * computes and merges the partials of the partitions it owns, encodes them, and the coordinator decodes, merges and
 * finalizes (docs/query-semantics.md "Partial aggregates"). Decoding checks the shape and that the partial belongs
 * to the same query; anything else is TSDB_ERR_INTERNAL (a peer sent something this version does not understand).
 */
import { TsdbError } from '../../common/errors.js';
import { emptyGroup, pushWindow, type GroupPartial, type PartialAggregate } from './partial.js';
import { Kind, type Plan } from './plan.js';
import { DDSketch } from './sketch.js';
import type { AggregateQuery } from './types.js';

export const PARTIAL_FORMAT_VERSION = 1;

/** A number JSON can carry exactly: finite and not -0 as itself, anything else as its string ("-0", "Infinity", "NaN"). */
type Num = number | string;

export interface EncodedPartial {
  v: number;
  /** The query the partial answers; the receiver must be evaluating the same one. */
  query: { fn: string; start: number; end: number; step: number | null; by: string[] | null; exactPercentileMax: number | null };
  groups: Array<{ key: string; metric: string; tags: Record<string, string>; windows: EncodedWindow[] }>;
}

/** `[k, n, ...]`; the rest depends on the function (docs/format/partial-aggregate.md). */
export type EncodedWindow = Array<Num | { values: Num[] } | { sketch: string }>;

const num = (x: number): Num => (Object.is(x, -0) ? '-0' : Number.isFinite(x) ? x : String(x));

function bad(why: string): never {
  throw new TsdbError('TSDB_ERR_INTERNAL', `cannot decode partial aggregate: ${why}`, { retriable: false });
}

function unnum(x: unknown, what: string): number {
  if (typeof x === 'number') return x;
  if (x === '-0' || x === 'Infinity' || x === '-Infinity' || x === 'NaN') return Number(x);
  return bad(`${what} is not a number (${JSON.stringify(x)})`);
}

function queryOf(p: Plan, q: AggregateQuery): EncodedPartial['query'] {
  return { fn: q.fn, start: q.start, end: q.end, step: q.step ?? null, by: q.by ?? null, exactPercentileMax: Number.isFinite(p.exactMax) ? p.exactMax : null };
}

function encodeWindow(p: Plan, g: GroupPartial, i: number): EncodedWindow {
  const head: EncodedWindow = [g.ks[i]!, g.n[i]!];
  switch (p.kind) {
    case Kind.Count:
      return head;
    case Kind.First:
    case Kind.Last:
      return [...head, num(g.a[i]!), num(g.b[i]!), g.s[i]!];
    case Kind.Stddev:
      return [...head, num(g.a[i]!), num(g.b[i]!)];
    case Kind.Percentile: {
      const sk = g.sk[i]!;
      return [...head, sk !== null ? { sketch: Buffer.from(sk.encode()).toString('base64') } : { values: g.vals[i]!.map(num) }];
    }
    default:
      return [...head, num(g.a[i]!)];
  }
}

/** The JSON-able form of `acc`, a partial of the query `q` planned as `p`. */
export function encodePartial(acc: PartialAggregate, p: Plan, q: AggregateQuery): EncodedPartial {
  const groups: EncodedPartial['groups'] = [];
  for (const [key, g] of acc) groups.push({ key, metric: g.metric, tags: g.tags, windows: g.ks.map((_, i) => encodeWindow(p, g, i)) });
  return { v: PARTIAL_FORMAT_VERSION, query: queryOf(p, q), groups };
}

/** Appends the decoded window to g. */
function decodeWindow(p: Plan, w: unknown, g: GroupPartial): void {
  const last = g.ks.length > 0 ? g.ks[g.ks.length - 1]! : -1;
  if (!Array.isArray(w) || w.length < 2) bad(`window ${JSON.stringify(w)} is not [k, n, ...]`);
  const [k, n] = w as unknown[];
  if (!Number.isSafeInteger(k) || (k as number) <= last || (k as number) < 0 || (k as number) >= p.nW) bad(`window index ${k} is not ascending in [0, ${p.nW})`);
  if (!Number.isSafeInteger(n) || (n as number) < 1) bad(`window ${k}: count ${n} is not a positive integer`);
  const i = pushWindow(g, p.kind, k as number);
  g.n[i] = n as number;
  const want = (len: number): void => {
    if (w.length !== len) bad(`window ${k}: ${w.length} fields, expected ${len}`);
  };
  switch (p.kind) {
    case Kind.Count:
      want(2);
      break;
    case Kind.First:
    case Kind.Last:
      want(5);
      g.a[i] = unnum(w[2], 'timestamp');
      g.b[i] = unnum(w[3], 'value');
      if (typeof w[4] !== 'string') bad(`window ${k}: series key is not a string`);
      g.s[i] = w[4];
      break;
    case Kind.Stddev:
      want(4);
      g.a[i] = unnum(w[2], 'mean');
      g.b[i] = unnum(w[3], 'M2');
      break;
    case Kind.Percentile: {
      want(3);
      const x = w[2] as { values?: unknown; sketch?: unknown } | null;
      if (x !== null && typeof x === 'object' && Array.isArray(x.values)) {
        if (x.values.length !== n || (n as number) > p.exactMax) bad(`window ${k}: ${x.values.length} raw values for count ${n} (exact up to ${p.exactMax})`);
        g.vals[i] = x.values.map((v) => unnum(v, 'value'));
      } else if (x !== null && typeof x === 'object' && typeof x.sketch === 'string') {
        const sk = DDSketch.decode(Buffer.from(x.sketch, 'base64'));
        if (sk.count !== n || (n as number) <= p.exactMax) bad(`window ${k}: a sketch of ${sk.count} values for count ${n} (exact up to ${p.exactMax})`);
        g.sk[i] = sk;
      } else bad(`window ${k}: neither values nor sketch`);
      break;
    }
    default:
      want(3);
      g.a[i] = unnum(w[2], 'value');
  }
}

/** Parses `encodePartial`'s output for the query `q` planned as `p`; throws when it answers another query. */
export function decodePartial(data: unknown, p: Plan, q: AggregateQuery): PartialAggregate {
  const e = data as EncodedPartial;
  if (e === null || typeof e !== 'object' || e.v !== PARTIAL_FORMAT_VERSION) bad(`unknown version ${JSON.stringify((e as { v?: unknown } | null)?.v)}`);
  const mine = JSON.stringify(queryOf(p, q));
  if (JSON.stringify(e.query) !== mine) bad(`it answers ${JSON.stringify(e.query)}, not ${mine}`);
  if (!Array.isArray(e.groups)) bad('groups is not an array');
  const acc: PartialAggregate = new Map();
  for (const g of e.groups) {
    if (g === null || typeof g !== 'object' || typeof g.key !== 'string' || typeof g.metric !== 'string' || g.tags === null || typeof g.tags !== 'object' || !Array.isArray(g.windows)) {
      bad('a group is not {key, metric, tags, windows}');
    }
    if (acc.has(g.key)) bad(`group ${JSON.stringify(g.key)} appears twice`);
    const out = emptyGroup(g.metric, { ...g.tags });
    for (const w of g.windows) decodeWindow(p, w, out);
    acc.set(g.key, out);
  }
  return acc;
}
