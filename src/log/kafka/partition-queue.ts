/**
 * One produce call at a time per partition (the root cause it prevents: docs/log-kafka.md, "Concurrent appends to
 * one partition"). kafkajs 2.2.4 numbers the records of an idempotent producer per partition and, when a produce
 * request fails, gives its sequence numbers back. If another call to the same partition takes those numbers before
 * the failed call retries, and the failed request had in fact been written (its response was lost, e.g. the leader
 * died after replicating it), the broker takes the other call's different records for a duplicate of the written
 * batch: it drops them and acknowledges them with the offset of the first call's records.
 *
 * A call names all its partitions at once and queues behind every earlier call that shares one of them (FIFO per
 * key). All keys are taken in one synchronous step, so two calls never wait for each other in opposite orders.
 */
export class PartitionQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Waits until no earlier call holds any of `keys`; the returned function releases them (call it exactly once). */
  async acquire(keys: Iterable<string>): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const before: Promise<void>[] = [];
    const mine = [...new Set(keys)];
    for (const key of mine) {
      const prev = this.tails.get(key);
      if (prev !== undefined) before.push(prev);
      this.tails.set(key, held);
    }
    await Promise.all(before);
    return () => {
      for (const key of mine) if (this.tails.get(key) === held) this.tails.delete(key);
      release();
    };
  }
}
