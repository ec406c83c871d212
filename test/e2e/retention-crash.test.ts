import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createStore, detectStoreBackend } from '../../src/store/open-store.js';
import { PREFIX_SERIES } from '../../src/store/row-keys.js';
import { postJson } from '../helpers/http-client.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { rawStoredPoints } from '../helpers/stored-points.js';
import { startServer, waitReady, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const H = 3_600_000;

describe('retention under kill -9', () => {
  const tmp = tempDir('retention-crash');
  const rnd = seededRandom('retention-crash');
  let server: ServerProcess | undefined;
  after(async () => {
    await server?.kill9();
    tmp.cleanup();
  });

  it('a kill -9 at random moments while retention deletes leaves no block without its series; restarts finish the job', async () => {
    const args = ['--partitions', '2', '--flush-interval', '50ms', '--block-window', '1h', '--retention', '3h', '--retention-interval', '1s'];
    const now = Date.now();
    const fresh = new Set<string>();
    server = await startServer(tmp.dir, args);
    for (let round = 0; round < 5; round++) {
      // Each round adds expired series (several windows each) and some fresh ones, then dies somewhere in the
      // flush/retention cycle.
      const points = [];
      for (let i = 0; i < 400; i++) {
        const host = `r${round}h${i}`;
        for (let k = 0; k < 3; k++) points.push({ metric: 'rc_old', tags: { host }, timestamp: now - (10 + k) * H + i, value: i });
      }
      for (let i = 0; i < 20; i++) {
        const host = `r${round}f${i}`;
        points.push({ metric: 'rc_fresh', tags: { host }, timestamp: now - i, value: i });
        fresh.add(`rc_fresh{host="${host}"}@${now - i}`);
      }
      assert.equal((await postJson(server.url, { points })).status, 200);
      await new Promise((r) => setTimeout(r, rnd.int(0, 2500)));
      await server.kill9();
      // The invariant must hold at every crash (rawStoredPoints asserts every block's series has an S key).
      await rawStoredPoints(tmp.dir);
      server = await startServer(tmp.dir, args);
      await waitReady(server.url);
    }
    // Let a few passes run, then stop cleanly and look at the store.
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal(await server.stop(), 0);
    server = undefined;
    const stored = await rawStoredPoints(tmp.dir);
    const left = [...stored.keys()].filter((k) => k.startsWith('rc_old'));
    assert.deepEqual(left.slice(0, 5), [], `${left.length} expired points still stored`);
    for (const k of fresh) assert.equal(stored.get(k)?.length, 1, `fresh point ${k} missing or duplicated`);
    assert.equal(stored.size, fresh.size);
    // And every expired series is gone (S keys), the fresh ones stay.
    const location = join(tmp.dir, 'store');
    const store = createStore({ backend: detectStoreBackend(location) ?? 'classic-level', location });
    await store.open();
    const names: string[] = [];
    for await (const [, v] of store.iterate({ gte: Buffer.from([PREFIX_SERIES]), lt: Buffer.from([PREFIX_SERIES + 1]) })) names.push(v.toString());
    await store.close();
    assert.deepEqual(names.filter((n) => n.startsWith('rc_old')), []);
    assert.equal(names.length, 100);
  });
});
