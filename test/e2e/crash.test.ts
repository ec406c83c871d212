import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bits, postJson, query } from '../helpers/http-client.js';
import { rawStoredPoints } from '../helpers/stored-points.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { startServer, waitReady, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('crash safety: kill -9 right after acknowledged writes loses and duplicates nothing', () => {
  const tmp = tempDir('crash');
  const rnd = seededRandom('crash');
  let server: ServerProcess | undefined;
  after(async () => {
    await server?.kill9();
    tmp.cleanup();
  });

  it('every acknowledged point is stored exactly once after repeated kill -9 and restarts', async () => {
    const acked = new Map<string, string>(); // "series key@t" → value bits
    const base = Date.now() - 3_600_000;
    let seq = 0;
    const args = ['--partitions', '4', '--flush-interval', '150ms', '--head-max-points', '5000'];
    server = await startServer(tmp.dir, args);
    const rounds = 6;
    for (let round = 0; round < rounds; round++) {
      const url = server.url;
      let stop = false;
      const writer = async (): Promise<void> => {
        while (!stop) {
          const points = Array.from({ length: rnd.int(1, 300) }, () => {
            const s = rnd.int(0, 39);
            return { metric: 'crash_test', tags: { s: `s${s}` }, timestamp: base + seq++, value: rnd.next() * 1000 - 500 };
          });
          try {
            const r = await postJson(url, { points });
            if (r.status === 200) for (const p of points) acked.set(`crash_test{s="${p.tags.s}"}@${p.timestamp}`, bits(p.value));
          } catch {
            return; // the server died mid-request: this write was not acknowledged
          }
        }
      };
      const writers = Array.from({ length: 4 }, writer);
      await new Promise((r) => setTimeout(r, rnd.int(100, 1200)));
      await server.kill9();
      stop = true;
      await Promise.all(writers);
      server = await startServer(tmp.dir, args);
      await waitReady(server.url);
    }
    // Every acknowledged point is visible to queries after the last restart.
    const ans = await query(server.url, { selector: 'crash_test', start: base, end: base + seq + 1 });
    const visible = new Map<string, string>();
    for (const s of ans.series) for (const [t, v] of s.points) visible.set(`crash_test{s="${s.tags.s}"}@${t}`, bits(v as number));
    for (const [k, v] of acked) assert.equal(visible.get(k), v, `acknowledged point ${k} missing or wrong after restart`);
    // A graceful stop flushes the heads; then the store itself must hold each point exactly once.
    assert.equal(await server.stop(), 0);
    server = undefined;
    const stored = await rawStoredPoints(tmp.dir);
    let dups = 0;
    for (const [k, list] of stored) if (list.length !== 1) dups++;
    assert.equal(dups, 0, `${dups} points stored more than once`);
    for (const [k, v] of acked) assert.deepEqual(stored.get(k), [v], `acknowledged point ${k} not stored exactly once`);
    assert.ok(acked.size > 1000, `the test wrote too little to mean anything (${acked.size} points)`);
    console.log(`# crash test: ${acked.size} acknowledged points, ${stored.size} stored, ${rounds} kills`);
  });
});
