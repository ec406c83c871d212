/**
 * Replication factor 3 on a real three-broker KRaft cluster (`node scripts/kafka.mjs start --brokers 3`): the log
 * contract holds; concurrent appends to one partition land where they are acknowledged even when a produce response
 * is lost after the broker wrote the batch; and killing one broker (SIGKILL) while writers share partitions loses no
 * acknowledged record. Serial (*.serial.test.ts): it replaces the single test broker with a three-node cluster on the
 * same ports (a three-node cluster started by hand is used instead and left running). Background of the last two: docs/log-kafka.md, "Concurrent appends to one partition".
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createLogger } from '../../src/common/logger.js';
import { createKafkaLog, type KafkaLog } from '../../src/log/kafka/index.js';
import { logContract } from '../contracts/log.contract.js';
import { kafkaLogFactory } from '../helpers/kafka-broker.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const SCRIPT = join(ROOT, 'scripts', 'kafka.mjs');
const kafka = (...args: string[]) => {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 240_000 });
  // `status` exits non-zero when nothing runs; its JSON says so.
  if (r.status !== 0 && args[0] !== 'status') throw new Error(`kafka.mjs ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
};

/** True when the test uses a three-node cluster someone started by hand (left running, its killed node restarted). */
let adopted = false;
before(() => {
  const status = JSON.parse(kafka('status', '--json')) as { running: boolean; brokers: number };
  if (status.running) {
    // Only a broker the tests started may be replaced; one a developer started by hand is theirs.
    kafka('stop', '--if-started-by', 'tests');
    const now = JSON.parse(kafka('status', '--json')) as { running: boolean; brokers: number };
    if (now.running) {
      if (now.brokers !== 3) {
        throw new Error(`a Kafka cluster of ${now.brokers} node(s) started by hand runs on 127.0.0.1:9092; stop it (npm run kafka:stop) or start three (npm run kafka:start -- --brokers 3) to run the replication-factor-3 test`);
      }
      // Three nodes started by hand: use them (this also restarts a node a previous kill left down, and waits).
      adopted = true;
      kafka('start', '--brokers', '3');
      return;
    }
  }
  kafka('start', '--brokers', '3', '--started-by', 'tests');
});
after(() => {
  if (adopted) kafka('start', '--brokers', '3'); // bring back the node the kill test killed
  else kafka('stop', '--if-started-by', 'tests');
});

logContract('kafka, 3 brokers, replication factor 3', kafkaLogFactory({ replicationFactor: 3 }));

const BROKERS = ['127.0.0.1:9092', '127.0.0.1:9094', '127.0.0.1:9096'];
const silent = createLogger({ level: 'silent' });

/** Every record of a partition, offset -> value. */
async function partitionContent(log: KafkaLog, p: number): Promise<Map<number, string>> {
  const got = new Map<number, string>();
  let from = (await log.offsets(p)).start;
  for (;;) {
    const recs = await log.read(p, from, { maxRecords: 5000 });
    if (recs.length === 0) return got;
    for (const r of recs) got.set(r.offset, r.value.toString());
    from = recs[recs.length - 1]!.offset + 1;
  }
}

/** Asserts every acknowledged value is at its offset; says where it is instead (another offset, or nowhere). */
async function assertAcknowledgedInPlace(log: KafkaLog, acked: Array<{ partition: number; offset: number; value: string }>): Promise<number> {
  let duplicates = 0;
  for (const p of new Set(acked.map((a) => a.partition))) {
    const got = await partitionContent(log, p);
    const where = new Map<string, number[]>();
    for (const [o, v] of got) where.set(v, [...(where.get(v) ?? []), o]);
    for (const os of where.values()) if (os.length > 1) duplicates++;
    for (const a of acked.filter((x) => x.partition === p)) {
      const at = where.get(a.value);
      assert.equal(got.get(a.offset), a.value, `partition ${p} offset ${a.offset}: acknowledged ${a.value} is ${at ? `at offset ${at.join(', ')}` : 'missing'}`);
    }
  }
  return duplicates;
}

// Lost produce responses, injected deterministically: the broker writes the batch, then the client sees the
// connection close (what a leader killed right after replicating looks like). kafkajs' Broker class is patched for
// requests carrying one given record only, and restored afterwards.
type ProduceRequest = { topicData?: Array<{ topic: string; partitions: Array<{ messages: Array<{ value: unknown }> }> }> };
type BrokerClass = { prototype: { produce(this: unknown, req: ProduceRequest): Promise<unknown> } };
const requireCjs = createRequire(import.meta.url);
async function withLostResponses<T>(topic: string, value: string, count: number, fn: () => Promise<T>): Promise<T> {
  const Broker = requireCjs('kafkajs/src/broker/index.js') as BrokerClass;
  const { KafkaJSConnectionClosedError } = requireCjs('kafkajs/src/errors.js') as { KafkaJSConnectionClosedError: new (m: string, o: object) => Error };
  const original = Broker.prototype.produce;
  let left = count;
  const carries = (req: ProduceRequest): boolean =>
    req.topicData?.some((t) => t.topic === topic && t.partitions.some((p) => p.messages.some((m) => String(m.value) === value))) ?? false;
  Broker.prototype.produce = async function (this: unknown, req: ProduceRequest) {
    const res = await original.call(this, req);
    if (left > 0 && carries(req)) {
      left--;
      throw new KafkaJSConnectionClosedError(`injected: the response of a written produce request (record ${value}) was lost`, { host: '127.0.0.1', port: 0 });
    }
    return res;
  };
  try {
    return await fn();
  } finally {
    Broker.prototype.produce = original;
  }
}

describe('kafka, replication factor 3: a produce response lost after the batch was written', () => {
  const NAMES = ['A', 'B', 'C'];
  /** A, B and C appended to partition 0 at the same time; the acknowledged ones as {partition, offset, value}. */
  const appendConcurrently = async (log: KafkaLog, lost: number, expectA: 'fulfilled' | 'rejected') => {
    const res = await withLostResponses(log.topic, 'A', lost, () => Promise.allSettled(NAMES.map((v) => log.append([{ partition: 0, values: [Buffer.from(v)] }]))));
    return res.flatMap((r, i) => {
      assert.equal(r.status, i === 0 ? expectA : 'fulfilled', `append ${NAMES[i]}: ${r.status === 'rejected' ? String(r.reason) : 'acknowledged'}`);
      return r.status === 'fulfilled' ? [{ partition: 0, offset: r.value[0]!.baseOffset, value: NAMES[i]! }] : [];
    });
  };

  it('concurrent appends to one partition each land at the offset they are acknowledged with (the retry is deduplicated)', async () => {
    const log = createKafkaLog({ brokers: BROKERS, topic: `v3-rf3-lost-${Date.now()}`, partitions: 1, replicationFactor: 3, logger: silent });
    await log.open();
    try {
      // Before the fix, B or C took the sequence number A gave back when its response was lost: the broker dropped it
      // as a duplicate of A and acknowledged it with A's offset, and A's retry wrote A again.
      const acked = await appendConcurrently(log, 1, 'fulfilled');
      assert.equal(await assertAcknowledgedInPlace(log, acked), 0, 'no record is written twice');
      assert.deepEqual([...(await partitionContent(log, 0)).values()], NAMES);
    } finally {
      await log.close();
    }
  });

  it('after an append fails for good, later appends to its partition are not taken for duplicates of it', async () => {
    const log = createKafkaLog({ brokers: BROKERS, topic: `v3-rf3-lost-fail-${Date.now()}`, partitions: 1, replicationFactor: 3, retries: 2, logger: silent });
    await log.open();
    try {
      // All 3 attempts of A are written but unanswered: A fails (it is in the log, as a failed append may be).
      const acked = await appendConcurrently(log, 3, 'rejected');
      await assertAcknowledgedInPlace(log, acked);
    } finally {
      await log.close();
    }
  });
});

describe('kafka, 3 brokers, replication factor 3: a broker killed during appends', () => {
  it('loses no acknowledged record while writers share partitions', async () => {
    const log = createKafkaLog({ brokers: BROKERS, topic: `v3-rf3-kill-${Date.now()}`, partitions: 3, replicationFactor: 3, logger: silent });
    await log.open();
    const acked: Array<{ partition: number; offset: number; value: string }> = [];
    let failures = 0;
    let stop = false;
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const value = `w${w}-${i}`;
        try {
          // Writers move through the partitions in step, so they append to the same partition at the same time.
          const [r] = await log.append([{ partition: i % 3, values: [Buffer.from(value)] }]);
          acked.push({ partition: r!.partition, offset: r!.baseOffset, value });
        } catch {
          failures++; // not acknowledged: may or may not be in the log
        }
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    await new Promise((r) => setTimeout(r, 1000));
    const pid = Number(readFileSync(join(ROOT, '.cache', 'kafka', '3', 'kafka.pid'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    const killedAt = acked.length;
    // At least 8 s with the broker down (a failover takes a few), and on a busy machine until 20 appends made it.
    const killedTime = Date.now();
    while (Date.now() - killedTime < 8000 || (acked.length - killedAt < 20 && Date.now() - killedTime < 60_000)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    stop = true;
    await Promise.all(writers);
    assert.ok(acked.length >= killedAt + 20, `appends must continue with one broker down (${acked.length - killedAt} after the kill, ${failures} failures)`);
    const duplicates = await assertAcknowledgedInPlace(log, acked);
    console.log(`# rf3 kill: ${acked.length} acknowledged appends (${killedAt} before the kill), ${failures} failed during failover, ${duplicates} values written twice`);
    await log.close();
  });
});
