#!/usr/bin/env node
// A real Apache Kafka broker (KRaft, 4.x) on loopback for tests and local use. No npm dependencies.
//
//   node scripts/kafka.mjs start [--brokers 1|3] [--fresh] [--timeout SECONDS] [--started-by NAME]
//   node scripts/kafka.mjs stop [--if-started-by NAME]
//   node scripts/kafka.mjs status [--json]
//   node scripts/kafka.mjs fetch          (only make sure the jars are in .cache/kafka/libs)
//
// Jars: deploy/kafka/pom.xml copies org.apache.kafka:kafka_2.13 and its runtime dependencies into .cache/kafka/libs
// (`mvn -q -f deploy/kafka/pom.xml dependency:copy-dependencies`). That runs only when the jars are missing or the pom
// changed (a marker holds the pom's hash), so once fetched everything works offline.
//
// Nodes run in combined mode (process.roles=broker,controller) with a static controller quorum:
//   1 node:  broker 127.0.0.1:9092, controller 9093
//   3 nodes: brokers 9092/9094/9096, controllers 9093/9095/9097 (a quorum of three)
// State lives in .cache/kafka/<node id>/ (server.properties, log4j2.properties, data/, server.log, stdout.log,
// kafka.pid); .cache/kafka/cluster.json records the cluster id and size. Data survives stop/start; `--fresh`, or
// starting with a different --brokers count, wipes and reformats it.
//
// `start` is idempotent (a running cluster of the same size is left alone) and serialised by a lock file, so
// concurrent test processes may all call it. It returns once every broker answers a Metadata request listing all
// brokers (i.e. the brokers are registered, unfenced and serving requests).
// `--started-by NAME` leaves a marker; `stop --if-started-by NAME` stops the cluster only when that marker is there
// (so a test run stops only a broker it started itself, never one a developer started by hand).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const POM = join(ROOT, 'deploy', 'kafka', 'pom.xml');
const HOME = join(ROOT, '.cache', 'kafka');
const LIBS = join(HOME, 'libs');
const LIBS_MARKER = join(LIBS, '.fetched');
const CLUSTER_FILE = join(HOME, 'cluster.json');
const LOCK = join(HOME, 'start.lock');
const STARTED_BY = join(HOME, 'started-by');
const HOST = '127.0.0.1';
const MAIN_CLASS = 'kafka.Kafka';
const STORAGE_TOOL = 'kafka.tools.StorageTool';
const HEAP = process.env.TSDB_KAFKA_HEAP ?? '512m';

const brokerPort = (id) => 9092 + 2 * (id - 1);
const controllerPort = (id) => 9093 + 2 * (id - 1);
const nodeDir = (id) => join(HOME, String(id));
const pidFile = (id) => join(nodeDir(id), 'kafka.pid');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function log(msg) {
  process.stderr.write(`kafka: ${msg}\n`);
}

function fail(msg, code = 1) {
  log(msg);
  process.exit(code);
}

function parseArgs(argv) {
  const [cmd, ...rest] = argv;
  const opts = { cmd, brokers: 1, fresh: false, timeoutS: 120, json: false, startedBy: undefined, ifStartedBy: undefined };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const next = () => {
      const v = rest[++i];
      if (v === undefined) fail(`${a} needs a value`, 2);
      return v;
    };
    if (a === '--brokers') opts.brokers = Number(next());
    else if (a === '--fresh') opts.fresh = true;
    else if (a === '--timeout') opts.timeoutS = Number(next());
    else if (a === '--json') opts.json = true;
    else if (a === '--started-by') opts.startedBy = next();
    else if (a === '--if-started-by') opts.ifStartedBy = next();
    else fail(`unknown option ${a}`, 2);
  }
  if (opts.brokers !== 1 && opts.brokers !== 3) fail(`--brokers must be 1 or 3, got ${opts.brokers}`, 2);
  if (!(opts.timeoutS > 0)) fail('--timeout must be a positive number of seconds', 2);
  return opts;
}

// ---------------------------------------------------------------------------------------------------------------
// jars

function pomHash() {
  return createHash('sha256').update(readFileSync(POM)).digest('hex');
}

function jarsPresent() {
  if (!existsSync(LIBS_MARKER)) return false;
  if (readFileSync(LIBS_MARKER, 'utf8').trim() !== pomHash()) return false;
  return readdirSync(LIBS).some((f) => /^kafka_2\.13-.*\.jar$/.test(f));
}

function ensureJars() {
  if (jarsPresent()) return;
  log(`fetching broker jars with maven (deploy/kafka/pom.xml -> .cache/kafka/libs)`);
  const t0 = Date.now();
  rmSync(LIBS, { recursive: true, force: true }); // a changed pom must not leave jars of another version behind
  mkdirSync(LIBS, { recursive: true });
  const r = spawnSync('mvn', ['-q', '-B', '-Dstyle.color=never', '-f', POM, 'dependency:copy-dependencies'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) fail(`cannot run mvn (is Maven installed?): ${r.error.message}`);
  if (r.status !== 0) fail(`mvn exited with ${r.status}; the jars could not be fetched`);
  if (!readdirSync(LIBS).some((f) => /^kafka_2\.13-.*\.jar$/.test(f))) fail('mvn finished but no kafka_2.13 jar is in .cache/kafka/libs');
  writeFileSync(LIBS_MARKER, pomHash() + '\n');
  log(`jars fetched in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------------------------------------------------------
// processes

function readPid(id) {
  try {
    const pid = Number(readFileSync(pidFile(id), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid) {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return e.code === 'EPERM';
  }
  // A zombie or a recycled pid that is not ours: check the command line where /proc exists.
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(MAIN_CLASS);
  } catch {
    return true;
  }
}

function knownNodes() {
  if (!existsSync(HOME)) return [];
  return readdirSync(HOME)
    .filter((n) => /^[0-9]+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

function runningNodes() {
  return knownNodes()
    .map((id) => ({ id, pid: readPid(id) }))
    .filter((n) => alive(n.pid));
}

function readCluster() {
  try {
    return JSON.parse(readFileSync(CLUSTER_FILE, 'utf8'));
  } catch {
    return undefined;
  }
}

function portOpen(port, host = HOST, timeoutMs = 500) {
  return new Promise((res) => {
    const s = connect({ port, host });
    const done = (ok) => {
      s.destroy();
      res(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// a dependency-free readiness probe: Kafka Metadata request v4 (no topics) -> brokers and controller id

function metadataProbe(port, timeoutMs = 2000) {
  return new Promise((res) => {
    const clientId = Buffer.from('v3-kafka-script');
    const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
    let o = 0;
    o = body.writeInt16BE(3, o); // api key: Metadata
    o = body.writeInt16BE(4, o); // api version 4 (v0-v3 are gone in Kafka 4)
    o = body.writeInt32BE(7, o); // correlation id
    o = body.writeInt16BE(clientId.length, o);
    o += clientId.copy(body, o);
    o = body.writeInt32BE(0, o); // topics: empty array = none
    body.writeInt8(0, o); // allow_auto_topic_creation = false
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0]), body]);
    frame.writeInt32BE(body.length, 0);

    let chunks = Buffer.alloc(0);
    const s = connect({ port, host: HOST });
    const done = (v) => {
      s.destroy();
      res(v);
    };
    s.setTimeout(timeoutMs, () => done(undefined));
    s.once('error', () => done(undefined));
    s.once('connect', () => s.write(frame));
    s.on('data', (d) => {
      chunks = Buffer.concat([chunks, d]);
      if (chunks.length < 4 || chunks.length < 4 + chunks.readInt32BE(0)) return;
      try {
        let p = 4;
        const corr = chunks.readInt32BE(p);
        p += 4;
        if (corr !== 7) return done(undefined);
        p += 4; // throttle_time_ms
        const n = chunks.readInt32BE(p);
        p += 4;
        const brokers = [];
        for (let i = 0; i < n; i++) {
          const nodeId = chunks.readInt32BE(p);
          p += 4;
          const hl = chunks.readInt16BE(p);
          p += 2;
          const host = chunks.toString('utf8', p, p + hl);
          p += hl;
          const bport = chunks.readInt32BE(p);
          p += 4;
          const rl = chunks.readInt16BE(p);
          p += 2 + Math.max(rl, 0);
          brokers.push({ nodeId, host, port: bport });
        }
        const cl = chunks.readInt16BE(p);
        p += 2;
        const clusterId = cl >= 0 ? chunks.toString('utf8', p, p + cl) : null;
        p += Math.max(cl, 0);
        const controllerId = chunks.readInt32BE(p);
        done({ brokers, clusterId, controllerId });
      } catch {
        done(undefined);
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// configuration

function clusterIdNew() {
  // A Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function serverProperties(id, n) {
  const voters = Array.from({ length: n }, (_, i) => `${i + 1}@${HOST}:${controllerPort(i + 1)}`).join(',');
  const rf = n === 1 ? 1 : 3;
  const minIsr = n === 1 ? 1 : 2;
  return `# written by scripts/kafka.mjs; rewritten on every start
process.roles=broker,controller
node.id=${id}
controller.quorum.voters=${voters}
listeners=PLAINTEXT://${HOST}:${brokerPort(id)},CONTROLLER://${HOST}:${controllerPort(id)}
advertised.listeners=PLAINTEXT://${HOST}:${brokerPort(id)}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${join(nodeDir(id), 'data')}

# test-friendly defaults
num.partitions=1
default.replication.factor=${rf}
min.insync.replicas=1
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=${rf}
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=${rf}
transaction.state.log.min.isr=${minIsr}
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=${rf}
share.coordinator.state.topic.min.isr=${minIsr}
# records of up to 16 MiB per batch (the log appends one batch per partition per call)
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
# a dead node is fenced (and its partitions move) after this, instead of the default 9 s
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=67108864
log.index.size.max.bytes=1048576
log.retention.check.interval.ms=60000
`;
}

function log4jProperties(id) {
  return `# written by scripts/kafka.mjs
status = warn
name = v3-kafka-${id}
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = ${join(nodeDir(id), 'server.log')}
appender.file.filePattern = ${join(nodeDir(id), 'server.log.%i')}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
`;
}

function classpath() {
  return `${LIBS}/*`;
}

function format(id, clusterId) {
  // Formatting starts a JVM (~1-2 s); nodes are formatted in parallel.
  return new Promise((res) => {
    const child = spawn('java', ['-Xmx256m', '-cp', classpath(), STORAGE_TOOL, 'format', '-t', clusterId, '-c', join(nodeDir(id), 'server.properties'), '--ignore-formatted'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', (e) => fail(`cannot run java: ${e.message}`));
    child.once('exit', (code) => {
      if (code !== 0) fail(`formatting node ${id} failed (exit ${code}):\n${out}`);
      res();
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// lock (start is serialised across processes)

async function withLock(timeoutMs, fn) {
  mkdirSync(HOME, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let fd;
  for (;;) {
    try {
      fd = openSync(LOCK, 'wx');
      writeFileSync(fd, String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let holder;
      try {
        holder = Number(readFileSync(LOCK, 'utf8'));
      } catch {
        holder = undefined;
      }
      let holderAlive = false;
      if (Number.isInteger(holder) && holder > 0) {
        try {
          process.kill(holder, 0);
          holderAlive = true;
        } catch (err) {
          holderAlive = err.code === 'EPERM';
        }
      } else {
        // Being written right now, or garbage: stale if old.
        try {
          holderAlive = Date.now() - statSync(LOCK).mtimeMs < 5000;
        } catch {
          holderAlive = false;
        }
      }
      if (!holderAlive) {
        try {
          unlinkSync(LOCK);
        } catch {
          /* someone else removed it */
        }
        continue;
      }
      if (Date.now() > deadline) fail(`another process (${holder}) holds ${LOCK}`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    closeSync(fd);
    try {
      unlinkSync(LOCK);
    } catch {
      /* ignore */
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// commands

async function waitReady(n, procs, deadline) {
  const ports = Array.from({ length: n }, (_, i) => brokerPort(i + 1));
  for (;;) {
    for (const p of procs) {
      if (p.exited) {
        const tail = tailOf(join(nodeDir(p.id), 'server.log'), 40) || tailOf(join(nodeDir(p.id), 'stdout.log'), 40);
        throw new Error(`node ${p.id} exited with ${p.exited} during start; last lines of its log:\n${tail}`);
      }
    }
    const probes = await Promise.all(ports.map((port) => metadataProbe(port)));
    if (probes.every((m) => m && m.brokers.length === n && m.controllerId >= 0)) return probes[0];
    if (Date.now() > deadline) {
      const seen = probes.map((m, i) => `${ports[i]}: ${m ? `${m.brokers.length} brokers, controller ${m.controllerId}` : 'no answer'}`).join('; ');
      throw new Error(`brokers not ready before the timeout (${seen}); see .cache/kafka/<id>/server.log`);
    }
    await sleep(200);
  }
}

function tailOf(path, lines) {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function start(opts) {
  const t0 = Date.now();
  const n = opts.brokers;
  await withLock(opts.timeoutS * 1000, async () => {
    const running = runningNodes();
    const cluster = readCluster();
    const sameCluster = cluster?.brokers === n && !opts.fresh;
    if (running.length > 0) {
      if (sameCluster && running.length === n) {
        const m = await metadataProbe(brokerPort(1));
        if (!(m && m.brokers.length === n)) {
          // Started by someone who has not finished waiting (or still recovering): wait like a fresh start would.
          await waitReady(n, [], Date.now() + opts.timeoutS * 1000).catch((e) => fail(e.message));
        }
        log(`already running: ${n} broker(s) at ${bootstrap(n)}`);
        return;
      }
      if (!sameCluster) {
        fail(`a cluster of ${cluster?.brokers ?? '?'} node(s) is running (pids ${running.map((r) => r.pid).join(', ')}); run 'node scripts/kafka.mjs stop' first`);
      }
      // Same cluster with nodes missing (e.g. one killed by a failover test): start only those.
      log(`restarting node(s) ${Array.from({ length: n }, (_, i) => i + 1).filter((id) => !running.some((r) => r.id === id)).join(', ')} of the running cluster`);
    }
    const toStart = Array.from({ length: n }, (_, i) => i + 1).filter((id) => !running.some((r) => r.id === id));

    for (const id of toStart) {
      for (const port of [brokerPort(id), controllerPort(id)]) {
        if (await portOpen(port)) fail(`port ${HOST}:${port} is already in use by another process (not a broker this script started)`);
      }
    }

    ensureJars();

    let clusterId = cluster?.clusterId;
    if (opts.fresh || !cluster || cluster.brokers !== n) {
      if (cluster && cluster.brokers !== n) log(`the cached cluster had ${cluster.brokers} node(s); reformatting for ${n}`);
      for (const id of knownNodes()) rmSync(nodeDir(id), { recursive: true, force: true });
      rmSync(CLUSTER_FILE, { force: true });
      clusterId = clusterIdNew();
    }
    const formats = [];
    for (let id = 1; id <= n; id++) {
      mkdirSync(join(nodeDir(id), 'data'), { recursive: true });
      writeFileSync(join(nodeDir(id), 'server.properties'), serverProperties(id, n));
      writeFileSync(join(nodeDir(id), 'log4j2.properties'), log4jProperties(id));
      if (!existsSync(join(nodeDir(id), 'data', 'meta.properties'))) formats.push(format(id, clusterId));
    }
    await Promise.all(formats);
    writeFileSync(CLUSTER_FILE, JSON.stringify({ brokers: n, clusterId, bootstrap: bootstrap(n) }, null, 2) + '\n');

    const procs = [];
    for (const id of toStart) {
      const out = openSync(join(nodeDir(id), 'stdout.log'), 'a');
      const child = spawn(
        'java',
        [
          `-Xmx${HEAP}`,
          '-Xms128m',
          '-XX:+UseG1GC',
          '-XX:MaxGCPauseMillis=20',
          '-XX:+ExitOnOutOfMemoryError',
          '-Djava.awt.headless=true',
          `-Dlog4j2.configurationFile=${join(nodeDir(id), 'log4j2.properties')}`,
          `-Dkafka.logs.dir=${nodeDir(id)}`,
          '-cp',
          classpath(),
          MAIN_CLASS,
          join(nodeDir(id), 'server.properties'),
        ],
        { detached: true, stdio: ['ignore', out, out], cwd: nodeDir(id) },
      );
      closeSync(out);
      const proc = { id, pid: child.pid, exited: undefined };
      child.once('exit', (code, signal) => {
        proc.exited = signal ?? code ?? 'unknown';
      });
      child.once('error', (e) => {
        proc.exited = `a spawn error (${e.message}; is java 17+ on PATH?)`;
      });
      child.unref();
      writeFileSync(pidFile(id), `${child.pid}\n`);
      procs.push(proc);
    }
    if (running.length === 0) {
      if (opts.startedBy) writeFileSync(STARTED_BY, `${opts.startedBy}\n`);
      else rmSync(STARTED_BY, { force: true });
    }

    try {
      await waitReady(n, procs, Date.now() + opts.timeoutS * 1000);
    } catch (e) {
      log(e.message);
      await stopNodes(procs.map((p) => ({ id: p.id, pid: p.pid })));
      process.exit(1);
    }
    log(`${n} broker(s) ready at ${bootstrap(n)} in ${((Date.now() - t0) / 1000).toFixed(1)} s (cluster ${clusterId})`);
  });
  process.stdout.write(`${bootstrap(n)}\n`);
}

function bootstrap(n) {
  return Array.from({ length: n }, (_, i) => `${HOST}:${brokerPort(i + 1)}`).join(',');
}

async function stopNodes(nodes, graceMs = 30_000) {
  const live = nodes.filter((n) => alive(n.pid));
  for (const n of live) {
    try {
      process.kill(n.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + graceMs;
  while (live.some((n) => alive(n.pid)) && Date.now() < deadline) await sleep(100);
  for (const n of live.filter((x) => alive(x.pid))) {
    log(`node ${n.id} (pid ${n.pid}) ignored SIGTERM for ${graceMs / 1000} s; killing it`);
    try {
      process.kill(n.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  while (live.some((n) => alive(n.pid))) await sleep(50);
  for (const n of nodes) rmSync(pidFile(n.id), { force: true });
}

async function stop(opts) {
  if (opts.ifStartedBy !== undefined) {
    let by;
    try {
      by = readFileSync(STARTED_BY, 'utf8').trim();
    } catch {
      by = undefined;
    }
    if (by !== opts.ifStartedBy) {
      log(`not stopping: the cluster was not started by '${opts.ifStartedBy}'`);
      return;
    }
  }
  const t0 = Date.now();
  const nodes = knownNodes().map((id) => ({ id, pid: readPid(id) }));
  const live = nodes.filter((n) => alive(n.pid));
  await stopNodes(nodes);
  rmSync(STARTED_BY, { force: true });
  log(live.length === 0 ? 'not running' : `stopped ${live.length} node(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

async function status(opts) {
  const cluster = readCluster();
  const nodes = await Promise.all(
    knownNodes().map(async (id) => {
      const pid = readPid(id);
      const running = alive(pid);
      const m = running ? await metadataProbe(brokerPort(id)) : undefined;
      return { id, pid: running ? pid : null, running, broker: `${HOST}:${brokerPort(id)}`, ready: !!m, brokersSeen: m?.brokers.length ?? 0 };
    }),
  );
  const running = nodes.filter((n) => n.running);
  const ready = cluster !== undefined && running.length === cluster.brokers && nodes.every((n) => !n.running || n.brokersSeen === cluster.brokers);
  const result = { running: running.length > 0, ready, brokers: cluster?.brokers ?? 0, bootstrap: cluster?.bootstrap ?? null, clusterId: cluster?.clusterId ?? null, nodes };
  if (opts.json) process.stdout.write(JSON.stringify(result) + '\n');
  else if (running.length === 0) process.stdout.write('kafka: not running\n');
  else {
    process.stdout.write(`kafka: ${ready ? 'ready' : 'NOT ready'}, ${running.length}/${cluster?.brokers ?? '?'} node(s) running, bootstrap ${result.bootstrap}\n`);
    for (const n of nodes) process.stdout.write(`  node ${n.id}: ${n.running ? `pid ${n.pid}, ${n.broker}, ${n.ready ? `sees ${n.brokersSeen} broker(s)` : 'not answering'}` : 'stopped'}\n`);
  }
  process.exitCode = ready ? 0 : 3;
}

const opts = parseArgs(process.argv.slice(2));
switch (opts.cmd) {
  case 'start':
    await start(opts);
    break;
  case 'stop':
    await stop(opts);
    break;
  case 'status':
    await status(opts);
    break;
  case 'fetch':
    ensureJars();
    break;
  default:
    fail('usage: node scripts/kafka.mjs start [--brokers 1|3] [--fresh] [--timeout S] [--started-by NAME] | stop [--if-started-by NAME] | status [--json] | fetch', 2);
}
