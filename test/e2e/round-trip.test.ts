import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodePointBatch } from '../../src/codec/avro-record.js';
import type { Point } from '../../src/common/point.js';
import { bits, postAvro, postJson, query } from '../helpers/http-client.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { startServer, waitReady, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const EDGE = [0, -0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 1e-300, 1e300, 0.1, -123456.789, 2 ** 53, 1 / 3];

function makePoints(metric: string, n: number, series: number, rnd: ReturnType<typeof seededRandom>, now: number): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < n; i++) {
    const s = i % series;
    const value = i < EDGE.length * series ? EDGE[Math.floor(i / series) % EDGE.length]! : rnd.next() < 0.5 ? Math.round(rnd.next() * 10000) / 100 : (rnd.next() - 0.5) * 10 ** rnd.int(-300, 300);
    // Timestamps go backwards and jump around, so heads and blocks see out-of-order points.
    out.push({ metric, tags: { host: `h${s}`, dc: s % 2 ? 'eu' : 'us' }, timestamp: now - Math.floor(i / series) * 997 - rnd.int(0, 1) * 3_600_000 * 3 - (i % 7) , value });
  }
  // Unique (series, timestamp) so "come back exactly" has one answer per point.
  const seen = new Set<string>();
  return out.filter((p) => {
    const k = `${p.tags.host}@${p.timestamp}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

async function assertExact(url: string, metric: string, sent: Point[], start: number, end: number): Promise<void> {
  const ans = await query(url, { selector: metric, start, end });
  assert.equal(ans.partial, false);
  const got = new Map<string, string>();
  for (const s of ans.series) {
    assert.equal(s.metric, metric);
    let prev = -Infinity;
    for (const [t, v] of s.points) {
      assert.ok(t > prev, 'points ascend by time');
      prev = t;
      got.set(`${s.tags.host}@${t}`, bits(v as number));
    }
  }
  assert.equal(got.size, sent.length, 'every point comes back, none extra');
  for (const p of sent) assert.equal(got.get(`${p.tags.host}@${p.timestamp}`), bits(p.value), `${p.tags.host}@${p.timestamp}`);
}

describe('single node end to end: 10,000 points as JSON and as Avro come back bit-exact', () => {
  const tmp = tempDir('e2e');
  let server: ServerProcess;
  const rnd = seededRandom('round-trip');
  const now = Date.now();
  const json = makePoints('e2e_json', 10_000, 25, rnd, now);
  const avro = makePoints('e2e_avro', 10_000, 25, rnd, now);
  const start = now - 48 * 3_600_000;
  const end = now + 1;

  before(async () => {
    server = await startServer(tmp.dir, ['--partitions', '8', '--flush-interval', '1h']);
  });
  after(async () => {
    await server.stop();
    tmp.cleanup();
  });

  it('accepts the writes', async () => {
    for (let i = 0; i < json.length; i += 2500) {
      const r = await postJson(server.url, { points: json.slice(i, i + 2500) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.accepted, Math.min(2500, json.length - i));
    }
    for (let i = 0; i < avro.length; i += 2500) {
      const r = await postAvro(server.url, encodePointBatch(avro.slice(i, i + 2500)));
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  });

  it('reads them back from the head (read-your-writes with the token)', async () => {
    const r = await postJson(server.url, { points: [{ metric: 'e2e_token', tags: {}, timestamp: now, value: 42 }] });
    const ans = await query(server.url, { selector: 'e2e_token', start, end, after: r.body.token });
    assert.deepEqual(ans.series[0]!.points, [[now, 42]]);
    await assertExact(server.url, 'e2e_json', json, start, end);
    await assertExact(server.url, 'e2e_avro', avro, start, end);
  });

  it('reads them back from stored blocks after a clean restart', async () => {
    assert.equal(await server.stop(), 0);
    server = await startServer(tmp.dir, ['--partitions', '8']);
    await waitReady(server.url);
    await assertExact(server.url, 'e2e_json', json, start, end);
    await assertExact(server.url, 'e2e_avro', avro, start, end);
  });

  it('answers selectors with = and != and the metadata endpoints', async () => {
    const eu = json.filter((p) => p.tags.dc === 'eu');
    const ans = await query(server.url, { selector: 'e2e_json{dc!="us"}', start, end });
    assert.equal(ans.series.reduce((n, s) => n + s.points.length, 0), eu.length);
    const one = await query(server.url, { selector: 'e2e_json{host="h3",dc="eu"}', start, end });
    assert.deepEqual(one.series.map((s) => s.tags.host), ['h3']);
    const series = (await (await fetch(`${server.url}/api/v1/series?selector=${encodeURIComponent('e2e_avro{host=~"h1."}')}`)).json()) as { series: unknown[] };
    assert.equal(series.series.length, 10);
    const tags = (await (await fetch(`${server.url}/api/v1/tags`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['dc', 'host']);
    const values = (await (await fetch(`${server.url}/api/v1/tags/dc/values`)).json()) as { values: string[] };
    assert.deepEqual(values.values, ['eu', 'us']);
  });
});
