import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STORE_BACKENDS, createStore } from '../../src/store/open-store.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { tempDir } from '../helpers/temp-dir.js';

const CHILD = fileURLToPath(new URL('../helpers/store-writer-child.js', import.meta.url));
const KEYS = 40;

/** Runs the writer child until it acknowledged at least `minAcks` batches and then `ms` more, then SIGKILLs it. */
async function writeThenKill(backend: string, location: string, first: number, minAcks: number, ms: number): Promise<number> {
  const child = spawn(process.execPath, [CHILD, backend, location, String(first), String(KEYS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let acked = first - 1;
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const enough = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const l of lines) acked = Number(l.slice('acked '.length));
      if (acked - first + 1 >= minAcks) resolve();
    });
    child.on('exit', (code) => reject(new Error(`writer exited with ${code} after batch ${acked}: ${err}`)));
  });
  await enough;
  await new Promise((r) => setTimeout(r, ms));
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  return acked; // acks printed before the kill; a batch may have landed without its ack being read
}

for (const backend of STORE_BACKENDS) {
  describe(`store crash (${backend}): kill -9 during synced batches`, () => {
    it('every acknowledged batch survives, and every batch is whole or absent', async () => {
      const rnd = seededRandom(`store-crash-${backend}`);
      const tmp = tempDir('store-crash');
      try {
        const location = join(tmp.dir, 'store');
        let next = 0;
        let lastAcked = -1;
        for (let round = 0; round < 3; round++) {
          lastAcked = await writeThenKill(backend, location, next, 5, rnd.int(0, 150));
          const store = createStore({ backend, location });
          await store.open();
          const perBatch = new Map<number, number>();
          for await (const [k, v] of store.iterate({})) {
            const b = Number(k.toString().slice(1, 7));
            assert.equal(v[0], b % 256, `value of ${k.toString()}`);
            perBatch.set(b, (perBatch.get(b) ?? 0) + 1);
          }
          await store.close();
          for (const [b, n] of perBatch) assert.equal(n, KEYS, `batch ${b} is partial after kill -9 (${n} of ${KEYS} keys)`);
          for (let b = 0; b <= lastAcked; b++) assert.equal(perBatch.get(b), KEYS, `acknowledged batch ${b} lost after kill -9 in round ${round}`);
          const highest = Math.max(...perBatch.keys());
          assert.ok(highest <= lastAcked + 1, `batch ${highest} present, but the writer can only have started batch ${lastAcked + 1}`);
          next = highest + 1;
        }
        assert.ok(lastAcked >= 15, `too few batches to mean anything (${lastAcked + 1})`);
      } finally {
        tmp.cleanup();
      }
    });
  });
}
