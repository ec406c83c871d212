/** The CRC32C that replaces kafkajs' own in produced record batches (src/log/kafka/kafkajs-internals.ts) gives its values. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { crc32c, useFastCrc32c } from '../../src/log/kafka/kafkajs-internals.js';
import { seededRandom } from '../helpers/seeded-random.js';

const requireCjs = createRequire(import.meta.url);
const kafkajsCrc = requireCjs('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;

it('crc32c equals kafkajs CRC32C on the check string and on random buffers of every length mod 8', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  const rnd = seededRandom('kafkajs-crc32c');
  for (let n = 0; n < 400; n++) {
    const len = n < 40 ? n : rnd.int(0, 5000);
    const buf = Buffer.from(Array.from({ length: len }, () => rnd.int(0, 255)));
    assert.equal(crc32c(buf), kafkajsCrc(buf) >>> 0, `length ${len}`);
  }
});

it('useFastCrc32c makes kafkajs record batches use it', () => {
  assert.equal(useFastCrc32c(), true);
  assert.equal(requireCjs('kafkajs/src/protocol/recordBatch/crc32C/index.js'), crc32c);
});
