/**
 * An external producer that is NOT V3's ingest: plain kafkajs + avsc + an independent XXH64 (xxhash-wasm), with
 * the fingerprint, record layout and partitioning written only from docs/format/log-record.md and
 * docs/format/partitioning.md. Its points must be queryable; a garbage record must land in `<topic>.dlq` with
 * headers naming the reason and source, and ingestion must continue past it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import kafkajs from 'kafkajs';
import xxhashWasm from 'xxhash-wasm';
import { query } from '../helpers/http-client.js';
import { ensureKafka } from '../helpers/kafka-broker.js';
import { startServer, waitReady, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const ROOT = new URL('../../../', import.meta.url);

// --- written from docs/format/log-record.md ---
function crc64Avro(text: string): Buffer {
  const EMPTY = 0xc15d213aa4d7a795n;
  const table: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n));
    table.push(fp);
  }
  let fp = EMPTY;
  for (const b of Buffer.from(text, 'utf8')) fp = (fp >> 8n) ^ table[Number((fp ^ BigInt(b)) & 0xffn)]!;
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(fp);
  return out;
}

// --- written from docs/format/partitioning.md ---
function seriesKey(metric: string, tags: Record<string, string>): string {
  const keys = Object.keys(tags).sort();
  if (keys.length === 0) return metric;
  const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `${metric}{${keys.map((k) => `${k}="${esc(tags[k]!)}"`).join(',')}}`;
}
function jump(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & 0xffffffffffffffffn;
    j = Math.floor((b + 1) * (2 ** 31 / (Number(key >> 33n) + 1)));
  }
  return b;
}

describe('external Avro producer into the Kafka topic', () => {
  const tmp = tempDir('ext');
  const topic = `v3-ext-${Date.now()}`;
  const P = 4;
  let brokers = '';
  let server: ServerProcess;
  before(async () => {
    brokers = await ensureKafka();
    server = await startServer(tmp.dir, ['--log', 'kafka', '--kafka-brokers', brokers, '--topic', topic, '--partitions', String(P)]);
    await waitReady(server.url);
  });
  after(async () => {
    await server.stop();
    tmp.cleanup();
  });

  it('its points are queryable, a garbage record goes to <topic>.dlq, and ingestion continues', async () => {
    const schema = JSON.parse(readFileSync(new URL('schemas/PointBatch.avsc', ROOT), 'utf8'));
    const type = avro.Type.forSchema(schema);
    const canonical = '{"name":"io.v3.tsdb.PointBatch","type":"record","fields":[{"name":"points","type":{"type":"array","items":{"name":"io.v3.tsdb.Point","type":"record","fields":[{"name":"metric","type":"string"},{"name":"tags","type":{"type":"map","values":"string"}},{"name":"timestamp","type":"long"},{"name":"value","type":"double"}]}}}]}';
    const header = Buffer.concat([Buffer.from([0xc3, 0x01]), crc64Avro(canonical)]);
    const { h64Raw } = await xxhashWasm();
    const now = Date.now();

    const kafka = new kafkajs.Kafka({ clientId: 'external-producer', brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sent: Array<{ host: string; t: number; v: number }> = [];
    const messages: Array<{ partition: number; key: Buffer; value: Buffer }> = [];
    for (let h = 0; h < 8; h++) {
      const tags = { host: `ext${h}` };
      const key = seriesKey('ext_metric', tags);
      const hash = h64Raw(Buffer.from(key, 'utf8'), 0n);
      const routing = Buffer.alloc(8);
      routing.writeBigUInt64BE(hash);
      const points = Array.from({ length: 5 }, (_, i) => ({ metric: 'ext_metric', tags, timestamp: now - i * 1000, value: h * 10 + i + 0.25 }));
      for (const p of points) sent.push({ host: tags.host, t: p.timestamp, v: p.value });
      messages.push({ partition: jump(hash, P), key: routing, value: Buffer.concat([header, type.toBuffer({ points })]) });
    }
    // A garbage record in partition 0, then a good record after it in the same partition.
    messages.push({ partition: 0, key: Buffer.alloc(8), value: Buffer.from('definitely not avro') });
    const lateTags = { host: 'after_garbage' };
    const lateHash = h64Raw(Buffer.from(seriesKey('ext_metric', lateTags), 'utf8'), 0n);
    messages.push({ partition: 0, key: Buffer.alloc(8), value: Buffer.concat([header, type.toBuffer({ points: [{ metric: 'ext_metric', tags: lateTags, timestamp: now, value: 1 }] })]) });
    void lateHash; // deliberately in partition 0, whatever its hash says: it proves the partition kept moving
    const [meta] = await producer.send({ topic, acks: -1, messages: messages.slice(0, 8) });
    void meta;
    const garbage = await producer.send({ topic, acks: -1, messages: [messages[8]!] });
    await producer.send({ topic, acks: -1, messages: [messages[9]!] });
    await producer.disconnect();
    const garbageOffset = Number(garbage[0]!.baseOffset);

    // Wait until the partitions are applied (poll: an external producer has no write token).
    let ans = await query(server.url, { selector: 'ext_metric', start: now - 10_000, end: now + 1 });
    for (let i = 0; i < 100 && ans.series.reduce((n, s) => n + s.points.length, 0) < sent.length + 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ans = await query(server.url, { selector: 'ext_metric', start: now - 10_000, end: now + 1 });
    }
    const got = new Map<string, number>();
    for (const s of ans.series) for (const [t, v] of s.points) got.set(`${s.tags.host}@${t}`, v as number);
    for (const p of sent) assert.equal(got.get(`${p.host}@${p.t}`), p.v, `${p.host}@${p.t}`);
    assert.equal(got.get(`after_garbage@${now}`), 1, 'the record after the garbage was applied');

    // The dead letter: read <topic>.dlq with a plain consumer.
    const consumer = kafka.consumer({ groupId: `dlq-reader-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic: `${topic}.dlq`, fromBeginning: true });
    const dead = await new Promise<{ value: Buffer; headers: Record<string, string> }>((resolve, reject) => {
      // (the consumer is disconnected below whatever happens, so a failure cannot keep the process alive)
      const timer = setTimeout(() => reject(new Error('no dead letter within 20 s')), 20_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          resolve({ value: message.value!, headers });
        },
      });
    }).finally(() => consumer.disconnect());
    assert.equal(dead.value.toString(), 'definitely not avro');
    assert.equal(dead.headers['v3-reason'], 'TSDB_ERR_AVRO_FINGERPRINT');
    assert.equal(dead.headers['v3-source-topic'], topic);
    assert.equal(dead.headers['v3-source-partition'], '0');
    assert.equal(dead.headers['v3-source-offset'], String(garbageOffset));
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^tsdb_materializer_records_rejected_total\{reason="TSDB_ERR_AVRO_FINGERPRINT"\} 1$/m);
  });
});
