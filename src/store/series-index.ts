import type { Matcher, SeriesInfo } from './read-model.js';

/**
 * In-memory series table and inverted index of one partition. Series ids are dense and assigned in log order, so
 * every replica that applied the same log prefix has the same ids, and postings lists stay sorted by appending.
 */
export class SeriesIndex {
  readonly partition: number;
  private readonly byId: SeriesInfo[] = [];
  private readonly byKey = new Map<string, number>();
  /** tag key → tag value → ascending series ids. The metric is indexed as `__name__`. */
  private readonly postings = new Map<string, Map<string, number[]>>();

  constructor(partition: number) {
    this.partition = partition;
  }

  get size(): number {
    return this.byId.length;
  }

  idOf(key: string): number | undefined {
    return this.byKey.get(key);
  }

  get(id: number): SeriesInfo | undefined {
    return this.byId[id];
  }

  /** Adds a series under the next id; the caller guarantees ids arrive dense and in order. */
  add(id: number, key: string, metric: string, tags: Record<string, string>): SeriesInfo {
    if (id !== this.byId.length) throw new Error(`cannot add series (partition ${this.partition}, id ${id}): expected id ${this.byId.length}`);
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(tags).sort()) sorted[k] = tags[k]!;
    const info: SeriesInfo = { partition: this.partition, id, metric, tags: sorted, key };
    this.byId.push(info);
    this.byKey.set(key, id);
    this.post('__name__', metric, id);
    for (const k in tags) this.post(k, tags[k]!, id);
    return info;
  }

  /** Drops every series with id >= `count` (used when a head that created them is discarded). */
  truncate(count: number): void {
    while (this.byId.length > count) {
      const info = this.byId.pop()!;
      this.byKey.delete(info.key);
      this.unpost('__name__', info.metric, info.id);
      for (const k in info.tags) this.unpost(k, info.tags[k]!, info.id);
    }
  }

  private post(k: string, v: string, id: number): void {
    let values = this.postings.get(k);
    if (!values) this.postings.set(k, (values = new Map()));
    const list = values.get(v);
    if (list) list.push(id);
    else values.set(v, [id]);
  }

  private unpost(k: string, v: string, id: number): void {
    const values = this.postings.get(k);
    const list = values?.get(v);
    if (!values || !list) return;
    if (list[list.length - 1] === id) list.pop();
    if (list.length === 0) values.delete(v);
    if (values.size === 0) this.postings.delete(k);
  }

  tagKeys(): string[] {
    return [...this.postings.keys()].filter((k) => k !== '__name__');
  }

  tagValues(key: string): string[] {
    return [...(this.postings.get(key)?.keys() ?? [])];
  }

  /**
   * Series matching every matcher, Prometheus semantics: an absent tag is the empty string, regexes are anchored.
   * Equality matchers narrow through postings (smallest list first); the rest filter the candidates.
   */
  select(matchers: Matcher[]): SeriesInfo[] {
    const lists: number[][] = [];
    for (const m of matchers) {
      if (m.op === '=' && m.value !== '') lists.push(this.postings.get(m.name)?.get(m.value) ?? []);
    }
    let candidates: Iterable<number>;
    if (lists.length === 0) candidates = this.byId.keys();
    else {
      lists.sort((a, b) => a.length - b.length);
      candidates = lists.slice(1).reduce(intersectSorted, lists[0]!);
    }
    const out: SeriesInfo[] = [];
    for (const id of candidates) {
      const s = this.byId[id]!;
      if (matchers.every((m) => matches(m, m.name === '__name__' ? s.metric : (s.tags[m.name] ?? '')))) out.push(s);
    }
    return out;
  }
}

function matches(m: Matcher, v: string): boolean {
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return m.re!.test(v);
    case '!~':
      return !m.re!.test(v);
  }
}

function intersectSorted(a: number[], b: number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i]! === b[j]!) {
      out.push(a[i]!);
      i++;
      j++;
    } else if (a[i]! < b[j]!) i++;
    else j++;
  }
  return out;
}
