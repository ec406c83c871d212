import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import avsc from 'avsc';
import {
  decodeLogRecord,
  encodePoint,
  encodePointBatch,
  POINT_BATCH_CANONICAL_FORM,
  POINT_BATCH_FINGERPRINT,
  POINT_CANONICAL_FORM,
  POINT_FINGERPRINT,
  pointBatchType,
  pointType,
  registerWriterSchema,
  writerSchemas,
} from '../../src/codec/avro-record.js';
import { CRC64_AVRO_EMPTY, crc64Avro, crc64AvroLE, parsingCanonicalForm, schemaFingerprint } from '../../src/codec/crc64-avro.js';
import { isTsdbError } from '../../src/common/errors.js';
import type { Point } from '../../src/common/point.js';
import { seededRandom } from '../helpers/seeded-random.js';

const fixture = (name: string): string => readFileSync(new URL(`../../../${name}`, import.meta.url), 'utf8');

// Apache Avro share/test/data/schema-tests.txt: input, Parsing Canonical Form, fingerprint (signed 64-bit, as Java
// prints it) where the file gives one.
const SCHEMA_TESTS: [string, string, bigint | null][] = [
  ['"null"', '"null"', 7195948357588979594n],
  ['{"type":"null"}', '"null"', null],
  ['"boolean"', '"boolean"', -6970731678124411036n],
  ['{"type":"boolean"}', '"boolean"', null],
  ['"int"', '"int"', 8247732601305521295n],
  ['{"type":"int"}', '"int"', null],
  ['"long"', '"long"', -3434872931120570953n],
  ['{"type":"long"}', '"long"', null],
  ['"float"', '"float"', 5583340709985441680n],
  ['{"type":"float"}', '"float"', null],
  ['"double"', '"double"', -8181574048448539266n],
  ['{"type":"double"}', '"double"', null],
  ['"bytes"', '"bytes"', 5746618253357095269n],
  ['{"type":"bytes"}', '"bytes"', null],
  ['"string"', '"string"', -8142146995180207161n],
  ['{"type":"string"}', '"string"', null],
  ['[  ]', '[]', -1241056759729112623n],
  ['[ "int"  ]', '["int"]', -5232228896498058493n],
  ['[ "int" , {"type":"boolean"} ]', '["int","boolean"]', 5392556393470105090n],
  ['{"fields":[], "type":"record", "name":"foo"}', '{"name":"foo","type":"record","fields":[]}', -4824392279771201922n],
  ['{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}', '{"name":"x.y.foo","type":"record","fields":[]}', 5916914534497305771n],
  ['{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}', '{"name":"a.b.foo","type":"record","fields":[]}', -4616218487480524110n],
  ['{"fields":[], "type":"record", "name":"foo", "doc":"Useful info"}', '{"name":"foo","type":"record","fields":[]}', -4824392279771201922n],
  ['{"fields":[], "type":"record", "name":"foo", "aliases":["foo","bar"]}', '{"name":"foo","type":"record","fields":[]}', -4824392279771201922n],
  ['{"fields":[], "type":"record", "name":"foo", "doc":"foo", "aliases":["foo","bar"]}', '{"name":"foo","type":"record","fields":[]}', -4824392279771201922n],
  ['{"fields":[{"type":{"type":"boolean"}, "name":"f1"}], "type":"record", "name":"foo"}', '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}', 7843277075252814651n],
  [
    '{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":"true"},\n {"order":"descending","name":"f2","doc":"Hello","type":"int"}],\n "type":"record", "name":"foo"\n}',
    '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}',
    -4860222112080293046n,
  ],
  ['{"type":"enum", "name":"foo", "symbols":["A1"]}', '{"name":"foo","type":"enum","symbols":["A1"]}', -6342190197741309591n],
  ['{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}', '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}', -4448647247586288245n],
  ['{"name":"foo","type":"fixed","size":15}', '{"name":"foo","type":"fixed","size":15}', 1756455273707447556n],
  ['{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}', '{"name":"x.y.z.foo","type":"fixed","size":32}', -3064184465700546786n],
  ['{ "items":{"type":"null"}, "type":"array"}', '{"type":"array","items":"null"}', -589620603366471059n],
  ['{ "values":"string", "type":"map"}', '{"type":"map","values":"string"}', -8732877298790414990n],
  [
    '{"name":"PigValue","type":"record",\n "fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}',
    '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
    -1759257747318642341n,
  ],
];

const pt = (p: Partial<Point> = {}): Point => ({ metric: 'cpu_usage', tags: { host: 'a' }, timestamp: 1_700_000_000_000, value: 0.5, ...p });

function expectAvroError(code: 'TSDB_ERR_AVRO_FINGERPRINT' | 'TSDB_ERR_AVRO_DECODE', pattern: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(isTsdbError(e), `expected a TsdbError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, /^cannot decode log record \(bytes=\d+/);
    assert.match(e.message, pattern);
    return true;
  };
}

describe('CRC-64-AVRO and Parsing Canonical Form', () => {
  it('matches every vector of the Avro repository (share/test/data/schema-tests.txt)', () => {
    for (const [input, canonical, fp] of SCHEMA_TESTS) {
      assert.equal(parsingCanonicalForm(input), canonical, input);
      const want = BigInt.asIntN(64, crc64Avro(canonical));
      if (fp !== null) assert.equal(want, fp, canonical);
      const le = Buffer.alloc(8);
      le.writeBigInt64LE(BigInt.asIntN(64, crc64Avro(canonical)));
      assert.deepEqual(schemaFingerprint(input), le);
    }
  });

  it('fingerprints the empty input as the polynomial and writes 8 bytes little-endian', () => {
    assert.equal(crc64Avro(new Uint8Array(0)), CRC64_AVRO_EMPTY);
    const fp = crc64AvroLE('"int"');
    assert.equal(fp.length, 8);
    assert.equal(fp.readBigInt64LE(), 8247732601305521295n);
  });

  it('gives the V3 schemas the canonical forms avsc computes too, and pinned fingerprints', () => {
    assert.equal(POINT_CANONICAL_FORM, JSON.stringify(pointType.schema()));
    assert.equal(POINT_BATCH_CANONICAL_FORM, JSON.stringify(pointBatchType.schema()));
    // Pinned: every record in every log carries these. A change here is a format break.
    assert.equal(POINT_FINGERPRINT, '04809ed85a5263ed');
    assert.equal(POINT_BATCH_FINGERPRINT, 'cdc277e9e72801bc');
    // PointBatch.avsc inlines Point (so the file stands alone); the two definitions must not drift apart.
    assert.equal(parsingCanonicalForm(fixture('schemas/Point.avsc')), POINT_CANONICAL_FORM);
    assert.ok(POINT_BATCH_CANONICAL_FORM.includes(`"items":${POINT_CANONICAL_FORM}`));
  });
});

describe('round trips', () => {
  it('keeps edge values exactly', () => {
    const protoTags = JSON.parse('{"__proto__":"p","host":"x"}') as Record<string, string>;
    const points: Point[] = [
      pt({ value: -0 }),
      pt({ value: 5e-324 }),
      pt({ value: -1.7976931348623157e308 }),
      pt({ value: 1.7976931348623157e308, timestamp: 0 }),
      pt({ value: Number.NaN, timestamp: -1 }),
      pt({ tags: {}, timestamp: 8.64e15 }),
      pt({ metric: 'x:y.z', tags: { city: 'Zürich', emoji: '😀👩‍💻', q: 'say "hi" \\ \n', jp: '日本語' }, timestamp: -8.64e15 }),
      pt({ metric: 'm'.repeat(300), tags: { long: 'v'.repeat(5000) } }),
      // String lengths around the encoder's one-byte-length fast paths (21/22 UTF-16 units, 63/64 ASCII bytes).
      pt({ metric: 'a'.repeat(63), tags: { a: 'ü'.repeat(21), b: 'ü'.repeat(22), c: '😀'.repeat(11), d: 'a'.repeat(64), e: 'é'.repeat(63) } }),
      pt({ tags: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`t${i}`, `value-${i}`])) }),
      pt({ tags: protoTags }),
    ];
    const back = decodeLogRecord(encodePointBatch(points));
    assert.deepStrictEqual(back, points);
    assert.ok(Object.is(back[0]!.value, -0));
    assert.deepEqual(Object.keys(back[10]!.tags).sort(), ['__proto__', 'host']);
    assert.equal(Object.getPrototypeOf(back[10]!.tags), Object.prototype);
  });

  it('writes every safe-integer timestamp exactly (avsc itself rounds odd zigzags below -2^52)', () => {
    const rnd = seededRandom('avro longs');
    const zigzagVarint = (v: bigint): string => {
      let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
      let hex = '';
      for (; u > 0x7fn; u >>= 7n) hex += ((u & 0x7fn) | 0x80n).toString(16).padStart(2, '0');
      return hex + u.toString(16).padStart(2, '0');
    };
    const special = [0, -1, 1, 63, -64, 64, 2 ** 30 - 1, -(2 ** 30), 2 ** 30, -(2 ** 30) - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 52 + 1, -(2 ** 52) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
    const random = Array.from({ length: 2000 }, () => (rnd.next() < 0.5 ? -1 : 1) * Math.floor(rnd.next() * 2 ** rnd.int(0, 53)) || 0);
    for (const t of [...special, ...random]) {
      const rec = encodePoint(pt({ metric: '', tags: {}, timestamp: t }));
      assert.equal(rec.toString('hex', 12, rec.length - 8), zigzagVarint(BigInt(t)), String(t));
      assert.equal(decodeLogRecord(rec)[0]!.timestamp, t);
      if (Math.abs(t) <= 2 ** 52) assert.deepEqual(rec.subarray(10), pointType.toBuffer(pt({ metric: '', tags: {}, timestamp: t })));
    }
  });

  it('encodes an empty batch and batches larger than the encode scratch buffer', () => {
    assert.deepStrictEqual(decodeLogRecord(encodePointBatch([])), []);
    const big = Array.from({ length: 30_000 }, (_, i) => pt({ tags: { host: `host-${i}` }, timestamp: i, value: i / 7 }));
    const rec = encodePointBatch(big);
    assert.ok(rec.length > 64 * 1024);
    assert.deepStrictEqual(decodeLogRecord(rec), big);
    assert.deepStrictEqual(decodeLogRecord(encodePointBatch(big.slice(0, 3))), big.slice(0, 3)); // scratch reused
  });

  it('decodes a single-object-encoded Point into a one-point list', () => {
    const p = pt({ tags: { host: 'a', dc: 'b' } });
    const rec = encodePoint(p);
    assert.equal(rec.toString('hex', 2, 10), POINT_FINGERPRINT);
    assert.deepStrictEqual(decodeLogRecord(rec), [p]);
  });

  it('agrees with avsc on random batches (independent decoder)', () => {
    const rnd = seededRandom('avro vs avsc');
    for (let i = 0; i < 200; i++) {
      const batch = (pointBatchType.random() as unknown as { points: Point[] }).points.map((p) => ({ ...p, tags: { ...p.tags } }));
      const rec = encodePointBatch(batch);
      assert.deepStrictEqual(decodeLogRecord(rec), batch);
      assert.deepStrictEqual(rec.subarray(10), pointBatchType.toBuffer({ points: batch }));
      if (rnd.next() < 0.1) assert.deepStrictEqual(decodeLogRecord(Uint8Array.from(rec)), batch);
    }
  });

  it('names the bad point when a point does not fit the schema', () => {
    for (const bad of [pt({ timestamp: 1.5 }), pt({ value: 'x' as never }), pt({ tags: { a: 1 as never } }), pt({ metric: undefined as never })]) {
      assert.throws(
        () => encodePointBatch([pt(), bad]),
        (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_WRITE_INVALID' && /index=1/.test(e.message) && e.details[0]?.index === 1,
      );
    }
  });
});

describe('golden records (test/fixtures/log-record.json)', () => {
  interface GoldenPoint extends Point {
    valueBits: string;
  }
  const golden = JSON.parse(fixture('test/fixtures/log-record.json')) as {
    pointFingerprint: string;
    pointBatchFingerprint: string;
    pointCanonicalForm: string;
    pointBatchCanonicalForm: string;
    cases: { name: string; kind: 'batch' | 'point'; points: GoldenPoint[]; hex: string }[];
  };

  it('has the current fingerprints and canonical forms', () => {
    assert.equal(golden.pointFingerprint, POINT_FINGERPRINT);
    assert.equal(golden.pointBatchFingerprint, POINT_BATCH_FINGERPRINT);
    assert.equal(golden.pointCanonicalForm, POINT_CANONICAL_FORM);
    assert.equal(golden.pointBatchCanonicalForm, POINT_BATCH_CANONICAL_FORM);
  });

  for (const c of golden.cases) {
    it(`${c.name}: points encode to the golden bytes and decode back`, () => {
      const points: Point[] = c.points.map(({ valueBits, ...p }) => ({ ...p, value: Buffer.from(valueBits, 'hex').readDoubleBE() }));
      const rec = c.kind === 'batch' ? encodePointBatch(points) : encodePoint(points[0]!);
      assert.equal(rec.toString('hex'), c.hex);
      assert.deepStrictEqual(decodeLogRecord(Buffer.from(c.hex, 'hex')), points);
    });
  }
});

describe('errors', () => {
  const good = encodePointBatch([pt(), pt({ metric: 'up', tags: {} })]);
  const withBody = (hex: string): Buffer => Buffer.concat([good.subarray(0, 10), Buffer.from(hex, 'hex')]);

  it('too short, bad magic and unknown fingerprints are TSDB_ERR_AVRO_FINGERPRINT', () => {
    assert.throws(() => decodeLogRecord(Buffer.alloc(0)), expectAvroError('TSDB_ERR_AVRO_FINGERPRINT', /too short/));
    assert.throws(() => decodeLogRecord(good.subarray(0, 9)), expectAvroError('TSDB_ERR_AVRO_FINGERPRINT', /bytes=9\): too short/));
    const magic = Buffer.from(good);
    magic[1] = 0x02;
    assert.throws(() => decodeLogRecord(magic), expectAvroError('TSDB_ERR_AVRO_FINGERPRINT', /bad magic 0xc302/));
    const unknown = Buffer.from(good);
    unknown.write('0123456789abcdef', 2, 'hex');
    assert.throws(() => decodeLogRecord(unknown), expectAvroError('TSDB_ERR_AVRO_FINGERPRINT', /fingerprint=0123456789abcdef\): unknown writer schema; known: cdc277e9e72801bc/));
  });

  it('bodies that do not decode are TSDB_ERR_AVRO_DECODE, with the offset', () => {
    const cases: [Buffer, RegExp][] = [
      [good.subarray(0, good.length - 1), /offset=\d+\): truncated varint/],
      [good.subarray(0, 20), /offset=\d+\)/],
      [Buffer.concat([good, Buffer.from([0])]), /offset=\d+\): 1 trailing bytes after the body/],
      [withBody(''), /offset=10\): truncated varint/],
      [withBody('80808080808080808080808001'), /offset=10\): varint longer than 10 bytes/],
      [withBody('feffffffffffffffff01'), /offset=10\): long outside the safe integer range/],
      // 2^40 points declared in 3 bytes: rejected before anything is allocated.
      [withBody('8080808080400000'), /offset=10\): block of \d+ items needs at least \d+ bytes/],
      [withBody('02' + 'feffffff0f' + '00'.repeat(11)), /offset=11\): length 2147483647 exceeds the 11 remaining bytes/],
      [withBody('02' + '01' + '00'.repeat(11)), /offset=11\): negative length -1/],
      [withBody('01' + '7f'), /block byte size -64 is not in \[0, remaining\]/],
    ];
    for (const [buf, pattern] of cases) assert.throws(() => decodeLogRecord(buf), expectAvroError('TSDB_ERR_AVRO_DECODE', pattern), buf.toString('hex'));
  });
});

describe('writer schema registry (schema evolution)', () => {
  // A hypothetical v2 writer: an extra optional `unit` per point and a `producer` per batch.
  const v2Point = {
    type: 'record',
    name: 'Point',
    namespace: 'io.v3.tsdb',
    fields: [
      { name: 'metric', type: 'string' },
      { name: 'tags', type: { type: 'map', values: 'string' } },
      { name: 'timestamp', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'value', type: 'double' },
      { name: 'unit', type: ['null', 'string'], default: null },
    ],
  };
  const v2Batch = {
    type: 'record',
    name: 'PointBatch',
    namespace: 'io.v3.tsdb',
    fields: [
      { name: 'points', type: { type: 'array', items: v2Point } },
      { name: 'producer', type: 'string' },
    ],
  };
  const v2Type = avsc.Type.forSchema(v2Batch as never);
  const v2Record = (value: unknown): Buffer => Buffer.concat([Buffer.from([0xc3, 0x01]), schemaFingerprint(v2Batch), v2Type.toBuffer(value)]);
  const v2Value = { points: [{ ...pt(), unit: 'percent' }, { ...pt({ tags: {} }), unit: null }], producer: 'python-3.12' };

  it('rejects a v2 record until its writer schema is registered, then resolves it to the current Point', () => {
    const rec = v2Record(v2Value);
    assert.throws(() => decodeLogRecord(rec), expectAvroError('TSDB_ERR_AVRO_FINGERPRINT', /unknown writer schema/));
    const entry = registerWriterSchema(v2Batch);
    assert.equal(entry.kind, 'batch');
    assert.equal(entry.fingerprint, schemaFingerprint(v2Batch).toString('hex'));
    assert.ok(writerSchemas().some((w) => w.fingerprint === entry.fingerprint));
    assert.deepStrictEqual(decodeLogRecord(rec), [pt(), pt({ tags: {} })]);
    assert.throws(() => decodeLogRecord(Buffer.concat([rec, Buffer.from([1])])), expectAvroError('TSDB_ERR_AVRO_DECODE', /trailing/));
    assert.throws(() => decodeLogRecord(rec.subarray(0, rec.length - 3)), expectAvroError('TSDB_ERR_AVRO_DECODE', /offset=/));
  });

  it('refuses longs the avsc resolver would round (below -2^52) instead of decoding them wrongly', () => {
    registerWriterSchema(v2Batch);
    const header = Buffer.concat([Buffer.from([0xc3, 0x01]), schemaFingerprint(v2Batch)]);
    // points: 1 item {metric "m", tags {}, timestamp T, value 0, unit null}, end; producer ""
    const body = (timestampHex: string): Buffer => Buffer.from(`02026d00${timestampHex}${'00'.repeat(8)}000000`, 'hex');
    const ok = decodeLogRecord(Buffer.concat([header, body('8080e0ad9882d91e')]));
    assert.deepStrictEqual(ok, [{ metric: 'm', tags: {}, timestamp: 8.64e15, value: 0 }]);
    assert.throws(
      () => decodeLogRecord(Buffer.concat([header, body('ffffdfad9882d91e')])),
      expectAvroError('TSDB_ERR_AVRO_DECODE', /offset=14\): long \(as avsc can resolve it\) -8640000000000000 outside/),
    );
  });

  it('refuses a writer schema that resolves to neither PointBatch nor Point', () => {
    const other = { type: 'record', name: 'Other', fields: [{ name: 'x', type: 'int' }] };
    assert.throws(() => registerWriterSchema(other), (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_CONFIG_INVALID');
  });

  it('survives garbage through the generic (avsc) path too', () => {
    registerWriterSchema(v2Batch);
    const rnd = seededRandom('avro v2 fuzz');
    const base = v2Record(v2Value);
    for (let i = 0; i < 3000; i++) fuzzOnce(mutate(base, rnd));
  });
});

function mutate(base: Buffer, rnd: ReturnType<typeof seededRandom>): Buffer {
  const kind = rnd.int(0, 3);
  if (kind === 0) return base.subarray(0, rnd.int(0, base.length)); // truncation
  if (kind === 1) {
    const b = Buffer.from(base); // bit flips, mostly in the body
    for (let n = rnd.int(1, 4); n > 0; n--) {
      const at = rnd.next() < 0.9 ? rnd.int(10, b.length - 1) : rnd.int(0, b.length - 1);
      b[at]! ^= 1 << rnd.int(0, 7);
    }
    return b;
  }
  if (kind === 2) {
    const b = Buffer.from(base); // random bytes over a valid header
    for (let at = rnd.int(10, b.length - 1); at < b.length; at++) b[at] = rnd.int(0, 255);
    return b;
  }
  return Buffer.from(Array.from({ length: rnd.int(0, 64) }, () => rnd.int(0, 255))); // pure noise
}

/** One untrusted input: either Point[] or a TsdbError with an Avro code; never another exception. */
function fuzzOnce(buf: Buffer): void {
  let points: Point[];
  try {
    points = decodeLogRecord(buf);
  } catch (e) {
    assert.ok(isTsdbError(e) && (e.code === 'TSDB_ERR_AVRO_DECODE' || e.code === 'TSDB_ERR_AVRO_FINGERPRINT'), `${buf.toString('hex')}: ${String(e)}`);
    return;
  }
  assert.ok(Array.isArray(points));
  if (buf.toString('hex', 2, 10) === POINT_BATCH_FINGERPRINT) {
    // What the hand-written decoder accepts, avsc decodes to the same points.
    const viaAvsc = (pointBatchType.fromBuffer(buf.subarray(10)) as { points: Point[] }).points.map((p) => ({ ...p, tags: { ...p.tags } }));
    assert.deepStrictEqual(points, viaAvsc, buf.toString('hex'));
  }
}

describe('garbage never crashes, hangs or exhausts memory', () => {
  it('random bytes, truncations and bit flips of valid records always give a TsdbError or points', () => {
    const rnd = seededRandom('avro fuzz');
    const bases = [
      encodePointBatch([pt(), pt({ tags: { host: 'b', dc: 'Zürich' }, value: -0 }), pt({ metric: 'up', tags: {} })]),
      encodePointBatch(Array.from({ length: 50 }, (_, i) => pt({ timestamp: i * 1000, value: i }))),
      encodePoint(pt()),
      encodePointBatch([]),
    ];
    const started = Date.now();
    for (let i = 0; i < 20_000; i++) fuzzOnce(mutate(bases[i % bases.length]!, rnd));
    for (const base of bases) for (let len = 0; len <= base.length; len++) fuzzOnce(base.subarray(0, len));
    assert.ok(Date.now() - started < 20_000, 'fuzzing took too long');
  });
});

describe('speed (informational)', () => {
  it('reports encodePointBatch and decodeLogRecord throughput for 1000-point batches', () => {
    const batches = Array.from({ length: 10 }, (_, b) =>
      Array.from({ length: 1000 }, (_, i) => pt({ tags: { host: `host-${(i + b) % 50}.example.com`, dc: 'eu-west-1', cpu: String(i % 8) }, timestamp: 1.7e12 + i * 1000, value: i * 0.37 })),
    );
    const recs = batches.map((b) => encodePointBatch(b));
    const time = (fn: (i: number) => unknown, n: number): number => {
      for (let i = 0; i < 20; i++) fn(i % 10);
      const t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) fn(i % 10);
      return (n * 1000) / (Number(process.hrtime.bigint() - t) / 1e9);
    };
    const enc = time((i) => encodePointBatch(batches[i]!), 300);
    const dec = time((i) => decodeLogRecord(recs[i]!), 300);
    console.log(`# encodePointBatch: ${(enc / 1e6).toFixed(2)} M points/s; decodeLogRecord: ${(dec / 1e6).toFixed(2)} M points/s (${recs[0]!.length} bytes per 1000 points)`);
    assert.ok(enc > 0 && dec > 0);
  });
});
