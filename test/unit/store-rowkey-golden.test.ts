import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { blockKey, decodeBlockKey, decodeIntent, decodeState, encodeIntent, encodeState, intentKey, intentSeqOf, seriesKey, stateKey } from '../../src/store/row-keys.js';

const golden = JSON.parse(readFileSync(new URL('../../../test/fixtures/rowkey.json', import.meta.url), 'utf8'));

it('row keys and partition state match the golden fixture (test/fixtures/rowkey.json)', () => {
  for (const g of golden.stateKey) assert.equal(stateKey(g.partition).toString('hex'), g.hex);
  for (const g of golden.state) {
    const s = { nextOffset: g.nextOffset, flushSeq: g.flushSeq, nextSeriesId: g.nextSeriesId };
    assert.equal(encodeState(s).toString('hex'), g.hex);
    assert.deepEqual(decodeState(Buffer.from(g.hex, 'hex')), s);
  }
  for (const g of golden.seriesKey) assert.equal(seriesKey(g.partition, g.seriesId).toString('hex'), g.hex);
  for (const g of golden.intentKey) {
    assert.equal(intentKey(g.partition, g.flushSeq).toString('hex'), g.hex);
    assert.equal(intentSeqOf(Buffer.from(g.hex, 'hex')), g.flushSeq);
  }
  for (const g of golden.intent) {
    assert.equal(encodeIntent(g.keys.map((k: string) => Buffer.from(k, 'hex'))).toString('hex'), g.hex);
    assert.deepEqual(decodeIntent(Buffer.from(g.hex, 'hex')).map((k) => k.toString('hex')), g.keys);
  }
  for (const g of golden.blockKey) {
    assert.equal(blockKey(g.partition, g.seriesId, g.windowStart, g.flushSeq).toString('hex'), g.hex);
    assert.deepEqual(decodeBlockKey(Buffer.from(g.hex, 'hex')), { partition: g.partition, seriesId: g.seriesId, windowStart: g.windowStart, flushSeq: g.flushSeq });
  }
});
