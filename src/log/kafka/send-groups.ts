/**
 * Group commit under the one-produce-call-per-partition rule (why the rule exists: docs/log-kafka.md, "Concurrent
 * appends to one partition"). kafkajs 2.2.4 numbers the records of an idempotent producer per partition and, when a
 * produce request fails, gives its sequence numbers back; a second call to the same partition in flight could take
 * them and be dropped by the broker as a duplicate of a batch that was in fact written. So a partition is held by at
 * most one send at a time.
 *
 * Holding partitions one send at a time made concurrent writers strictly sequential (each write request spans most
 * partitions), one request's records per produce round trip. Instead, when a send can start it takes every queued
 * entry that may go now, in arrival order, and they travel as ONE produce request; each entry learns its own offsets
 * from the partition's base offset plus the records of the entries before it in the group.
 *
 * An entry may go only if none of its keys is held by a send in flight or by an earlier entry that stays queued, so
 * per key the order of sends (and of records inside a send) is the order of arrival. Entries of another topic, or
 * that would push a partition's record batch or the whole request over the limits, stay queued (and so block their
 * keys for later entries) until the next send.
 */

/** What the queue needs to know of an entry. */
export interface GroupEntry {
  readonly topic: string;
  /** Partitions this entry writes (distinct). */
  readonly partitions: readonly number[];
  /** Bytes per partition (record values). */
  readonly bytes: ReadonlyMap<number, number>;
}

export interface SendGroupLimits {
  /** Record bytes one partition may carry in one send (its record batch must fit the topic's max.message.bytes). */
  maxPartitionBytes: number;
  /** Record bytes of one produce request (the broker refuses requests over socket.request.max.bytes). */
  maxRequestBytes: number;
}

export class SendGroups<E extends GroupEntry> {
  private readonly queued: E[] = [];
  private readonly held = new Set<string>();

  /** `send` runs one group (entries in arrival order) and settles each entry itself; it must not reject. */
  constructor(
    private readonly limits: SendGroupLimits,
    private readonly send: (topic: string, group: E[]) => Promise<void>,
  ) {}

  submit(entry: E): void {
    this.queued.push(entry);
    this.pump();
  }

  private pump(): void {
    for (let group = this.take(); group.length > 0; group = this.take()) {
      const keys = group.flatMap((e) => e.partitions.map((p) => key(e.topic, p)));
      for (const k of keys) this.held.add(k);
      const done = (): void => {
        for (const k of keys) this.held.delete(k);
        this.pump();
      };
      void this.send(group[0]!.topic, group).then(done, done);
    }
  }

  /** Removes from the queue and returns the entries that go in the next send (none if nothing may go now). */
  private take(): E[] {
    const blocked = new Set(this.held);
    const group: E[] = [];
    const partitionBytes = new Map<number, number>();
    let requestBytes = 0;
    for (let i = 0; i < this.queued.length; i++) {
      const e = this.queued[i]!;
      const keys = e.partitions.map((p) => key(e.topic, p));
      const total = [...e.bytes.values()].reduce((a, b) => a + b, 0);
      const fits =
        keys.every((k) => !blocked.has(k)) &&
        (group.length === 0 ||
          (e.topic === group[0]!.topic &&
            requestBytes + total <= this.limits.maxRequestBytes &&
            e.partitions.every((p) => (partitionBytes.get(p) ?? 0) + (e.bytes.get(p) ?? 0) <= this.limits.maxPartitionBytes)));
      if (!fits) {
        for (const k of keys) blocked.add(k);
        continue;
      }
      group.push(e);
      this.queued.splice(i--, 1);
      requestBytes += total;
      for (const p of e.partitions) partitionBytes.set(p, (partitionBytes.get(p) ?? 0) + (e.bytes.get(p) ?? 0));
    }
    return group;
  }
}

const key = (topic: string, partition: number): string => `${topic}/${partition}`;
