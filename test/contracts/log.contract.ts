import { describe, it, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTsdbError, type ErrorCode } from '../../src/common/errors.js';
import type { LogConsumer, LogRecord, PartitionedLog } from '../../src/log/types.js';

export interface LogFactory {
  /** A new, not yet opened log. The same `dir` must reach the same data (a Kafka factory maps it to a topic). */
  create(opts: { partitions: number; dir: string }): Promise<PartitionedLog>;
  cleanup?(): Promise<void>;
  /** How long "nothing more arrives" checks watch (default 300 ms; raise it for a remote broker). */
  quietMs?: number;
  /** Upper bound for waiting on deliveries (default 30 s). */
  timeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function values(n: number, size: number | ((i: number) => number), tag = ''): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const len = typeof size === 'number' ? size : size(i);
    const b = randomBytes(len);
    const label = Buffer.from(`${tag}${i}:`);
    label.copy(b, 0, 0, Math.min(label.length, len));
    return b;
  });
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isTsdbError(e), `expected a TsdbError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

async function readAll(log: PartitionedLog, partition: number, from: number): Promise<LogRecord[]> {
  const { end } = await log.offsets(partition);
  const out: LogRecord[] = [];
  let next = from;
  while (next < end) {
    const batch = await log.read(partition, next);
    assert.ok(batch.length > 0, `read(${partition}, ${next}) returned nothing before the end ${end}`);
    out.push(...batch);
    next = batch[batch.length - 1]!.offset + 1;
  }
  return out;
}

function assertRecords(got: LogRecord[], want: Buffer[], firstOffset: number): void {
  assert.equal(got.length, want.length, 'record count');
  for (let i = 0; i < want.length; i++) {
    assert.equal(got[i]!.offset, firstOffset + i, `offset of record ${i}`);
    assert.ok(got[i]!.value.equals(want[i]!), `bytes of offset ${firstOffset + i}`);
  }
}

/** Collects deliveries of one consumer and checks the per-partition invariants as they happen. */
function recorder() {
  const byPartition = new Map<number, LogRecord[]>();
  const inFlight = new Map<number, number>();
  let maxInFlight = 0;
  const calls: number[] = [];
  return {
    byPartition,
    calls,
    get maxInFlight() {
      return maxInFlight;
    },
    offsets: (p: number): number[] => (byPartition.get(p) ?? []).map((r) => r.offset),
    enter(p: number, records: LogRecord[]): void {
      calls.push(p);
      const n = (inFlight.get(p) ?? 0) + 1;
      inFlight.set(p, n);
      maxInFlight = Math.max(maxInFlight, n);
      assert.ok(records.length > 0, 'onBatch with no records');
      for (let i = 1; i < records.length; i++) assert.equal(records[i]!.offset, records[i - 1]!.offset + 1, 'batch is not consecutive');
      const list = byPartition.get(p) ?? [];
      list.push(...records);
      byPartition.set(p, list);
    },
    leave(p: number): void {
      inFlight.set(p, (inFlight.get(p) ?? 1) - 1);
    },
  };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** The log contract: every PartitionedLog implementation runs this suite in one line. */
export function logContract(name: string, factory: LogFactory): void {
  const quietMs = factory.quietMs ?? 300;
  const timeoutMs = factory.timeoutMs ?? 30_000;

  async function waitFor(what: string, cond: () => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(10);
    }
  }

  describe(`log contract: ${name}`, () => {
    const dirs: string[] = [];
    let logs: PartitionedLog[] = [];
    let consumers: LogConsumer[] = [];

    const freshDir = (): string => {
      const d = mkdtempSync(join(tmpdir(), 'v3-logc-'));
      dirs.push(d);
      return d;
    };
    const openLog = async (partitions: number, dir = freshDir()): Promise<PartitionedLog> => {
      const log = await factory.create({ partitions, dir });
      logs.push(log);
      await log.open();
      return log;
    };
    const track = (c: LogConsumer): LogConsumer => {
      consumers.push(c);
      return c;
    };

    afterEach(async () => {
      await Promise.allSettled(consumers.map((c) => c.stop()));
      await Promise.allSettled(logs.map((l) => l.close()));
      consumers = [];
      logs = [];
    });
    after(async () => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      await factory.cleanup?.();
    });

    it('append assigns consecutive offsets per partition, across batches and partitions in one call', async () => {
      const log = await openLog(3);
      const r1 = await log.append([
        { partition: 0, values: values(2, 10) },
        { partition: 1, values: values(1, 10) },
        { partition: 0, values: values(3, 10) },
      ]);
      assert.deepEqual(r1, [
        { partition: 0, baseOffset: 0, lastOffset: 1 },
        { partition: 1, baseOffset: 0, lastOffset: 0 },
        { partition: 0, baseOffset: 2, lastOffset: 4 },
      ]);
      const r2 = await log.append([
        { partition: 1, values: values(4, 10) },
        { partition: 0, values: values(1, 10) },
      ]);
      assert.deepEqual(r2, [
        { partition: 1, baseOffset: 1, lastOffset: 4 },
        { partition: 0, baseOffset: 5, lastOffset: 5 },
      ]);
      assert.deepEqual(await log.offsets(0), { start: 0, end: 6 });
      assert.deepEqual(await log.offsets(1), { start: 0, end: 5 });
      assert.deepEqual(await log.offsets(2), { start: 0, end: 0 });
    });

    it('read returns exactly the appended records (bytes equal) from any offset', async () => {
      const log = await openLog(2);
      const before = Date.now();
      const want = values(50, (i) => 1 + ((i * 37) % 300), 'r');
      for (let i = 0; i < want.length; i += 10) await log.append([{ partition: 1, values: want.slice(i, i + 10) }]);
      const afterAppend = Date.now();
      for (const from of [0, 1, 17, 40, 49]) assertRecords(await readAll(log, 1, from), want.slice(from), from);
      for (const r of await readAll(log, 1, 0)) {
        assert.ok(r.timestamp >= before - 60_000 && r.timestamp <= afterAppend + 60_000, `timestamp ${r.timestamp} is not near append time`);
      }
      assert.deepEqual(await log.read(0, 0), []);
    });

    it('read honours maxRecords and maxBytes and always returns at least one record', async () => {
      const log = await openLog(1);
      const want = values(20, 100);
      await log.append([{ partition: 0, values: want }]);
      const five = await log.read(0, 0, { maxRecords: 5 });
      assert.ok(five.length >= 1 && five.length <= 5, `maxRecords 5 gave ${five.length}`);
      assertRecords(five, want.slice(0, five.length), 0);
      const one = await log.read(0, 7, { maxRecords: 1 });
      assertRecords(one, want.slice(7, 8), 7);
      const tiny = await log.read(0, 3, { maxBytes: 1 });
      assertRecords(tiny, want.slice(3, 4), 3);
      const crossing = await log.read(0, 3, { maxBytes: 250 });
      assert.ok(crossing.length >= 1 && crossing.length <= 3, `maxBytes 250 over 100-byte records gave ${crossing.length}`);
      assertRecords(crossing, want.slice(3, 3 + crossing.length), 3);
      const zero = await log.read(0, 19, { maxBytes: 0, maxRecords: 1 });
      assertRecords(zero, want.slice(19), 19);
    });

    it('offsets() reports start and end; read at the end returns []', async () => {
      const log = await openLog(2);
      assert.deepEqual(await log.offsets(0), { start: 0, end: 0 });
      assert.deepEqual(await log.read(0, 0), []);
      await log.append([{ partition: 0, values: values(7, 8) }]);
      assert.deepEqual(await log.offsets(0), { start: 0, end: 7 });
      assert.deepEqual(await log.offsets(1), { start: 0, end: 0 });
      assert.deepEqual(await log.read(0, 7), []);
    });

    it('read beyond the end or below the start throws TSDB_ERR_LOG_OFFSET', async () => {
      const log = await openLog(1);
      await rejectsWith(log.read(0, 1), 'TSDB_ERR_LOG_OFFSET');
      await log.append([{ partition: 0, values: values(3, 8) }]);
      await rejectsWith(log.read(0, 4), 'TSDB_ERR_LOG_OFFSET');
      await rejectsWith(log.read(0, 1000), 'TSDB_ERR_LOG_OFFSET');
      await rejectsWith(log.read(0, -1), 'TSDB_ERR_LOG_OFFSET');
    });

    it('an unknown partition is refused with a TsdbError', async () => {
      const log = await openLog(2);
      const isTsdb = (e: unknown): boolean => isTsdbError(e);
      await assert.rejects(log.append([{ partition: 2, values: values(1, 8) }]), isTsdb);
      await assert.rejects(log.read(5, 0), isTsdb);
      await assert.rejects(log.offsets(-1), isTsdb);
    });

    it('records survive close and reopen by a new instance (durability across instances)', async () => {
      const dir = freshDir();
      const log = await openLog(3, dir);
      const p0 = values(25, (i) => i * 13, 'a');
      const p2 = [...values(3, 50, 'b'), randomBytes(1 << 20)];
      await log.append([{ partition: 0, values: p0.slice(0, 10) }, { partition: 2, values: p2 }]);
      await log.append([{ partition: 0, values: p0.slice(10) }]);
      await log.close();

      const again = await openLog(3, dir);
      assert.deepEqual(await again.offsets(0), { start: 0, end: 25 });
      assert.deepEqual(await again.offsets(1), { start: 0, end: 0 });
      assert.deepEqual(await again.offsets(2), { start: 0, end: 4 });
      assertRecords(await readAll(again, 0, 0), p0, 0);
      assertRecords(await readAll(again, 2, 0), p2, 0);
      const [r] = await again.append([{ partition: 0, values: values(2, 5) }]);
      assert.deepEqual(r, { partition: 0, baseOffset: 25, lastOffset: 26 });
    });

    it('append after close rejects with TSDB_ERR_LOG_CLOSED', async () => {
      const log = await openLog(1);
      await log.close();
      await rejectsWith(log.append([{ partition: 0, values: values(1, 8) }]), 'TSDB_ERR_LOG_CLOSED');
    });

    it('empty values and 1 MiB values round-trip through append, read and consume', async () => {
      const log = await openLog(1);
      const big = randomBytes(1 << 20);
      const want = [Buffer.alloc(0), big, Buffer.alloc(0), Buffer.from('x'), randomBytes((1 << 20) + 7)];
      await log.append([{ partition: 0, values: want.slice(0, 3) }]);
      await log.append([{ partition: 0, values: want.slice(3) }]);
      assertRecords(await readAll(log, 0, 0), want, 0);
      assertRecords(await log.read(0, 1, { maxBytes: 1 }), [big], 1);
      const rec = recorder();
      const c = track(log.consume({ onBatch: async (p, rs) => { rec.enter(p, rs); rec.leave(p); } }));
      c.assign(0, 0);
      await waitFor('5 records', () => rec.offsets(0).length >= 5);
      assertRecords(rec.byPartition.get(0)!, want, 0);
    });

    it('concurrent appends from many callers keep offsets dense and unique', async () => {
      const log = await openLog(2);
      const expected = new Map<string, Buffer>();
      const callers = Array.from({ length: 64 }, async (_, c) => {
        const results: { partition: number; baseOffset: number; lastOffset: number; vals: Buffer[] }[] = [];
        for (let k = 0; k < 10; k++) {
          const partition = (c + k) % 2;
          const vals = values(1 + ((c * k) % 3), 40, `c${c}k${k}-`);
          const [r] = await log.append([{ partition, values: vals }]);
          assert.equal(r!.lastOffset - r!.baseOffset + 1, vals.length);
          results.push({ ...r!, vals });
        }
        return results;
      });
      const all = (await Promise.all(callers)).flat();
      for (const partition of [0, 1]) {
        const mine = all.filter((r) => r.partition === partition).sort((a, b) => a.baseOffset - b.baseOffset);
        let next = 0;
        for (const r of mine) {
          assert.equal(r.baseOffset, next, `partition ${partition}: gap or overlap at ${next}`);
          r.vals.forEach((v, i) => expected.set(`${partition}:${r.baseOffset + i}`, v));
          next = r.lastOffset + 1;
        }
        assert.deepEqual(await log.offsets(partition), { start: 0, end: next });
        for (const rec of await readAll(log, partition, 0)) assert.ok(rec.value.equals(expected.get(`${partition}:${rec.offset}`)!), `bytes at ${partition}:${rec.offset}`);
      }
    });

    it('consume: assign from X delivers every record >= X in order exactly once, then tails new appends', async () => {
      const log = await openLog(1);
      const want = values(30, 20, 'w');
      await log.append([{ partition: 0, values: want }]);
      const rec = recorder();
      const c = track(log.consume({ onBatch: async (p, rs) => { rec.enter(p, rs); rec.leave(p); } }));
      c.assign(0, 10);
      assert.deepEqual(c.assigned(), [0]);
      await waitFor('offsets 10..29', () => rec.offsets(0).length >= 20);
      const more = values(20, 20, 'm');
      for (let i = 0; i < more.length; i += 4) {
        await log.append([{ partition: 0, values: more.slice(i, i + 4) }]);
        await sleep(5);
      }
      await waitFor('offsets 10..49', () => rec.offsets(0).length >= 40);
      await sleep(quietMs);
      assert.deepEqual(rec.offsets(0), range(10, 50));
      assertRecords(rec.byPartition.get(0)!, [...want.slice(10), ...more], 10);
    });

    it('consume: partitions are delivered independently, each in order', async () => {
      const log = await openLog(3);
      const rec = recorder();
      const c = track(log.consume({ maxRecords: 3, onBatch: async (p, rs) => { rec.enter(p, rs); assert.ok(rs.length <= 3); await sleep(1); rec.leave(p); } }));
      c.assign(0, 0);
      c.assign(2, 0);
      assert.deepEqual(c.assigned(), [0, 2]);
      for (let i = 0; i < 5; i++) {
        await log.append([
          { partition: 0, values: values(2, 10) },
          { partition: 1, values: values(1, 10) },
          { partition: 2, values: values(3, 10) },
        ]);
      }
      await waitFor('p0 and p2 delivered', () => rec.offsets(0).length >= 10 && rec.offsets(2).length >= 15);
      await sleep(quietMs);
      assert.deepEqual(rec.offsets(0), range(0, 10));
      assert.deepEqual(rec.offsets(2), range(0, 15));
      assert.deepEqual(rec.offsets(1), []);
      assert.equal(rec.maxInFlight, 1);
    });

    it('consume: assigning at the end delivers only later appends', async () => {
      const log = await openLog(1);
      await log.append([{ partition: 0, values: values(5, 10) }]);
      const rec = recorder();
      const c = track(log.consume({ onBatch: async (p, rs) => { rec.enter(p, rs); rec.leave(p); } }));
      c.assign(0, 5);
      await sleep(quietMs);
      assert.deepEqual(rec.offsets(0), []);
      await log.append([{ partition: 0, values: values(2, 10) }]);
      await waitFor('offsets 5..6', () => rec.offsets(0).length >= 2);
      assert.deepEqual(rec.offsets(0), [5, 6]);
    });

    it('consume: re-assigning a partition restarts delivery from the new offset', async () => {
      const log = await openLog(1);
      await log.append([{ partition: 0, values: values(10, 10) }]);
      const rec = recorder();
      const c = track(log.consume({ onBatch: async (p, rs) => { rec.enter(p, rs); rec.leave(p); } }));
      c.assign(0, 0);
      await waitFor('offsets 0..9', () => rec.offsets(0).length >= 10);
      c.assign(0, 6);
      await waitFor('offsets 6..9 again', () => rec.offsets(0).length >= 14);
      await sleep(quietMs);
      assert.deepEqual(rec.offsets(0), [...range(0, 10), ...range(6, 10)]);
      assert.equal(rec.maxInFlight, 1);
    });

    it('consume: unassign stops delivery and resolves only after the in-flight onBatch settled', async () => {
      const log = await openLog(2);
      await log.append([{ partition: 0, values: values(3, 10) }, { partition: 1, values: values(3, 10) }]);
      const gate = deferred();
      const entered = deferred();
      const rec = recorder();
      let finished = false;
      const c = track(
        log.consume({
          onBatch: async (p, rs) => {
            rec.enter(p, rs);
            if (p === 0) {
              entered.resolve();
              await gate.promise;
              finished = true;
            }
            rec.leave(p);
          },
        }),
      );
      c.assign(0, 0);
      c.assign(1, 0);
      await entered.promise;
      let unassigned = false;
      const u = c.unassign(0).then(() => {
        unassigned = true;
        assert.ok(finished, 'unassign resolved while onBatch was still running');
      });
      assert.deepEqual(c.assigned(), [1]);
      await sleep(50);
      assert.equal(unassigned, false);
      gate.resolve();
      await u;
      const delivered0 = rec.offsets(0).length;
      await log.append([{ partition: 0, values: values(4, 10) }, { partition: 1, values: values(2, 10) }]);
      await waitFor('partition 1 keeps going', () => rec.offsets(1).length >= 5);
      await sleep(quietMs);
      assert.equal(rec.offsets(0).length, delivered0, 'partition 0 delivered after unassign');
      assert.deepEqual(rec.offsets(1), range(0, 5));
    });

    it('consume: stop resolves only after in-flight onBatch calls settled, and nothing is delivered after', async () => {
      const log = await openLog(2);
      const gate = deferred();
      const entered = deferred();
      let running = 0;
      let calls = 0;
      const c = track(
        log.consume({
          onBatch: async () => {
            calls++;
            running++;
            entered.resolve();
            await gate.promise;
            running--;
          },
        }),
      );
      c.assign(0, 0);
      c.assign(1, 0);
      await log.append([{ partition: 0, values: values(2, 10) }]);
      await entered.promise;
      let stopped = false;
      const s = c.stop().then(() => {
        stopped = true;
      });
      await sleep(50);
      assert.equal(stopped, false, 'stop resolved while onBatch was still running');
      gate.resolve();
      await s;
      assert.equal(running, 0);
      const seen = calls;
      await log.append([{ partition: 0, values: values(2, 10) }, { partition: 1, values: values(2, 10) }]);
      await sleep(quietMs);
      assert.equal(calls, seen);
    });

    it('consume: backpressure - the next batch waits until the previous onBatch promise settled', async () => {
      const log = await openLog(1);
      await log.append([{ partition: 0, values: values(3, 10) }]);
      const gate = deferred();
      const entered = deferred();
      const rec = recorder();
      const c = track(
        log.consume({
          maxRecords: 2,
          onBatch: async (p, rs) => {
            rec.enter(p, rs);
            entered.resolve();
            await gate.promise;
            rec.leave(p);
          },
        }),
      );
      c.assign(0, 0);
      await entered.promise;
      await log.append([{ partition: 0, values: values(5, 10) }]);
      await sleep(quietMs);
      assert.equal(rec.calls.length, 1, 'a second batch was delivered while the first was still running');
      gate.resolve();
      await waitFor('all 8 records', () => rec.offsets(0).length >= 8);
      assert.deepEqual(rec.offsets(0), range(0, 8));
      assert.equal(rec.maxInFlight, 1);
    });

    it('consume: a rejected onBatch goes to onError and stops only that partition', async () => {
      const log = await openLog(2);
      const errors: [number, Error][] = [];
      const rec = recorder();
      const c = track(
        log.consume({
          onBatch: async (p, rs) => {
            rec.enter(p, rs);
            rec.leave(p);
            if (p === 0) throw new Error('boom');
          },
          onError: (p, e) => errors.push([p, e]),
        }),
      );
      c.assign(0, 0);
      c.assign(1, 0);
      await log.append([{ partition: 0, values: values(2, 10) }, { partition: 1, values: values(2, 10) }]);
      await waitFor('onError', () => errors.length >= 1);
      const deliveredBefore = rec.calls.filter((p) => p === 0).length;
      await log.append([{ partition: 0, values: values(2, 10) }, { partition: 1, values: values(2, 10) }]);
      await waitFor('partition 1 keeps going', () => rec.offsets(1).length >= 4);
      await sleep(quietMs);
      assert.equal(errors.length, 1);
      assert.equal(errors[0]![0], 0);
      assert.equal(errors[0]![1].message, 'boom');
      assert.equal(rec.calls.filter((p) => p === 0).length, deliveredBefore, 'partition 0 delivered after its onBatch rejected');
      assert.equal(deliveredBefore, 1);
      assert.deepEqual(rec.offsets(1), range(0, 4));
    });

    it('consume: assigning beyond the end reports TSDB_ERR_LOG_OFFSET through onError', async () => {
      const log = await openLog(1);
      await log.append([{ partition: 0, values: values(2, 10) }]);
      const errors: Error[] = [];
      const c = track(log.consume({ onBatch: async () => undefined, onError: (_p, e) => errors.push(e) }));
      c.assign(0, 50);
      await waitFor('onError', () => errors.length >= 1);
      assert.ok(isTsdbError(errors[0]) && errors[0].code === 'TSDB_ERR_LOG_OFFSET', String(errors[0]));
    });
  });
}
