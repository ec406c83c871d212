import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { detectStoreBackend } from '../../src/store/open-store.js';
import { bits, postJson, query } from '../helpers/http-client.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { startServer, waitReady, type ServerProcess } from '../helpers/server-process.js';
import { rawStoredPoints } from '../helpers/stored-points.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('--store-backend rocksdb: a node writes, restarts (graceful and kill -9) and reads back the same points', () => {
  const tmp = tempDir('rocks-e2e');
  const rnd = seededRandom('rocksdb-backend');
  const args = ['--partitions', '4', '--flush-interval', '150ms', '--store-backend', 'rocksdb'];
  const base = Date.now() - 3_600_000;
  const sent = new Map<string, string>(); // 'rocks_e2e{s="sN"}@t' → value bits
  let seq = 0;
  let server: ServerProcess | undefined;
  after(async () => {
    await server?.kill9();
    tmp.cleanup();
  });

  const write = async (url: string, requests: number): Promise<string> => {
    let token = '';
    for (let r = 0; r < requests; r++) {
      const points = Array.from({ length: 250 }, () => {
        const s = rnd.int(0, 19);
        return { metric: 'rocks_e2e', tags: { s: `s${s}` }, timestamp: base + seq++ * 7, value: rnd.next() < 0.3 ? rnd.int(0, 5) : rnd.next() * 2000 - 1000 };
      });
      const res = await postJson(url, { points });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      for (const p of points) sent.set(`rocks_e2e{s="${p.tags.s}"}@${p.timestamp}`, bits(p.value));
      token = res.body.token as string;
    }
    return token;
  };

  const assertAllVisible = async (url: string, token: string): Promise<void> => {
    const ans = await query(url, { selector: 'rocks_e2e', start: base, end: base + seq * 7 + 1, after: token });
    assert.equal(ans.partial, false);
    const got = new Map<string, string>();
    for (const s of ans.series) for (const [t, v] of s.points) got.set(`rocks_e2e{s="${s.tags.s}"}@${t}`, bits(v as number));
    assert.equal(got.size, sent.size, 'every point comes back, none extra');
    for (const [k, v] of sent) assert.equal(got.get(k), v, k);
  };

  const assertStoredOnce = async (): Promise<void> => {
    assert.equal(detectStoreBackend(join(tmp.dir, 'store')), 'rocksdb');
    const stored = await rawStoredPoints(tmp.dir);
    assert.equal(stored.size, sent.size, 'the RocksDB store holds every point after a graceful stop');
    for (const [k, v] of sent) assert.deepEqual(stored.get(k), [v], `${k} stored exactly once`);
  };

  it('graceful stop flushes every point into RocksDB; a restart reads them back', async () => {
    server = await startServer(tmp.dir, args);
    const token = await write(server.url, 8);
    await assertAllVisible(server.url, token);
    assert.equal(await server.stop(), 0);
    server = undefined;
    await assertStoredOnce();
    // The env twin selects the backend as well.
    server = await startServer(tmp.dir, ['--partitions', '4'], { TSDB_STORE_BACKEND: 'rocksdb' });
    await waitReady(server.url);
    await assertAllVisible(server.url, token);
  });

  it('kill -9 after acknowledged writes: the restart replays onto the RocksDB store without loss or duplicates', async () => {
    assert.ok(server);
    const token = await write(server.url, 6);
    await new Promise((r) => setTimeout(r, 400)); // let some flushes land in RocksDB before the kill
    await server.kill9();
    server = await startServer(tmp.dir, args);
    await waitReady(server.url);
    await assertAllVisible(server.url, token);
    assert.equal(await server.stop(), 0);
    server = undefined;
    await assertStoredOnce();
  });

  it('a store written by rocksdb is refused by --store-backend classic-level with a clear reason', async () => {
    await assert.rejects(startServer(tmp.dir, ['--partitions', '4', '--store-backend', 'classic-level']), /written by rocksdb/);
  });
});
