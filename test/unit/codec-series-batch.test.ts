import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import avsc from 'avsc';
import {
  decodeLogRecord,
  decodeLogRecordColumns,
  decodeWriteBody,
  encodePointBatch,
  encodeSeriesBatch,
  pointsToSeriesBatch,
  registerWriterSchema,
  SERIES_BATCH_CANONICAL_FORM,
  SERIES_BATCH_FINGERPRINT,
  SERIES_BATCH_SCHEMA,
  seriesBatchToPoints,
  seriesBatchType,
  type SeriesBatch,
  type SeriesRef,
} from '../../src/codec/avro-record.js';
import { crc64AvroLE } from '../../src/codec/crc64-avro.js';
import { DEFAULT_LIMITS, validateSeriesBatch } from '../../src/codec/validate-points.js';
import { isTsdbError } from '../../src/common/errors.js';
import type { Point } from '../../src/common/point.js';
import { seededRandom } from '../helpers/seeded-random.js';

const fixture = (name: string): string => readFileSync(new URL(`../../../${name}`, import.meta.url), 'utf8');

function batchOf(series: SeriesRef[], rows: Array<[number, number, number]>): SeriesBatch {
  return {
    series,
    seriesIndex: Int32Array.from(rows.map((r) => r[0])),
    timestamps: Float64Array.from(rows.map((r) => r[1])),
    values: Float64Array.from(rows.map((r) => r[2])),
  };
}

/** Columns as plain data, for deepStrictEqual (keys are an optional cache and not compared). */
function plain(b: SeriesBatch): unknown {
  return { series: b.series, seriesIndex: [...b.seriesIndex], timestamps: [...b.timestamps], values: [...b.values].map((v) => Object.is(v, -0) ? '-0' : v) };
}

const expectAvroError = (code: string, pattern: RegExp) => (e: unknown): boolean => {
  assert.ok(isTsdbError(e), String(e));
  assert.equal(e.code, code);
  assert.match(e.message, pattern);
  return true;
};

describe('SeriesBatch schema and fingerprint', () => {
  it('pins the fingerprint of the canonical form (docs/format/log-record.md)', () => {
    assert.equal(SERIES_BATCH_FINGERPRINT, '0e5b02791619e9bc');
    assert.equal(crc64AvroLE(SERIES_BATCH_CANONICAL_FORM).toString('hex'), SERIES_BATCH_FINGERPRINT);
    assert.match(SERIES_BATCH_CANONICAL_FORM, /^\{"name":"io\.v3\.tsdb\.SeriesBatch","type":"record","fields":\[\{"name":"series"/);
  });
});

describe('golden SeriesBatch records (test/fixtures/log-record.json seriesCases)', () => {
  const golden = JSON.parse(fixture('test/fixtures/log-record.json')) as {
    seriesBatchFingerprint: string;
    seriesBatchCanonicalForm: string;
    seriesCases: { name: string; series: SeriesRef[]; points: { series: number; timestamp: number; valueBits: string }[]; hex: string }[];
  };

  it('has the current fingerprint and canonical form', () => {
    assert.equal(golden.seriesBatchFingerprint, SERIES_BATCH_FINGERPRINT);
    assert.equal(golden.seriesBatchCanonicalForm, SERIES_BATCH_CANONICAL_FORM);
  });

  for (const c of golden.seriesCases) {
    it(`${c.name}: encodes to the golden bytes, decodes back, and agrees with avsc`, () => {
      const b = batchOf(c.series, c.points.map((p) => [p.series, p.timestamp, Buffer.from(p.valueBits, 'hex').readDoubleBE()]));
      const rec = encodeSeriesBatch(b);
      assert.equal(rec.toString('hex'), c.hex);
      const back = decodeLogRecordColumns(Buffer.from(c.hex, 'hex'));
      assert.deepStrictEqual(plain(back), plain(b));
      const viaAvsc = seriesBatchType.fromBuffer(rec.subarray(10)) as { series: SeriesRef[]; seriesIndex: number[]; timestamps: number[]; values: number[] };
      assert.deepStrictEqual([...viaAvsc.seriesIndex], [...b.seriesIndex]);
      assert.deepStrictEqual(viaAvsc.series.map((s) => ({ metric: s.metric, tags: { ...s.tags } })), b.series);
      // As points, a SeriesBatch is the equivalent PointBatch.
      assert.deepStrictEqual(decodeLogRecord(rec), decodeLogRecord(encodePointBatch(seriesBatchToPoints(b))));
    });
  }
});

function randomPoints(rnd: ReturnType<typeof seededRandom>, n: number): Point[] {
  const series: SeriesRef[] = Array.from({ length: rnd.int(1, 80) }, (_, i): SeriesRef => ({ metric: `m_${rnd.int(0, 5)}`, tags: rnd.next() < 0.2 ? {} : { host: `h${i}`, dc: rnd.next() < 0.5 ? 'eu' : 'Zürich "x"' } }));
  return Array.from({ length: n }, () => {
    const s = series[rnd.int(0, series.length - 1)]!;
    const t = rnd.next() < 0.05 ? rnd.int(-(2 ** 52), 2 ** 52) * 2 : 1_700_000_000_000 + rnd.int(0, 1e9);
    return { metric: s.metric, tags: s.tags, timestamp: t, value: rnd.next() < 0.1 ? -0 : (rnd.next() - 0.5) * 10 ** rnd.int(-300, 300) };
  });
}

describe('round trips', () => {
  it('points → SeriesBatch record → points is the identity (seeded)', () => {
    const rnd = seededRandom('series batch round trip');
    for (let k = 0; k < 200; k++) {
      const points = randomPoints(rnd, rnd.int(0, 500));
      const b = pointsToSeriesBatch(points);
      assert.deepStrictEqual(decodeLogRecord(encodeSeriesBatch(b)), points.map((p) => ({ ...p, tags: { ...p.tags } })));
      assert.deepStrictEqual(plain(decodeLogRecordColumns(encodeSeriesBatch(b))), plain({ ...b, keys: undefined }));
    }
  });

  it('a part (points order[from..to)) carries only its series, in order of first use, with re-numbered indices', () => {
    const s = (m: string): SeriesRef => ({ metric: m, tags: { k: m } as Record<string, string> });
    const b = batchOf([s('a'), s('b'), s('c'), s('d')], [[3, 1, 1], [1, 2, 2], [3, 3, 3], [0, 4, 4], [2, 5, 5]]);
    const order = Int32Array.from([4, 0, 2, 1, 3]);
    const part = decodeLogRecordColumns(encodeSeriesBatch(b, order, 1, 4)); // points 0, 2, 1
    assert.deepStrictEqual(plain(part), plain(batchOf([s('d'), s('b')], [[0, 1, 1], [0, 3, 3], [1, 2, 2]])));
    const empty = decodeLogRecordColumns(encodeSeriesBatch(b, order, 2, 2));
    assert.deepStrictEqual(plain(empty), plain(batchOf([], [])));
    // The scratch table is reset: a second, different part is independent of the first.
    assert.deepStrictEqual(plain(decodeLogRecordColumns(encodeSeriesBatch(b, order, 0, 1))), plain(batchOf([s('c')], [[0, 5, 5]])));
  });

  it('PointBatch and Point records decode to columns grouped in order of first use', () => {
    const p = (metric: string, t: number): Point => ({ metric, tags: { x: '1' }, timestamp: t, value: t });
    const cols = decodeLogRecordColumns(encodePointBatch([p('b', 1), p('a', 2), p('b', 3)]));
    assert.deepStrictEqual(plain(cols), plain(batchOf([{ metric: 'b', tags: { x: '1' } }, { metric: 'a', tags: { x: '1' } }], [[0, 1, 1], [1, 2, 2], [0, 3, 3]])));
    assert.deepStrictEqual(cols.keys, ['b{x="1"}', 'a{x="1"}']);
  });

  it('accepts what other producers may write: several blocks, negative block counts, unused and repeated series', () => {
    const type = avsc.Type.forSchema(SERIES_BATCH_SCHEMA as never);
    const value = { series: [{ metric: 'u', tags: {} as Record<string, string> }, { metric: 'a', tags: { k: 'v' } }, { metric: 'a', tags: { k: 'v' } }], seriesIndex: [2, 1, 2], timestamps: [5, 6, 7], values: [0.5, 1.5, 2.5] };
    const body = type.toBuffer(value);
    const rec = Buffer.concat([Buffer.from('c301', 'hex'), Buffer.from(SERIES_BATCH_FINGERPRINT, 'hex'), body]);
    assert.deepStrictEqual(plain(decodeLogRecordColumns(rec)), plain(batchOf(value.series, [[2, 5, 0.5], [1, 6, 1.5], [2, 7, 2.5]])));
    // seriesIndex [2, 1, 2] written as two blocks, the second with a negative count and its byte size.
    const hex = rec.toString('hex');
    const idx = '06040204' + '00'; // block of 3: 2, 1, 2; end
    assert.ok(hex.includes(idx));
    const split = Buffer.from(hex.replace(idx, '0404' + '02' + '01' + '02' + '04' + '00'), 'hex'); // 2 items, then -1 item (1 byte)
    assert.deepStrictEqual([...decodeLogRecordColumns(split).seriesIndex], [2, 1, 2]);
  });
});

describe('bad SeriesBatch bodies are TSDB_ERR_AVRO_DECODE with the offset', () => {
  const good = encodeSeriesBatch(batchOf([{ metric: 'm', tags: {} }], [[0, 1, 1], [0, 2, 2]]));
  const hex = good.toString('hex');
  const header = hex.slice(0, 20);

  it('series index out of range, columns of different lengths, truncation, trailing bytes', () => {
    // body: 02 016d 00 00 | 04 00 00 00 | 04 02 04 00 | 04 <8> <8> 00
    assert.equal(hex.slice(20), '02026d0000' + '04000000' + '04020400' + '04' + '000000000000f03f' + '0000000000000040' + '00');
    const cases: [string, RegExp][] = [
      ['02026d0000' + '04000200' + '04020400' + '04' + '000000000000f03f' + '0000000000000040' + '00', /offset=17\): series index 1 of point 1 outside \[0, 1\)/],
      ['02026d0000' + '04000000' + '020200' + '04' + '000000000000f03f' + '0000000000000040' + '00', /timestamps has 1 items, seriesIndex 2/],
      ['02026d0000' + '04000000' + '0602040600', /timestamps has more items than seriesIndex \(2\)/],
      ['02026d0000' + '04000000' + '04020400' + '02' + '000000000000f03f' + '00', /values has 1 items, seriesIndex 2/],
      ['02026d0000' + '04000000' + '04020400' + '04' + '000000000000f03f', /block of 2 items needs at least 16 bytes/],
      [hex.slice(20) + '00', /1 trailing bytes/],
      ['02026d0000' + '7f', /offset=16\): truncated varint/],
    ];
    for (const [body, pattern] of cases) {
      assert.throws(() => decodeLogRecordColumns(Buffer.from(header + body, 'hex')), expectAvroError('TSDB_ERR_AVRO_DECODE', pattern), body);
    }
  });

  it('garbage never crashes, hangs or over-allocates (seeded fuzz); what decodes agrees with avsc', () => {
    const rnd = seededRandom('series batch fuzz');
    const base = encodeSeriesBatch(pointsToSeriesBatch(randomPoints(rnd, 40)));
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.from(base);
      const kind = rnd.int(0, 2);
      let buf: Buffer;
      if (kind === 0) buf = b.subarray(0, rnd.int(0, b.length));
      else if (kind === 1) {
        for (let n = rnd.int(1, 4); n > 0; n--) b[rnd.int(10, b.length - 1)]! ^= 1 << rnd.int(0, 7);
        buf = b;
      } else {
        for (let at = rnd.int(10, b.length - 1); at < b.length; at++) b[at] = rnd.int(0, 255);
        buf = b;
      }
      let cols: SeriesBatch;
      try {
        cols = decodeLogRecordColumns(buf);
      } catch (e) {
        assert.ok(isTsdbError(e) && (e.code === 'TSDB_ERR_AVRO_DECODE' || e.code === 'TSDB_ERR_AVRO_FINGERPRINT'), `${buf.toString('hex')}: ${String(e)}`);
        continue;
      }
      // avsc reads zigzag longs beyond ±2^52 inexactly (see avro-body-reader.ts), so it is no oracle for those.
      if (cols.timestamps.some((t) => Math.abs(t) >= 2 ** 52)) continue;
      const v = seriesBatchType.fromBuffer(buf.subarray(10)) as { series: SeriesRef[]; seriesIndex: number[]; timestamps: number[]; values: number[] };
      assert.deepStrictEqual([...cols.seriesIndex], v.seriesIndex);
      assert.deepStrictEqual([...cols.timestamps], v.timestamps);
    }
  });
});

describe('writer schemas that resolve to SeriesBatch', () => {
  it('a later version with an extra field decodes through avsc, with the same checks', () => {
    const v2 = JSON.parse(JSON.stringify(SERIES_BATCH_SCHEMA)) as { fields: unknown[] };
    v2.fields.push({ name: 'source', type: 'string', default: '' });
    const w = registerWriterSchema(v2);
    assert.equal(w.kind, 'series');
    const type = avsc.Type.forSchema(v2 as never);
    const rec = (value: object): Buffer => Buffer.concat([Buffer.from('c301', 'hex'), Buffer.from(w.fingerprint, 'hex'), type.toBuffer(value)]);
    const ok = rec({ series: [{ metric: 'm', tags: { a: 'b' } }], seriesIndex: [0, 0], timestamps: [1, 2], values: [3, 4], source: 'x' });
    assert.deepStrictEqual(plain(decodeLogRecordColumns(ok)), plain(batchOf([{ metric: 'm', tags: { a: 'b' } }], [[0, 1, 3], [0, 2, 4]])));
    assert.equal(decodeWriteBody(ok).kind, 'series');
    const badIndex = rec({ series: [{ metric: 'm', tags: {} }], seriesIndex: [0, 1], timestamps: [1, 2], values: [3, 4], source: '' });
    assert.throws(() => decodeLogRecordColumns(badIndex), expectAvroError('TSDB_ERR_AVRO_DECODE', /series index 1 of point 1 outside/));
    const uneven = rec({ series: [{ metric: 'm', tags: {} }], seriesIndex: [0, 0], timestamps: [1], values: [3, 4], source: '' });
    assert.throws(() => decodeLogRecordColumns(uneven), expectAvroError('TSDB_ERR_AVRO_DECODE', /columns differ in length/));
  });
});

describe('validateSeriesBatch', () => {
  const now = 1_700_000_000_000;
  it('accepts a good batch', () => {
    const r = validateSeriesBatch(batchOf([{ metric: 'cpu', tags: { host: 'a' } }], [[0, now, 1], [0, now - 10, 2]]), DEFAULT_LIMITS, now);
    assert.deepStrictEqual(r.errors, []);
    assert.equal(r.badPoints, 0);
  });

  it('names series problems once and every point they make bad, plus per-point time and value problems', () => {
    const b = batchOf(
      [{ metric: 'ok', tags: {} }, { metric: 'bad-name', tags: { __x: 'v', y: '' } }],
      [[0, now, 1], [1, now, 2], [0, now + DEFAULT_LIMITS.maxFuture + 1, 3], [0, now, Number.NaN], [0, now, 5]],
    );
    const r = validateSeriesBatch(b, DEFAULT_LIMITS, now);
    assert.equal(r.badPoints, 3);
    assert.deepStrictEqual(r.errors, [
      { field: 'series[1].metric', reason: '"bad-name" does not match [a-zA-Z_:][a-zA-Z0-9_:.]*' },
      { field: 'series[1].tags.__x', reason: 'tag keys starting with "__" are reserved ("__x")' },
      { field: 'series[1].tags.y', reason: 'tag value must not be empty' },
      { index: 1, field: 'series', reason: 'its series 1 is invalid (see series[1])' },
      { index: 2, field: 'timestamp', reason: `${now + DEFAULT_LIMITS.maxFuture + 1} is after the accepted window (latest ${now + DEFAULT_LIMITS.maxFuture}, now + ${DEFAULT_LIMITS.maxFuture} ms)` },
      { index: 3, field: 'value', reason: 'must be finite (NaN and ±Infinity are rejected)' },
    ]);
    assert.deepStrictEqual([...r.reasons].sort(), [['bad_series', 1], ['empty_value', 1], ['invalid_name', 2], ['non_finite', 1], ['out_of_window', 1]]);
  });

  it('applies the per-request point limit', () => {
    const r = validateSeriesBatch(batchOf([{ metric: 'm', tags: {} }], [[0, now, 1], [0, now, 2]]), { ...DEFAULT_LIMITS, maxPointsPerRequest: 1 }, now);
    assert.deepStrictEqual(r.errors, [{ field: 'points', reason: 'has 2 points, over the limit of 1' }]);
  });
});
