import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createV3Partitioner, routingKey } from '../../src/codec/partitioning.js';

const golden = JSON.parse(readFileSync(new URL('../../../test/fixtures/partitioning.json', import.meta.url), 'utf8'));

it('the kafkajs partitioner agrees with the golden vectors, keyed by routing hash or by series key', () => {
  const partition = createV3Partitioner();
  const vectors = golden.vectors;
  assert.ok(Array.isArray(vectors) && vectors.length > 10, 'fixture has vectors');
  let checked = 0;
  for (const v of vectors) {
    for (const [p, expected] of Object.entries(v.partitions as Record<string, number>)) {
      const partitionMetadata = Array.from({ length: Number(p) }, (_, i) => ({ partitionId: i }));
      assert.equal(partition({ topic: 't', partitionMetadata, message: { key: routingKey(v.key) } }), expected);
      assert.equal(partition({ topic: 't', partitionMetadata, message: { key: v.key } }), expected);
      checked++;
    }
    assert.equal(routingKey(v.key).toString('hex'), v.hash64);
  }
  assert.ok(checked > 100);
  assert.throws(() => partition({ topic: 't', partitionMetadata: [{ partitionId: 0 }], message: {} }), /no key/);
});
