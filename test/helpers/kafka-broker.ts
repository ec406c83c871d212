/**
 * A real Kafka broker for tests. `ensureKafka()` returns the bootstrap list: `TSDB_TEST_KAFKA` when set (it must be
 * reachable; nothing is started for it), otherwise 127.0.0.1:9092, starting the project's own broker
 * (`node scripts/kafka.mjs start --started-by tests`) when nothing answers there. The script is idempotent and
 * serialised by a lock, so concurrent test processes may all call this.
 *
 * Stopping: a broker started here is left running for the other test files of the run (one start instead of one
 * per file); the runner stops it at the end with `node scripts/kafka.mjs stop --if-started-by tests`
 * (`stopKafkaIfStartedByTests()`), which leaves alone a broker a developer started by hand.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { createLogger } from '../../src/common/logger.js';
import { createKafkaLog, type KafkaLogOptions } from '../../src/log/kafka/index.js';
import type { PartitionedLog } from '../../src/log/types.js';
import type { LogFactory } from '../contracts/log.contract.js';

export const DEFAULT_TEST_KAFKA = '127.0.0.1:9092';
const ROOT = new URL('../../..', import.meta.url).pathname; // dist/test/helpers -> repo root
const SCRIPT = join(ROOT, 'scripts', 'kafka.mjs');
const LOCK = join(ROOT, '.cache', 'kafka', 'start.lock');

function reachable(hostPort: string, timeoutMs = 1000): Promise<boolean> {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i);
  const port = Number(hostPort.slice(i + 1));
  return new Promise((res) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      res(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function runScript(args: string[], timeoutMs: number): Promise<void> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.once('error', rej);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) res();
      else rej(new Error(`node scripts/kafka.mjs ${args.join(' ')} exited with ${code}:\n${err}`));
    });
  });
}

let ensured: Promise<string> | undefined;

/** The bootstrap brokers of a ready Kafka (comma-separated host:port). */
export function ensureKafka(): Promise<string> {
  ensured ??= (async () => {
    const configured = process.env.TSDB_TEST_KAFKA;
    const brokers = configured ?? DEFAULT_TEST_KAFKA;
    const first = brokers.split(',')[0]!;
    if (configured !== undefined && configured !== DEFAULT_TEST_KAFKA) {
      if (!(await reachable(first))) throw new Error(`TSDB_TEST_KAFKA=${configured} does not answer`);
      return brokers;
    }
    // Something answers and nobody is starting our broker right now: use it as it is.
    if ((await reachable(first)) && !existsSync(LOCK)) return brokers;
    await runScript(['start', '--brokers', '1', '--started-by', 'tests'], 240_000);
    return brokers;
  })();
  ensured.catch(() => {
    ensured = undefined;
  });
  return ensured;
}

/** Stops the broker only if ensureKafka() (of any process) started it. For the test runner's end. */
export async function stopKafkaIfStartedByTests(): Promise<void> {
  await runScript(['stop', '--if-started-by', 'tests'], 120_000);
}

/** A LogFactory for the log contract: one fresh topic per `dir`, deleted by cleanup(). */
export function kafkaLogFactory(extra: Partial<KafkaLogOptions> = {}): LogFactory {
  const topics = new Map<string, string>();
  let n = 0;
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const logger = createLogger({ name: 'kafka-log-test', level: process.env.TSDB_TEST_LOG_LEVEL ?? 'silent' });
  return {
    async create({ partitions, dir }): Promise<PartitionedLog> {
      const brokers = (await ensureKafka()).split(',');
      let topic = topics.get(dir);
      if (topic === undefined) {
        topic = `v3-test-${run}-${n++}`;
        topics.set(dir, topic);
      }
      return createKafkaLog({ brokers, topic, partitions, logger, clientId: 'v3-test', ...extra });
    },
    async cleanup(): Promise<void> {
      if (topics.size === 0) return;
      const admin = new kafkajs.Kafka({ brokers: (await ensureKafka()).split(','), clientId: 'v3-test-cleanup', logLevel: kafkajs.logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        await admin.deleteTopics({ topics: [...topics.values()], timeout: 30_000 });
      } finally {
        await admin.disconnect();
      }
    },
  };
}
