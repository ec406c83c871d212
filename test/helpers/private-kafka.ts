/**
 * A private, single-node Apache Kafka broker (KRaft, combined broker+controller) on free loopback ports with its
 * own state directory, for tests that stop and restart the broker (a restart of the shared broker of
 * test/helpers/kafka-broker.ts would break every other Kafka test running at the same time).
 *
 * It uses the jars scripts/kafka.mjs keeps in .cache/kafka/libs (`node scripts/kafka.mjs fetch` makes sure they are
 * there) and the same broker settings as that script's single-node cluster. `stop()` is a graceful SIGTERM;
 * `start()` after it is a broker RESTART that keeps the data (same cluster id, same log dir, same ports).
 *
 * Why not scripts/kafka.mjs: it has a fixed state directory (.cache/kafka) and fixed ports (9092/9093), so it cannot
 * run a second, independent broker.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import kafkajs from 'kafkajs';

const ROOT = new URL('../../..', import.meta.url).pathname; // dist/test/helpers -> repo root
const LIBS = join(ROOT, '.cache', 'kafka', 'libs');
const HOST = '127.0.0.1';
// Background jobs of a non-interactive sh read /dev/null, so the watchdog reads the pipe through fd 3.
const WRAPPER = `
exec 3<&0
"$@" 3<&- &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit $?' TERM INT HUP
{ cat <&3 >/dev/null; kill -TERM $pid 2>/dev/null; } &
exec 3<&-
wait $pid
`;

export interface PrivateKafka {
  /** host:port of the broker listener (stable across restarts). */
  readonly bootstrap: string;
  readonly dir: string;
  running(): boolean;
  /** Starts (or restarts) the broker; resolves once it answers Metadata with itself as a broker and a controller. */
  start(timeoutMs?: number): Promise<void>;
  /** Graceful stop (SIGTERM, SIGKILL after 30 s); resolves once the process is gone. */
  stop(): Promise<void>;
  /** The tail of the broker's server.log, for failure messages. */
  logTail(lines?: number): string;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, HOST, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

function properties(dir: string, brokerPort: number, controllerPort: number): string {
  return `# written by test/helpers/private-kafka.ts
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${controllerPort}
listeners=PLAINTEXT://${HOST}:${brokerPort},CONTROLLER://${HOST}:${controllerPort}
advertised.listeners=PLAINTEXT://${HOST}:${brokerPort}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${join(dir, 'data')}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.segment.bytes=67108864
`;
}

function log4j(dir: string): string {
  return `status = warn
name = v3-private-kafka
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${join(dir, 'server.log')}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
`;
}

/** Formats storage under `dir` (which must exist and be private to the caller) and starts the broker. */
export async function startPrivateKafka(dir: string): Promise<PrivateKafka> {
  // The jars: fetched by the project's script when missing (no-op otherwise).
  if (!existsSync(join(LIBS, '.fetched'))) {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'kafka.mjs'), 'fetch'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`node scripts/kafka.mjs fetch failed (${r.status}):\n${r.stderr}`);
  }
  mkdirSync(join(dir, 'data'), { recursive: true });
  const brokerPort = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === brokerPort) controllerPort = await freePort();
  const props = join(dir, 'server.properties');
  writeFileSync(props, properties(dir, brokerPort, controllerPort));
  writeFileSync(join(dir, 'log4j2.properties'), log4j(dir));
  let clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
  const fmt = spawnSync('java', ['-Xmx256m', '-cp', `${LIBS}/*`, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, '--ignore-formatted'], { encoding: 'utf8' });
  if (fmt.status !== 0) throw new Error(`formatting the private broker failed (${fmt.status}):\n${fmt.stdout}${fmt.stderr}`);

  const bootstrap = `${HOST}:${brokerPort}`;
  let child: ChildProcess | undefined;
  const isRunning = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;

  const probe = async (): Promise<boolean> => {
    const admin = new kafkajs.Kafka({ brokers: [bootstrap], clientId: 'v3-private-kafka-probe', logLevel: kafkajs.logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 2000, retry: { retries: 0 } }).admin();
    try {
      await admin.connect();
      const c = await admin.describeCluster();
      return c.brokers.length === 1 && c.controller !== null && c.controller >= 0;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  };

  const me: PrivateKafka = {
    bootstrap,
    dir,
    running: isRunning,
    async start(timeoutMs = 120_000) {
      if (isRunning()) return;
      const out = openSync(join(dir, 'stdout.log'), 'a');
      const java = [
        'java',
        `-Xmx${process.env.TSDB_KAFKA_HEAP ?? '512m'}`,
        '-Xms128m',
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
        `-Dkafka.logs.dir=${dir}`,
        '-cp',
        `${LIBS}/*`,
        'kafka.Kafka',
        props,
      ];
      // A small sh wrapper: SIGTERM to it is a graceful stop of the broker, and when the test process dies in any
      // way (even SIGKILL) its end of the stdin pipe closes and the wrapper stops the broker, so none is leaked.
      const c = spawn('sh', ['-c', WRAPPER, 'private-kafka', ...java], { stdio: ['pipe', out, out], cwd: dir, detached: true });
      closeSync(out);
      child = c;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (!isRunning()) throw new Error(`the private broker exited during start (${c.exitCode ?? c.signalCode}):\n${me.logTail()}`);
        if (await probe()) return;
        if (Date.now() > deadline) throw new Error(`the private broker at ${bootstrap} was not ready within ${timeoutMs} ms:\n${me.logTail()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      const c = child;
      if (c === undefined) return;
      if (isRunning()) {
        const exited = once(c, 'exit');
        c.kill('SIGTERM');
        // The wrapper leads its own process group: a broker that ignores SIGTERM goes with the whole group.
        const timer = setTimeout(() => {
          try {
            process.kill(-c.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 30_000);
        await exited;
        clearTimeout(timer);
      }
      c.stdin?.destroy(); // lets the wrapper's watchdog (cat) end
    },
    logTail(lines = 40) {
      for (const f of ['server.log', 'stdout.log']) {
        try {
          const text = readFileSync(join(dir, f), 'utf8').trim();
          if (text) return text.split('\n').slice(-lines).join('\n');
        } catch {
          /* next */
        }
      }
      return '(no broker log)';
    },
  };
  try {
    await me.start();
  } catch (e) {
    await me.stop();
    throw e;
  }
  return me;
}
