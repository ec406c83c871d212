import type { Matcher, SeriesInfo } from './read-model.js';

/**
 * In-memory series table and inverted index of one partition. Series ids are assigned in log order, so every replica
 * that applied the same log prefix has the same ids, and postings lists stay sorted by appending. Ids are never
 * reused: retention removes series and leaves holes (`size` keeps counting, `live` drops).
 */
export class SeriesIndex {
  readonly partition: number;
  /** By id; a hole (undefined) is an id whose series retention removed. */
  private readonly byId: Array<SeriesInfo | undefined> = [];
  private readonly byKey = new Map<string, number>();
  /** tag key → tag value → ascending series ids. The metric is indexed as `__name__`. */
  private readonly postings = new Map<string, Map<string, number[]>>();
  private liveCount = 0;

  constructor(partition: number) {
    this.partition = partition;
  }

  /** Ids assigned so far, removed ones included: the id the next new series gets. */
  get size(): number {
    return this.byId.length;
  }

  /** Series currently in the index (assigned minus removed). */
  get live(): number {
    return this.liveCount;
  }

  idOf(key: string): number | undefined {
    return this.byKey.get(key);
  }

  get(id: number): SeriesInfo | undefined {
    return this.byId[id];
  }

  /** Series of `metric` in this partition (its `__name__` postings list). */
  metricCount(metric: string): number {
    return this.postings.get('__name__')?.get(metric)?.length ?? 0;
  }

  /**
   * Adds a series. New series take id `size`; a load from the store may skip ids (series retention removed), but
   * ids must ascend so postings stay sorted.
   */
  add(id: number, key: string, metric: string, tags: Record<string, string>): SeriesInfo {
    if (id < this.byId.length) throw new Error(`cannot add series (partition ${this.partition}, id ${id}): expected id ${this.byId.length} or above`);
    if (this.byKey.has(key)) throw new Error(`cannot add series (partition ${this.partition}, id ${id}): ${key} already has id ${this.byKey.get(key)}`);
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(tags).sort()) sorted[k] = tags[k]!;
    const info: SeriesInfo = { partition: this.partition, id, metric, tags: sorted, key };
    this.fillTo(id);
    this.byId.push(info);
    this.byKey.set(key, id);
    this.liveCount++;
    this.post('__name__', metric, id);
    for (const k in tags) this.post(k, tags[k]!, id);
    return info;
  }

  /** Moves the next id up to `nextId` (after a load whose newest series were removed). */
  reserve(nextId: number): void {
    if (nextId < this.byId.length) throw new Error(`cannot reserve series ids (partition ${this.partition}): ${this.byId.length} already assigned, asked for ${nextId}`);
    this.fillTo(nextId);
  }

  /** Pushes explicit holes (not `length =`), so the array stays packed and lookups stay fast. */
  private fillTo(n: number): void {
    while (this.byId.length < n) this.byId.push(undefined);
  }

  /**
   * Removes series (retention). Their ids stay assigned. Each touched postings list is filtered once, so removing
   * many series costs one pass per list rather than one per series.
   */
  remove(ids: Iterable<number>): SeriesInfo[] {
    const removed: SeriesInfo[] = [];
    const byList = new Map<number[], Set<number>>();
    const touch = (k: string, v: string, id: number): void => {
      const list = this.postings.get(k)?.get(v);
      if (!list) return;
      let set = byList.get(list);
      if (!set) byList.set(list, (set = new Set()));
      set.add(id);
    };
    for (const id of ids) {
      const info = this.byId[id];
      if (!info) continue;
      this.byId[id] = undefined;
      this.byKey.delete(info.key);
      this.liveCount--;
      removed.push(info);
      touch('__name__', info.metric, id);
      for (const k in info.tags) touch(k, info.tags[k]!, id);
    }
    for (const [list, gone] of byList) {
      let w = 0;
      for (let r = 0; r < list.length; r++) if (!gone.has(list[r]!)) list[w++] = list[r]!;
      list.length = w;
    }
    for (const info of removed) {
      this.dropIfEmpty('__name__', info.metric);
      for (const k in info.tags) this.dropIfEmpty(k, info.tags[k]!);
    }
    return removed;
  }

  /** Drops every series with id >= `count` (used when a head that created them is discarded). */
  truncate(count: number): void {
    while (this.byId.length > count) {
      const info = this.byId.pop();
      if (!info) continue;
      this.byKey.delete(info.key);
      this.liveCount--;
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
    const list = this.postings.get(k)?.get(v);
    if (list && list[list.length - 1] === id) list.pop();
    this.dropIfEmpty(k, v);
  }

  private dropIfEmpty(k: string, v: string): void {
    const values = this.postings.get(k);
    if (!values) return;
    if (values.get(v)?.length === 0) values.delete(v);
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
      const s = this.byId[id];
      if (s && matchers.every((m) => matches(m, m.name === '__name__' ? s.metric : (s.tags[m.name] ?? '')))) out.push(s);
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
