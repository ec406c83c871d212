import type { SeriesPoints } from '../query-service.js';

export interface Group {
  /** Sort keys of the output (see sortOutput in aggregate.ts). */
  metric: string;
  tags: Record<string, string>;
  members: SeriesPoints[];
}

/**
 * Groups series. Without `by`: one group per input series (output keeps metric and tags). With `by`: series with
 * equal values for every by key (absent = its own value, "absent"); output tags = the by keys the group has;
 * `__name__` groups by metric name and never appears in tags. Output metric = the members' metric when they all
 * share one, else "" (decision, docs/query-semantics.md). Members are ordered by series key (then input order):
 * that order breaks first/last timestamp ties.
 */
export function groupSeries(input: SeriesPoints[], by: string[] | undefined): Group[] {
  if (by === undefined) return input.map((sp) => ({ metric: sp.series.metric, tags: { ...sp.series.tags }, members: [sp] }));
  const groups = new Map<string, Group>();
  const values: Array<string | null> = new Array(by.length);
  for (const sp of input) {
    const { metric, tags } = sp.series;
    for (let i = 0; i < by.length; i++) {
      const k = by[i]!;
      values[i] = k === '__name__' ? metric : Object.prototype.hasOwnProperty.call(tags, k) ? tags[k]! : null;
    }
    const gk = JSON.stringify(values);
    let g = groups.get(gk);
    if (g === undefined) {
      const gt: Record<string, string> = {};
      for (let i = 0; i < by.length; i++) if (by[i] !== '__name__' && values[i] !== null) gt[by[i]!] = values[i]!;
      g = { metric, tags: gt, members: [] };
      groups.set(gk, g);
    } else if (g.metric !== metric) {
      g.metric = '';
    }
    g.members.push(sp);
  }
  const out = [...groups.values()];
  for (const g of out) if (g.members.length > 1) g.members.sort((a, b) => (a.series.key < b.series.key ? -1 : a.series.key > b.series.key ? 1 : 0));
  return out;
}
