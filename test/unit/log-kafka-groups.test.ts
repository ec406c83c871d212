/**
 * Group commit of the kafka log (src/log/kafka/send-groups.ts) on a real broker: appends queued behind a send share
 * the next produce request, yet each gets its own offsets, in arrival order per partition; and a failed grouped
 * request fails exactly the appends in it. Produce requests are observed (and one failure injected) by wrapping
 * kafkajs' Broker.produce, restored afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { TsdbError } from '../../src/common/errors.js';
import { createLogger } from '../../src/common/logger.js';
import { createKafkaLog, type KafkaLog } from '../../src/log/kafka/index.js';
import type { AppendResult } from '../../src/log/types.js';
import { ensureKafka } from '../helpers/kafka-broker.js';
import { seededRandom } from '../helpers/seeded-random.js';

type ProduceRequest = { topicData?: Array<{ topic: string; partitions: Array<{ messages: Array<{ value: unknown }> }> }> };
type BrokerClass = { prototype: { produce(this: unknown, req: ProduceRequest): Promise<unknown> } };
const requireCjs = createRequire(import.meta.url);
const Broker = requireCjs('kafkajs/src/broker/index.js') as BrokerClass;
const { KafkaJSNonRetriableError } = requireCjs('kafkajs/src/errors.js') as { KafkaJSNonRetriableError: new (m: string) => Error };

/** Runs `fn` with every produce request of `topic` passed to `spy` (its record values) before it is sent; `spy` may throw. */
async function watchProduce<T>(topic: string, spy: (values: string[]) => void, fn: () => Promise<T>): Promise<T> {
  const original = Broker.prototype.produce;
  Broker.prototype.produce = async function (this: unknown, req: ProduceRequest) {
    const values = (req.topicData ?? []).filter((t) => t.topic === topic).flatMap((t) => t.partitions.flatMap((p) => p.messages.map((m) => String(m.value))));
    if (values.length > 0) spy(values);
    return original.call(this, req);
  };
  try {
    return await fn();
  } finally {
    Broker.prototype.produce = original;
  }
}

/** Every record of a partition, in offset order. */
async function content(log: KafkaLog, p: number): Promise<Array<{ offset: number; value: string }>> {
  const out: Array<{ offset: number; value: string }> = [];
  for (let from = 0; ; ) {
    const recs = await log.read(p, from, { maxRecords: 5000 });
    if (recs.length === 0) return out;
    for (const r of recs) out.push({ offset: r.offset, value: r.value.toString() });
    from = recs[recs.length - 1]!.offset + 1;
  }
}

describe('kafka log: concurrent appends share produce requests (group commit)', () => {
  let brokers: string[];
  const logs: KafkaLog[] = [];
  const open = async (name: string, partitions: number, extra: { maxMessageBytes?: number } = {}): Promise<KafkaLog> => {
    const log = createKafkaLog({ brokers, topic: `v3-groups-${name}-${Date.now()}`, partitions, logger: createLogger({ level: 'silent' }), ...extra });
    await log.open();
    logs.push(log);
    return log;
  };
  before(async () => {
    brokers = (await ensureKafka()).split(',');
  });
  after(async () => {
    await Promise.all(logs.map((l) => l.close()));
  });

  it('appends to overlapping partition sets get distinct offsets holding their records, in call order per partition', async () => {
    const rnd = seededRandom('log-kafka-groups overlapping');
    const P = 6;
    const N = 60;
    const log = await open('overlap', P);
    const calls = Array.from({ length: N }, (_, i) => {
      const parts = [...new Set(Array.from({ length: rnd.int(1, 4) }, () => rnd.int(0, P - 1)))];
      return parts.map((p) => ({ partition: p, values: Array.from({ length: rnd.int(1, 3) }, (_, j) => Buffer.from(`c${i}-p${p}-${j}`)) }));
    });
    let requests = 0;
    const results = await watchProduce(log.topic, () => requests++, () => Promise.all(calls.map((batches) => log.append(batches))));
    assert.ok(requests < N / 2, `${N} appends went out in ${requests} produce requests: they should share requests`);

    const lastBase = new Map<number, number>();
    const stored = new Map<number, Map<number, string>>();
    for (let p = 0; p < P; p++) stored.set(p, new Map((await content(log, p)).map((r) => [r.offset, r.value])));
    calls.forEach((batches, i) => {
      const res: AppendResult[] = results[i]!;
      assert.equal(res.length, batches.length);
      batches.forEach((b, k) => {
        const r = res[k]!;
        assert.equal(r.partition, b.partition);
        assert.equal(r.lastOffset - r.baseOffset + 1, b.values.length);
        b.values.forEach((v, j) => assert.equal(stored.get(b.partition)!.get(r.baseOffset + j), v.toString(), `call ${i}, partition ${b.partition}, offset ${r.baseOffset + j}`));
        assert.ok(r.baseOffset > (lastBase.get(b.partition) ?? -1), `call ${i} is behind an earlier call on partition ${b.partition}`);
        lastBase.set(b.partition, r.baseOffset);
      });
    });
    for (let p = 0; p < P; p++) {
      const expected = calls.flatMap((batches) => batches.filter((b) => b.partition === p).flatMap((b) => b.values.map(String)));
      assert.deepEqual([...stored.get(p)!.values()], expected, `partition ${p} holds every record once, in call order`);
    }
  });

  it('a failed grouped request fails every append in it and none outside it', async () => {
    // 200 KiB topic batches: one partition may carry 136 KiB per request, so Y (136 KiB - 1) cannot join B and X.
    const log = await open('fail', 2, { maxMessageBytes: 200 * 1024 });
    const big = Buffer.alloc(136 * 1024 - 1, 'Y');
    const sent: string[][] = [];
    const spy = (values: string[]): void => {
      sent.push(values.map((v) => (v.length > 8 ? `${v[0]}x${v.length}` : v)));
      if (values.includes('X')) throw new KafkaJSNonRetriableError('injected: a produce request carrying X fails');
    };
    const settled = await watchProduce(log.topic, spy, () =>
      Promise.allSettled([
        log.append([{ partition: 0, values: [Buffer.from('first')] }]), // goes at once, alone
        log.append([{ partition: 0, values: [Buffer.from('B')] }, { partition: 1, values: [Buffer.from('B1')] }]),
        log.append([{ partition: 0, values: [Buffer.from('X')] }]),
        log.append([{ partition: 1, values: [Buffer.from('C')] }]),
        log.append([{ partition: 0, values: [big] }]), // too big for B and X's request: the next one
        log.append([{ partition: 0, values: [Buffer.from('Z')] }]), // behind Y on partition 0
      ]),
    );
    assert.deepEqual(sent, [['first'], ['B', 'X', 'B1', 'C'], [`Yx${big.length}`, 'Z']]);
    const [first, b, x, c, y, z] = settled;
    for (const [name, r] of [['B', b], ['X', x], ['C', c]] as const) {
      assert.equal(r!.status, 'rejected', `${name} was in the failed request`);
      assert.ok((r as PromiseRejectedResult).reason instanceof TsdbError);
    }
    assert.match(String((c as PromiseRejectedResult).reason), /partitions \[1\], 1 records/, "each append fails with its own message");
    const offsetOf = (r: PromiseSettledResult<AppendResult[]> | undefined): number => {
      assert.equal(r!.status, 'fulfilled');
      return (r as PromiseFulfilledResult<AppendResult[]>).value[0]!.baseOffset;
    };
    assert.deepEqual([offsetOf(first), offsetOf(y), offsetOf(z)], [0, 1, 2]);
    assert.deepEqual((await content(log, 0)).map((r) => (r.value.length > 8 ? 'Y' : r.value)), ['first', 'Y', 'Z']);
    assert.deepEqual(await content(log, 1), []);
    // The producer was replaced and works.
    const [after1] = await log.append([{ partition: 1, values: [Buffer.from('later')] }]);
    assert.equal(after1!.baseOffset, 0);
  });
});
