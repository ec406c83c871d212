import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { encodeBlock } from '../../src/codec/block.js';
import { createLogger } from '../../src/common/logger.js';
import { createSealPool, inlineSealer } from '../../src/materializer/seal-pool.js';
import { seededRandom } from '../helpers/seeded-random.js';

const HOUR = 3_600_000;

describe('seal pool (materializer/seal-pool.ts)', () => {
  const pool = createSealPool({ workers: 2, logger: createLogger({ level: 'silent' }) });
  after(() => pool.close());

  it('seals in worker threads exactly what the storage thread would (seeded windows of overlapping fragments)', async () => {
    const rng = seededRandom('seal-pool');
    const jobs: Array<Promise<void>> = [];
    for (let w = 0; w < 200; w++) {
      const window = 1_451_606_400_000 + w * 2 * HOUR;
      const fragments: Uint8Array[] = [];
      for (let f = rng.int(1, 5); f > 0; f--) {
        const n = rng.int(0, 300);
        const ts: number[] = [];
        const vs: number[] = [];
        for (let i = 0; i < n; i++) {
          ts.push(window + rng.int(0, 720) * 10_000);
          vs.push(rng.int(0, 3) === 0 ? rng.int(0, 100) : Math.round(rng.next() * 1e4) / 100);
        }
        fragments.push(encodeBlock(ts, vs));
      }
      const target = rng.int(0, 1) === 0 ? 'hot' : 'cold';
      const rollups = rng.int(0, 1) === 0 ? [] : [300_000, HOUR];
      jobs.push(
        (async () => {
          const [a, b] = await Promise.all([pool.seal(fragments, target, rollups), inlineSealer.seal(fragments, target, rollups)]);
          assert.ok(a.equals(b), `window ${w}: worker and inline seals differ`);
        })(),
      );
    }
    await Promise.all(jobs);
  });

  it('a seal of a damaged block fails with the codec error, and the pool keeps working', async () => {
    const good = encodeBlock([1, 2, 3], [1, 2, 3]);
    const bad = Buffer.from(good);
    bad[bad.length - 1]! ^= 0xff;
    await assert.rejects(pool.seal([good, bad], 'cold', []), /CRC|crc|checksum/i);
    const again = await pool.seal([good], 'cold', []);
    assert.ok(again.equals(await inlineSealer.seal([good], 'cold', [])));
  });
});
