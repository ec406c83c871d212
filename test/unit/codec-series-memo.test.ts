import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeLogRecordColumns, encodeSeriesBatch, type SeriesBatch, type SeriesRef } from '../../src/codec/avro-record.js';
import { SeriesMemo } from '../../src/codec/series-memo.js';
import { isTsdbError } from '../../src/common/errors.js';
import { canonicalSeriesKey } from '../../src/common/series-key.js';
import { seededRandom } from '../helpers/seeded-random.js';

function batchOf(series: SeriesRef[], rng: ReturnType<typeof seededRandom>): SeriesBatch {
  const n = rng.int(0, 3 * series.length + 1);
  const seriesIndex = new Int32Array(n);
  const timestamps = new Float64Array(n);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    seriesIndex[i] = rng.int(0, series.length - 1);
    timestamps[i] = 1_700_000_000_000 + rng.int(0, 1e6);
    values[i] = rng.next() * 100;
  }
  return { series, seriesIndex, timestamps, values };
}

/** What a record decodes to, as plain data: per point its series' metric, tags and key, and its sample. */
function plain(b: SeriesBatch): unknown {
  return [...b.seriesIndex].map((s, i) => {
    const ref = b.series[s]!;
    return [ref.metric, { ...ref.tags }, b.keys?.[s] ?? canonicalSeriesKey(ref.metric, ref.tags), b.timestamps[i], b.values[i]];
  });
}

describe('series memo (codec/series-memo.ts): decoding through it changes nothing', () => {
  it('random series tables, reordered, extended, altered and repeated across records decode as without a memo (seeded)', () => {
    const rng = seededRandom('series-memo');
    // A small pool so tables repeat, share prefixes and collide; tag values differ by one byte here and there.
    const pool: SeriesRef[] = [];
    for (let i = 0; i < 60; i++) {
      const tags: Record<string, string> = {};
      const nTags = rng.int(0, 4);
      for (let k = 0; k < nTags; k++) tags[`k${rng.int(0, 5)}`] = `v${rng.int(0, 9)}${'x'.repeat(rng.int(0, 3))}`;
      pool.push({ metric: `m${rng.int(0, 3)}`, tags });
    }
    const memo = new SeriesMemo(rng.int(5, 80)); // small bounds exercise clearing while tables are remembered
    let table = pool.slice(0, 10);
    let hitsBefore = 0;
    for (let r = 0; r < 1500; r++) {
      const op = rng.int(0, 5);
      if (op === 0) table = pool.slice(rng.int(0, 30), rng.int(31, 60)); // new table
      else if (op === 1 && table.length > 1) [table[0], table[table.length - 1]] = [table[table.length - 1]!, table[0]!]; // reorder
      else if (op === 2) table = [...table, pool[rng.int(0, 59)]!]; // extended (maybe a duplicate entry)
      else if (op === 3 && table.length > 0) table = table.map((s, i) => (i === rng.int(0, table.length - 1) ? pool[rng.int(0, 59)]! : s)); // altered
      // op 4, 5: the same table again
      const rec = encodeSeriesBatch(batchOf(table, rng));
      assert.deepEqual(plain(decodeLogRecordColumns(rec, memo)), plain(decodeLogRecordColumns(rec)), `record ${r}`);
      hitsBefore = memo.hits;
    }
    assert.ok(hitsBefore > 0, 'the memo was used');
  });

  it('a damaged or truncated series table fails exactly as without a memo, after the memo has seen the good one', () => {
    const rng = seededRandom('series-memo-damage');
    const series: SeriesRef[] = [
      { metric: 'cpu', tags: { host: 'a', dc: 'x' } },
      { metric: 'cpu', tags: { host: 'b', dc: 'x' } },
    ];
    const good = encodeSeriesBatch(batchOf(series, rng));
    for (let cut = 11; cut < good.length; cut++) {
      const memo = new SeriesMemo(100);
      decodeLogRecordColumns(good, memo);
      for (const bad of [good.subarray(0, cut), Buffer.from(good).fill(0xff, cut, cut + 1)]) {
        const outcome = (m?: SeriesMemo): unknown => {
          try {
            return plain(decodeLogRecordColumns(bad, m));
          } catch (e) {
            assert.ok(isTsdbError(e));
            return e.message;
          }
        };
        assert.deepEqual(outcome(memo), outcome(), `cut at ${cut}`);
      }
    }
  });
});
