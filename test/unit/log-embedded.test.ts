import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { manualClock } from '../../src/common/clock.js';
import { isTsdbError, type ErrorCode } from '../../src/common/errors.js';
import { createLogger, silentLogger } from '../../src/common/logger.js';
import { createEmbeddedLog, type EmbeddedLog, type EmbeddedLogOptions } from '../../src/log/embedded/index.js';
import { encodeFrame, FRAME_HEADER_BYTES, readHeader } from '../../src/log/embedded/record-frame.js';
import type { LogRecord } from '../../src/log/types.js';
import { logContract } from '../contracts/log.contract.js';

logContract('embedded', { create: async ({ partitions, dir }) => createEmbeddedLog({ dir, partitions, logger: silentLogger() }) });

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'v3-embedded-'));
  dirs.push(d);
  return d;
}

async function openLog(opts: Partial<EmbeddedLogOptions> & { dir: string }): Promise<EmbeddedLog> {
  const log = createEmbeddedLog({ partitions: 1, logger: silentLogger(), ...opts });
  await log.open();
  return log;
}

/** A logger whose JSON lines land in an array, to check what recovery reports. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) } as unknown as NodeJS.WritableStream;
  return { logger: createLogger({ level: 'warn', destination }), lines };
}

const vals = (n: number, size: number, tag = 'v'): Buffer[] =>
  Array.from({ length: n }, (_, i) => {
    const b = Buffer.alloc(size, i % 251);
    Buffer.from(`${tag}${i}`).copy(b);
    return b;
  });

async function readAll(log: EmbeddedLog, partition: number, from: number): Promise<LogRecord[]> {
  const { end } = await log.offsets(partition);
  const out: LogRecord[] = [];
  for (let next = from; next < end; ) {
    const batch = await log.read(partition, next);
    out.push(...batch);
    next = batch[batch.length - 1]!.offset + 1;
  }
  return out;
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => isTsdbError(e) && e.code === code);
}

const seg0 = (dir: string, partition = 0): string => join(dir, `p-${String(partition).padStart(5, '0')}`, `${'0'.repeat(20)}.log`);
const segFiles = (dir: string, partition = 0): string[] => readdirSync(join(dir, `p-${String(partition).padStart(5, '0')}`)).sort();

describe('embedded log: record frame', () => {
  it('encodes exactly the golden fixture (test/fixtures/segment-frame.json)', () => {
    const path = fileURLToPath(new URL('../../../test/fixtures/segment-frame.json', import.meta.url));
    const fx = JSON.parse(readFileSync(path, 'utf8')) as {
      input: { offset: number; timestamp: number; valueUtf8: string };
      fields: { name: string; at: number; size: number; hex: string }[];
      hex: string;
    };
    const frame = encodeFrame(Buffer.from(fx.input.valueUtf8, 'utf8'), fx.input.offset, fx.input.timestamp);
    assert.equal(frame.toString('hex'), fx.hex);
    for (const f of fx.fields) assert.equal(frame.subarray(f.at, f.at + f.size).toString('hex'), f.hex, f.name);
    const h = readHeader(frame, 0);
    assert.deepEqual({ offset: h.offset, timestamp: h.timestamp, length: h.length }, { offset: 42, timestamp: 1700000000123, length: 9 });
  });

  it('round-trips large offsets and negative timestamps', () => {
    const h = readHeader(encodeFrame(Buffer.alloc(0), 2 ** 53 - 1, -1), 0);
    assert.equal(h.offset, 2 ** 53 - 1);
    assert.equal(h.timestamp, -1);
  });
});

describe('embedded log: layout and configuration', () => {
  it('lays out meta.json, p-NNNNN directories and 20-digit segment files', async () => {
    const dir = freshDir();
    const log = await openLog({ dir, partitions: 2 });
    await log.append([{ partition: 1, values: vals(3, 10) }]);
    await log.close();
    assert.deepEqual(readdirSync(dir).sort(), ['meta.json', 'p-00000', 'p-00001']);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')), { format: 'v3-embedded-log', version: 1, partitions: 2 });
    assert.deepEqual(segFiles(dir, 1), ['00000000000000000000.log']);
    assert.equal(statSync(seg0(dir, 1)).size, 3 * (FRAME_HEADER_BYTES + 10));
  });

  it('refuses to open with a different partition count (TSDB_ERR_CONFIG_INVALID)', async () => {
    const dir = freshDir();
    const log = await openLog({ dir, partitions: 4 });
    await log.close();
    await rejectsWith(openLog({ dir, partitions: 8 }), 'TSDB_ERR_CONFIG_INVALID');
    await rejectsWith(openLog({ dir, partitions: 2 }), 'TSDB_ERR_CONFIG_INVALID');
    const again = await openLog({ dir, partitions: 4 });
    await again.close();
  });

  it('refuses a second open of the same directory in one process', async () => {
    const dir = freshDir();
    const log = await openLog({ dir });
    await rejectsWith(openLog({ dir }), 'TSDB_ERR_CONFIG_INVALID');
    await log.close();
  });

  it('rejects invalid options with TSDB_ERR_CONFIG_INVALID', () => {
    assert.throws(() => createEmbeddedLog({ dir: freshDir(), partitions: 0 }), (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_CONFIG_INVALID');
    assert.throws(() => createEmbeddedLog({ dir: freshDir(), partitions: 1, segmentBytes: 0 }), (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_CONFIG_INVALID');
  });
});

describe('embedded log: recovery', () => {
  async function writeTen(dir: string): Promise<Buffer[]> {
    const log = await openLog({ dir });
    const want = vals(10, 40);
    await log.append([{ partition: 0, values: want.slice(0, 6) }]);
    await log.append([{ partition: 0, values: want.slice(6) }]);
    await log.close();
    return want;
  }

  async function reopenExpecting(dir: string, want: Buffer[], end: number, goodBytes: number, dropped: number): Promise<void> {
    const { logger, lines } = capturingLogger();
    const log = await openLog({ dir, logger });
    assert.deepEqual(await log.offsets(0), { start: 0, end });
    assert.equal(statSync(seg0(dir)).size, goodBytes);
    const warn = lines.find((l) => l.msg === 'truncating torn tail of the last segment');
    assert.ok(warn, `no truncation warning in ${JSON.stringify(lines)}`);
    assert.equal(warn.partition, 0);
    assert.equal(warn.offset, end);
    assert.equal(warn.position, goodBytes);
    assert.equal(warn.bytesDropped, dropped);
    const [r] = await log.append([{ partition: 0, values: [Buffer.from('after')] }]);
    assert.equal(r!.baseOffset, end);
    const got = await readAll(log, 0, 0);
    assert.deepEqual(got.map((x) => x.value.toString('hex')), [...want.slice(0, end), Buffer.from('after')].map((b) => b.toString('hex')));
    await log.close();
    const again = await openLog({ dir });
    assert.deepEqual(await again.offsets(0), { start: 0, end: end + 1 });
    await again.close();
  }

  const frame = FRAME_HEADER_BYTES + 40;

  it('truncates a partial header at the end of the last segment', async () => {
    const dir = freshDir();
    const want = await writeTen(dir);
    appendFileSync(seg0(dir), Buffer.from([0x11, 0x22, 0x33, 0x44, 0xe1, 0, 0]));
    await reopenExpecting(dir, want, 10, 10 * frame, 7);
  });

  it('truncates a partial value (header promises more bytes than the file has)', async () => {
    const dir = freshDir();
    const want = await writeTen(dir);
    const partial = encodeFrame(Buffer.alloc(1000, 9), 10, Date.now()).subarray(0, FRAME_HEADER_BYTES + 5);
    appendFileSync(seg0(dir), partial);
    await reopenExpecting(dir, want, 10, 10 * frame, partial.length);
  });

  it('truncates garbage and a zero-filled tail', async () => {
    const dir = freshDir();
    const want = await writeTen(dir);
    appendFileSync(seg0(dir), Buffer.alloc(4096));
    await reopenExpecting(dir, want, 10, 10 * frame, 4096);
  });

  it('drops the last record when a byte of it is flipped (CRC mismatch)', async () => {
    const dir = freshDir();
    const want = await writeTen(dir);
    const buf = readFileSync(seg0(dir));
    buf[buf.length - 3]! ^= 0x40;
    writeFileSync(seg0(dir), buf);
    await reopenExpecting(dir, want, 9, 9 * frame, frame);
  });

  it('refuses to read past corruption inside a sealed segment (TSDB_ERR_LOG_CORRUPT)', async () => {
    const dir = freshDir();
    const log = await openLog({ dir, segmentBytes: 10 * 65 });
    const want = vals(25, 40);
    for (const v of want) await log.append([{ partition: 0, values: [v] }]);
    await log.close();
    const files = segFiles(dir);
    assert.deepEqual(files, ['00000000000000000000.log', '00000000000000000010.log', '00000000000000000020.log']);
    const path = join(dir, 'p-00000', files[0]!);
    const buf = readFileSync(path);
    buf[4 * frame + FRAME_HEADER_BYTES + 1]! ^= 0xff; // value byte of offset 4
    writeFileSync(path, buf);

    const { logger, lines } = capturingLogger();
    const again = await openLog({ dir, segmentBytes: 10 * 65, logger });
    assert.ok(lines.some((l) => l.msg === 'corrupt record inside a sealed segment; reads will stop there' && l.offset === 4));
    assert.deepEqual(await again.offsets(0), { start: 0, end: 25 });
    const head = await again.read(0, 0);
    assert.deepEqual(head.map((r) => r.offset), [0, 1, 2, 3]);
    await rejectsWith(again.read(0, 4), 'TSDB_ERR_LOG_CORRUPT');
    await rejectsWith(again.read(0, 7), 'TSDB_ERR_LOG_CORRUPT');
    assert.deepEqual((await again.read(0, 10, { maxRecords: 3 })).map((r) => r.offset), [10, 11, 12]);
    assert.equal(statSync(path).size, buf.length, 'a sealed segment must not be truncated');
    await again.close();
  });

  it('detects corruption that appears after open when reading (CRC checked on every read)', async () => {
    const dir = freshDir();
    const log = await openLog({ dir });
    await log.append([{ partition: 0, values: vals(3, 40) }]);
    const buf = readFileSync(seg0(dir));
    buf[frame + FRAME_HEADER_BYTES]! ^= 1;
    writeFileSync(seg0(dir), buf);
    await rejectsWith(log.read(0, 1), 'TSDB_ERR_LOG_CORRUPT');
    assert.deepEqual((await log.read(0, 0)).map((r) => r.offset), [0]);
    await log.close();
  });
});

describe('embedded log: segments and retention', () => {
  const frame = FRAME_HEADER_BYTES + 100;

  it('rolls segments at segmentBytes; reads cross segments; offsets survive reopen', async () => {
    const dir = freshDir();
    const log = await openLog({ dir, segmentBytes: 8 * frame });
    const want = vals(50, 100);
    for (let i = 0; i < want.length; i += 3) await log.append([{ partition: 0, values: want.slice(i, i + 3) }]);
    const files = segFiles(dir);
    assert.ok(files.length >= 7, `expected several segments, got ${files.join(',')}`);
    let expectedBase = 0;
    for (const f of files) {
      assert.equal(Number(f.slice(0, 20)), expectedBase);
      const size = statSync(join(dir, 'p-00000', f)).size;
      assert.ok(size <= 8 * frame, `${f} is ${size} bytes`);
      expectedBase += size / frame;
    }
    assert.equal(expectedBase, 50);
    assert.ok(log.stats.segmentsRolled >= files.length - 1);
    const got = await log.read(0, 5, { maxRecords: 40 });
    assert.deepEqual(got.map((r) => r.offset), Array.from({ length: 40 }, (_, i) => 5 + i));
    await log.close();
    const again = await openLog({ dir, segmentBytes: 8 * frame });
    assert.deepEqual((await readAll(again, 0, 0)).map((r) => r.value.toString('hex')), want.map((b) => b.toString('hex')));
    assert.equal((await again.append([{ partition: 0, values: vals(1, 100) }]))[0]!.baseOffset, 50);
    await again.close();
  });

  it('a batch larger than segmentBytes gets a segment of its own', async () => {
    const dir = freshDir();
    const log = await openLog({ dir, segmentBytes: 2 * frame });
    await log.append([{ partition: 0, values: vals(1, 100) }]);
    await log.append([{ partition: 0, values: vals(5, 100) }]);
    await log.append([{ partition: 0, values: vals(1, 100) }]);
    assert.deepEqual(segFiles(dir), ['00000000000000000000.log', '00000000000000000001.log', '00000000000000000006.log']);
    assert.equal((await readAll(log, 0, 0)).length, 7);
    await log.close();
  });

  it('retention by size deletes whole sealed segments, only below the floor, never the active one', async () => {
    const dir = freshDir();
    const log = await openLog({ dir, partitions: 2, segmentBytes: 4 * frame, retentionBytes: 8 * frame, retentionMs: 1e12 });
    for (let i = 0; i < 10; i++) await log.append([{ partition: 0, values: vals(4, 100) }]);
    assert.equal(segFiles(dir).length, 10);
    // No floor: nothing may go, however far over budget.
    assert.equal(await log.runRetention(), 0);
    assert.deepEqual(await log.offsets(0), { start: 0, end: 40 });

    log.setRetentionFloor(0, 13);
    assert.equal(await log.runRetention(), 3); // segments [0,4) [4,8) [8,12) are wholly below 13
    assert.deepEqual(await log.offsets(0), { start: 12, end: 40 });
    assert.equal(segFiles(dir)[0], '00000000000000000012.log');
    await rejectsWith(log.read(0, 11), 'TSDB_ERR_LOG_OFFSET');
    assert.equal((await log.read(0, 12))[0]!.offset, 12);

    log.setRetentionFloor(0, 1000);
    assert.equal(await log.runRetention(), 5); // down to the 8-frame budget: two segments, the last one active
    assert.deepEqual(await log.offsets(0), { start: 32, end: 40 });
    assert.equal(log.stats.segmentsDeleted, 8);
    await log.close();

    const again = await openLog({ dir, partitions: 2, segmentBytes: 4 * frame });
    assert.deepEqual(await again.offsets(0), { start: 32, end: 40 });
    assert.equal((await again.append([{ partition: 0, values: vals(1, 100) }]))[0]!.baseOffset, 40);
    await again.close();
  });

  it('retention by age uses the newest record of each segment and respects the floor', async () => {
    const dir = freshDir();
    const clock = manualClock(1_000_000);
    const log = await openLog({ dir, clock, segmentBytes: 4 * frame, retentionMs: 10_000 });
    for (let i = 0; i < 6; i++) {
      await log.append([{ partition: 0, values: vals(4, 100) }]);
      clock.advance(5_000);
    }
    // Segment k holds offsets 4k..4k+3 written at 1_000_000 + 5_000k; now is 1_030_000.
    log.setRetentionFloor(0, 24);
    assert.equal(await log.runRetention(), 4); // k=0..3 are older than 10 s; k=4 (age 10 s) is not; k=5 is active
    assert.deepEqual(await log.offsets(0), { start: 16, end: 24 });
    clock.advance(60_000);
    assert.equal(await log.runRetention(), 1);
    assert.deepEqual(await log.offsets(0), { start: 20, end: 24 });

    const records = await log.read(0, 20);
    assert.equal(records[0]!.timestamp, 1_025_000);
    await log.close();
  });

  it('retention on roll: appends past the budget delete segments below the floor by themselves', async () => {
    const dir = freshDir();
    const log = await openLog({ dir, segmentBytes: 4 * frame, retentionBytes: 4 * frame });
    log.setRetentionFloor(0, 1_000_000);
    for (let i = 0; i < 8; i++) await log.append([{ partition: 0, values: vals(4, 100) }]);
    for (let i = 0; i < 50 && segFiles(dir).length > 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(segFiles(dir).length <= 2, segFiles(dir).join(','));
    assert.ok((await log.offsets(0)).start >= 24);
    await log.close();
  });

  it('a read in flight survives retention deleting its segment', async () => {
    const dir = freshDir();
    const log = await openLog({ dir, segmentBytes: 4 * frame, retentionBytes: 1 });
    for (let i = 0; i < 3; i++) await log.append([{ partition: 0, values: vals(4, 100) }]);
    log.setRetentionFloor(0, 12);
    const reading = log.read(0, 0, { maxRecords: 4 });
    const deleting = log.runRetention();
    const [records] = await Promise.all([reading, deleting]);
    assert.deepEqual(records.map((r) => r.offset), [0, 1, 2, 3]);
    await log.close();
  });
});

describe('embedded log: group commit and failures', () => {
  it('coalesces concurrent appends into far fewer fsyncs than appends', async () => {
    const dir = freshDir();
    const log = await openLog({ dir });
    const n = 400;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => log.append([{ partition: 0, values: [Buffer.from(`rec-${i}`)] }])));
    const offsets = results.map((r) => r[0]!.baseOffset).sort((a, b) => a - b);
    assert.deepEqual(offsets, Array.from({ length: n }, (_, i) => i));
    assert.ok(log.stats.fsyncCount < n / 4, `fsyncs ${log.stats.fsyncCount} for ${n} appends`);
    assert.equal(log.stats.fsyncCount, log.stats.writeCount);
    const byOffset = new Map(results.map((r, i) => [r[0]!.baseOffset, `rec-${i}`]));
    for (const rec of await readAll(log, 0, 0)) assert.equal(rec.value.toString(), byOffset.get(rec.offset));
    await log.close();
  });

  it('a multi-partition append that fails on one partition rolls the others back and never exposes them', async () => {
    const dir = freshDir();
    let failP1 = false;
    const log = await openLog({
      dir,
      partitions: 2,
      hooks: {
        beforeWrite: async (p) => {
          if (p === 1 && failP1) {
            await new Promise((r) => setTimeout(r, 30)); // let partition 0 become durable first
            throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
          }
        },
      },
    });
    await log.append([{ partition: 0, values: vals(2, 10, 'a') }]);
    const seen: number[] = [];
    const consumer = log.consume({ onBatch: async (_p, rs) => void seen.push(...rs.map((r) => r.offset)) });
    consumer.assign(0, 0);
    failP1 = true;
    await assert.rejects(
      log.append([{ partition: 0, values: vals(3, 10, 'doomed') }, { partition: 1, values: vals(1, 10) }]),
      (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_LOG_UNAVAILABLE' && e.retriable && /rolled back partitions \[0\]/.test(e.message),
    );
    failP1 = false;
    assert.deepEqual(await log.offsets(0), { start: 0, end: 2 });
    assert.equal(log.stats.rollbacks, 1);
    const [r0, r1] = await log.append([{ partition: 0, values: vals(1, 10, 'b') }, { partition: 1, values: vals(1, 10, 'c') }]);
    assert.equal(r0!.baseOffset, 2);
    assert.equal(r1!.baseOffset, 0);
    for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, [0, 1, 2]);
    assert.deepEqual((await readAll(log, 0, 0)).map((r) => r.value.subarray(0, 2).toString()), ['a0', 'a1', 'b0']);
    await log.close();
    const again = await openLog({ dir, partitions: 2 });
    assert.deepEqual(await again.offsets(0), { start: 0, end: 3 });
    await again.close();
  });

  it('a failed write is retriable: the next append reuses the offsets', async () => {
    const dir = freshDir();
    let fail = 1;
    const log = await openLog({
      dir,
      hooks: {
        beforeWrite: () => {
          if (fail-- > 0) throw new Error('EIO');
        },
      },
    });
    await rejectsWith(log.append([{ partition: 0, values: vals(2, 10) }]), 'TSDB_ERR_LOG_UNAVAILABLE');
    const [r] = await log.append([{ partition: 0, values: vals(1, 10) }]);
    assert.equal(r!.baseOffset, 0);
    assert.deepEqual(await log.offsets(0), { start: 0, end: 1 });
    await log.close();
  });

  it('a failed fdatasync refuses further writes to that partition until reopened', async () => {
    const dir = freshDir();
    let fail = true;
    const log = await openLog({
      dir,
      partitions: 2,
      hooks: {
        beforeFsync: (p) => {
          if (p === 0 && fail) throw new Error('EIO');
        },
      },
    });
    await rejectsWith(log.append([{ partition: 0, values: vals(2, 10) }]), 'TSDB_ERR_LOG_UNAVAILABLE');
    fail = false;
    await rejectsWith(log.append([{ partition: 0, values: vals(1, 10) }]), 'TSDB_ERR_LOG_UNAVAILABLE');
    assert.equal((await log.append([{ partition: 1, values: vals(1, 10) }]))[0]!.baseOffset, 0);
    await log.close();
    const again = await openLog({ dir, partitions: 2 });
    assert.deepEqual(await again.offsets(0), { start: 0, end: 0 });
    assert.equal((await again.append([{ partition: 0, values: vals(1, 10) }]))[0]!.baseOffset, 0);
    await again.close();
  });

  it('close lets queued appends finish and then refuses new ones', async () => {
    const dir = freshDir();
    const log = await openLog({ dir });
    const pending = Array.from({ length: 20 }, () => log.append([{ partition: 0, values: vals(1, 10) }]));
    const closing = log.close();
    await rejectsWith(log.append([{ partition: 0, values: vals(1, 10) }]), 'TSDB_ERR_LOG_CLOSED');
    const results = await Promise.all(pending);
    await closing;
    assert.equal(results.length, 20);
    const again = await openLog({ dir });
    assert.deepEqual(await again.offsets(0), { start: 0, end: 20 });
    await again.close();
  });
});

describe('embedded log: crash durability', () => {
  it('every acknowledged append survives kill -9 of the writing process', async () => {
    const dir = freshDir();
    const logMod = new URL('../../src/log/embedded/index.js', import.meta.url).href;
    const loggerMod = new URL('../../src/common/logger.js', import.meta.url).href;
    const code = `
      import { createEmbeddedLog } from ${JSON.stringify(logMod)};
      import { silentLogger } from ${JSON.stringify(loggerMod)};
      const log = createEmbeddedLog({ dir: ${JSON.stringify(dir)}, partitions: 2, segmentBytes: 4096, logger: silentLogger() });
      await log.open();
      let n = 0;
      const worker = async () => {
        for (;;) {
          const i = n++;
          const [r] = await log.append([{ partition: i % 2, values: [Buffer.from('rec-' + i)] }]);
          process.stdout.write(JSON.stringify([r.partition, r.baseOffset, i]) + '\\n');
        }
      };
      for (let w = 0; w < 16; w++) void worker();
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked: [number, number, number][] = [];
    let buf = '';
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${acked.length} acks before timeout`)), 30_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) acked.push(JSON.parse(l) as [number, number, number]);
        if (acked.length >= 500) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await exited;
    const log = await openLog({ dir, partitions: 2, segmentBytes: 4096 });
    for (const [p, off, i] of acked) {
      const [rec] = await log.read(p, off, { maxRecords: 1 });
      assert.equal(rec?.value.toString(), `rec-${i}`, `acked record ${p}:${off}`);
    }
    for (const p of [0, 1]) {
      const all = await readAll(log, p, 0);
      assert.deepEqual(all.map((r) => r.offset), all.map((_, k) => k), 'offsets stay dense after the crash');
    }
    await log.close();
  });
});
