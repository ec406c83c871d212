import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { watch } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { bits, postJson, query, tokenOffsets } from '../helpers/http-client.js';
import { ensureKafka } from '../helpers/kafka-broker.js';
import { rawStoredPoints } from '../helpers/stored-points.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { startServer, waitReady, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 3, "Done when": during sustained ingest, kill -9 the materializer at >= 20 random moments; afterwards every
 * acknowledged point is present exactly once (counts and a checksum of all (series, timestamp, value)).
 *
 * One `--roles ingest` process (never killed) takes continuous writes from several writer loops; a separate
 * `--roles materializer,query` process with its own data dir replays the Kafka topic into its store and is killed
 * with SIGKILL 22 times, restarted each time. How each life ends is seeded: right after it listens (mid-replay), at
 * the moment its store's write-ahead log is written (mid-flush: the flush interval is 150 ms and the head small, so
 * flushes are frequent), or after a random 100-700 ms. Afterwards: every acknowledged point is visible with its
 * exact value bits, and in the raw store (read after a graceful stop) every point appears exactly once, with the
 * count and a sha256 over the sorted "series@t=bits" lines of the acknowledged points equal on both sides.
 */

const METRIC = 'eo_test';
const PARTITIONS = 4;
const KILLS = 22;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


function checksum(lines: string[]): string {
  const h = createHash('sha256');
  for (const l of [...lines].sort()) h.update(l + '\n');
  return h.digest('hex');
}

/** The sum of a Prometheus counter over all label sets (0 when absent). */
function counterSum(text: string, name: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
}

describe('kafka log: exactly-once materialization under repeated kill -9', () => {
  const ingestDir = tempDir('eo-ingest');
  const matDir = tempDir('eo-mat');
  const rnd = seededRandom('kafka-exactly-once');
  const topic = `v3-test-eo-${Date.now()}-${rnd.seed}`;
  let brokers = '';
  let ingest: ServerProcess | undefined;
  let mat: ServerProcess | undefined;

  after(async () => {
    await mat?.kill9();
    await ingest?.kill9();
    ingestDir.cleanup();
    matDir.cleanup();
    if (brokers) {
      const admin = new kafkajs.Kafka({ brokers: brokers.split(','), clientId: 'v3-test-cleanup', logLevel: kafkajs.logLevel.NOTHING }).admin();
      try {
        await admin.connect();
        await admin.deleteTopics({ topics: [topic, `${topic}.dlq`], timeout: 30_000 });
      } catch {
        /* best effort */
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    }
  });

  it(`every acknowledged point is stored exactly once after ${KILLS} kill -9s of the materializer mid-ingest`, { timeout: 240_000 }, async () => {
    const t0 = Date.now();
    brokers = await ensureKafka();
    const logArgs = ['--log', 'kafka', '--kafka-brokers', brokers, '--topic', topic, '--partitions', String(PARTITIONS)];
    const matArgs = [...logArgs, '--roles', 'materializer,query', '--flush-interval', '150ms', '--head-max-points', '1000'];
    ingest = await startServer(ingestDir.dir, [...logArgs, '--roles', 'ingest']);

    // ---- writers: unique (series, timestamp) per point; every acknowledged point and its value bits recorded
    const base = Date.now() - 3_600_000;
    let seq = 0;
    const acked = new Map<string, string>(); // `${METRIC}{s="sN"}@t` → value bits
    const unacked = new Set<string>(); // written but not acknowledged: may or may not be stored (never twice)
    const maxOffset = new Map<number, number>(); // partition → highest acknowledged last offset
    const failures: string[] = [];
    let writes = 0;
    let stopWriters = false;
    const special = [-0, 0, Number.MIN_VALUE, -Number.MAX_VALUE, 1e-310, 2 ** 53 + 2, 0.1];
    const writer = async (): Promise<void> => {
      while (!stopWriters) {
        const points = Array.from({ length: rnd.int(1, 150) }, () => {
          const s = rnd.int(0, 39);
          const value = rnd.next() < 0.05 ? special[rnd.int(0, special.length - 1)]! : (rnd.next() - 0.5) * 10 ** rnd.int(-6, 9);
          return { metric: METRIC, tags: { s: `s${s}` }, timestamp: base + seq++, value };
        });
        const keys = points.map((p) => `${METRIC}{s="${p.tags.s}"}@${p.timestamp}`);
        let r: { status: number; body: any } | undefined;
        try {
          r = await postJson(ingest!.url, { points });
        } catch (e) {
          failures.push(`fetch: ${(e as Error).message}`);
        }
        writes++;
        if (r?.status === 200) {
          points.forEach((p, i) => acked.set(keys[i]!, bits(p.value)));
          for (const [p, o] of tokenOffsets(r.body.token)) maxOffset.set(p, Math.max(maxOffset.get(p) ?? -1, o));
        } else {
          if (r) failures.push(`${r.status}: ${JSON.stringify(r.body).slice(0, 200)}`);
          for (const k of keys) unacked.add(k);
        }
        await sleep(rnd.int(0, 8)); // sustained, not flat out: the 2-core box also runs the broker and the materializer
      }
    };
    const writers = Array.from({ length: 4 }, writer);

    // ---- the materializer: killed at seeded random moments, restarted each time
    let kills = 0;
    let immediate = 0;
    let atStoreWrite = 0;
    let livesThatFlushed = 0;
    let probed = 0;
    let appliedBefore = -1;
    let progressed = 0;
    try {
      // How each life ends, in a seeded order: right after start, at a store write, or after a random delay
      // (half of those after a look at /metrics).
      const modes: Array<'immediate' | 'store-write' | 'probe' | 'delay'> = [];
      for (let i = 0; i < KILLS; i++) modes.push(i < 5 ? 'immediate' : i < 14 ? 'store-write' : i < 18 ? 'probe' : 'delay');
      for (let i = modes.length - 1; i > 0; i--) {
        const j = rnd.int(0, i);
        [modes[i], modes[j]] = [modes[j]!, modes[i]!];
      }
      for (const mode of modes) {
        mat = await startServer(matDir.dir, matArgs);
        if (mode === 'immediate') {
          immediate++; // right after it listens: in the middle of loading / the first fetches and flushes of its replay
        } else if (mode === 'store-write') {
          // Mid-flush: the moment the store's write-ahead log is written to (a flush's batch), kill it.
          await sleep(rnd.int(50, 500));
          const child = mat.child;
          const watcher = watch(join(matDir.dir, 'store'));
          const hit = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), 1500);
            watcher.on('change', (_e, file) => {
              if (!String(file).endsWith('.log')) return;
              child.kill('SIGKILL');
              clearTimeout(timer);
              resolve(true);
            });
          });
          watcher.close();
          if (hit) atStoreWrite++;
        } else {
          await sleep(mode === 'probe' ? rnd.int(300, 700) : rnd.int(100, 700));
          if (mode === 'probe') {
            // Look before killing (some lives): did this life flush, and did the applied offsets move on?
            const text = await fetch(`${mat.url}/metrics`, { signal: AbortSignal.timeout(2000) })
              .then((res) => res.text())
              .catch(() => '');
            if (text) {
              probed++;
              if (counterSum(text, 'tsdb_materializer_flushes_total') > 0) livesThatFlushed++;
              const applied = text
                .split('\n')
                .filter((l) => l.startsWith('tsdb_materializer_applied_offset{'))
                .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
              if (applied > appliedBefore) progressed++;
              appliedBefore = Math.max(appliedBefore, applied);
            }
          }
        }
        assert.ok(mat.child.exitCode === null, `the materializer exited by itself:\n${mat.output()}`);
        await mat.kill9();
        kills++;
        mat = undefined;
        if (rnd.next() < 0.3) await sleep(rnd.int(0, 400)); // sometimes the log runs ahead while nobody materializes
      }
    } finally {
      stopWriters = true;
      await Promise.all(writers);
    }
    const writeSeconds = (Date.now() - t0) / 1000;
    assert.equal(ingest.child.exitCode, null, 'the ingest process (never killed) died');

    // ---- one last restart: it must catch up with everything acknowledged
    mat = await startServer(matDir.dir, matArgs);
    const token = `w1.${[...maxOffset].map(([p, o]) => `${p}-${o}`).join('.')}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`${mat.url}/api/v1/query?${new URLSearchParams({ selector: METRIC, start: '0', end: '1', after: token })}`);
      if (res.status === 200) break;
      const body = await res.text();
      assert.equal(res.status, 503, `waiting for ${token}: ${body}`);
      assert.ok(Date.now() < deadline, `the materializer did not apply ${token} within 60 s: ${body}\n${mat.output()}`);
    }
    await waitReady(mat.url);

    // Every acknowledged point is visible with its exact value bits (and nothing that was never written is).
    const ans = await query(mat.url, { selector: METRIC, start: base, end: base + seq + 1 });
    assert.equal(ans.partial, false, `partial answer, missing partitions ${ans.missing}`);
    const visible = new Map<string, string>();
    for (const s of ans.series) for (const [t, v] of s.points) visible.set(`${METRIC}{s="${s.tags.s}"}@${t}`, bits(v as number));
    let missing = 0;
    let wrong = 0;
    for (const [k, v] of acked) {
      const got = visible.get(k);
      if (got === undefined) missing++;
      else if (got !== v) wrong++;
    }
    assert.equal(missing, 0, `${missing} acknowledged points are not visible to queries`);
    assert.equal(wrong, 0, `${wrong} acknowledged points are visible with other value bits`);
    const phantoms = [...visible.keys()].filter((k) => !acked.has(k) && !unacked.has(k));
    assert.deepEqual(phantoms.slice(0, 5), [], `${phantoms.length} visible points were never written`);

    // A graceful stop flushes the head; then the store must hold every point exactly once.
    assert.equal(await mat.stop(), 0, `graceful stop failed:\n${mat.output()}`);
    mat = undefined;
    const stored = await rawStoredPoints(matDir.dir);
    const dups = [...stored].filter(([, list]) => list.length !== 1);
    assert.deepEqual(
      dups.slice(0, 5).map(([k, list]) => `${k} ×${list.length}`),
      [],
      `${dups.length} points are stored more than once (unacknowledged ones included)`,
    );
    const strays = [...stored.keys()].filter((k) => !acked.has(k) && !unacked.has(k));
    assert.deepEqual(strays.slice(0, 5), [], `${strays.length} stored points were never written`);

    const ackedLines = [...acked].map(([k, v]) => `${k}=${v}`);
    const storedLines: string[] = [];
    for (const k of acked.keys()) for (const v of stored.get(k) ?? []) storedLines.push(`${k}=${v}`);
    const ackedSum = checksum(ackedLines);
    const storedSum = checksum(storedLines);
    assert.equal(storedLines.length, ackedLines.length, `stored ${storedLines.length} of ${ackedLines.length} acknowledged points`);
    assert.equal(storedSum, ackedSum, 'checksum of stored (series, timestamp, value) differs from the acknowledged one');

    // The run must have meant something.
    assert.ok(kills >= 20, `only ${kills} kills`);
    assert.ok(acked.size > 20_000, `the test wrote too little to mean anything (${acked.size} acknowledged points)`);
    assert.ok(atStoreWrite >= 6, `only ${atStoreWrite} kills landed on a store write (flush)`);
    assert.ok(livesThatFlushed >= 2, `only ${livesThatFlushed} of ${probed} probed lives flushed before being killed: the kills did not hit a working materializer`);
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(
      `# kafka exactly-once: ${acked.size} acknowledged points (${writes} writes, ${failures.length} not acknowledged, ${unacked.size} unacknowledged points, ` +
        `${stored.size} stored), ${kills} kills (${immediate} right after start, ${atStoreWrite} at a store write; ${livesThatFlushed}/${probed} probed lives had flushed, ${progressed} had progressed), ` +
        `writing ${writeSeconds.toFixed(1)} s, total ${seconds} s, sha256 ${ackedSum.slice(0, 16)}`,
    );
    if (failures.length > 0) console.log(`# first failures: ${failures.slice(0, 3).join(' | ')}`);
  });
});
