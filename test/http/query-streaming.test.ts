import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeWriteToken } from '../../src/codec/write-token.js';
import { renderSeriesPoints } from '../../src/query/json-output.js';
import type { SeriesPoints } from '../../src/query/query-service.js';
import { parseSelector } from '../../src/query/selector.js';
import { stringifyKeepingNegativeZero } from '../helpers/http-client.js';
import { testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;

const T = 1_700_000_000_000;
const END = T + 10_000_000;

/** Tricky values: -0 (JSON.stringify would write 0), 0, tiny, huge, negative, fractions. */
const VALUES = [-0, 0, 5e-324, -1.7976931348623157e308, 0.1 + 0.2, -42, 1e21, 123456.789];

function points(): unknown[] {
  const out: unknown[] = [];
  for (let s = 0; s < 12; s++) {
    const n = s === 3 ? 6000 : 40; // one series alone is > 64 KiB of JSON
    for (let i = 0; i < n; i++) out.push({ metric: 'stream_m', tags: { s: `s${s}`, dc: s % 2 ? 'eu' : 'us' }, timestamp: T + i * 1000, value: VALUES[(s + i) % VALUES.length] });
  }
  return out;
}

async function write(node: Node, pts: unknown[]): Promise<void> {
  const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', headers: { 'content-type': 'application/json' }, payload: stringifyKeepingNegativeZero({ points: pts }) });
  assert.equal(res.statusCode, 200, res.body);
  await node.materializer!.waitForOffsets(decodeWriteToken(res.json().token), 10_000);
}

/** What the buffered renderer makes of the same data, read straight from the node's reader. */
async function expected(node: Node, selector: string, start: number, end: number): Promise<string> {
  const reader = node.materializer!;
  const matchers = parseSelector(selector);
  const series = reader.partitions().flatMap((p) => reader.selectSeries(p, matchers)).sort((a, b) => (a.key < b.key ? -1 : 1));
  const result: SeriesPoints[] = [];
  for (const s of series) {
    const pts = await reader.readSeries(s.partition, s.id, start, end);
    if (pts.ts.length > 0) result.push({ series: s, points: pts });
  }
  return renderSeriesPoints(result, false, []);
}

describe('streaming of large raw answers (--query-buffer-bytes)', () => {
  let streamed: Node;
  let buffered: Node;
  before(async () => {
    streamed = await testNode({ queryBufferBytes: 0, maxQueryPoints: 6400, queryCacheBytes: 0 });
    buffered = await testNode({ maxQueryPoints: 6400, queryCacheBytes: 0 });
    for (const n of [streamed, buffered]) {
      const pts = points();
      await write(n, pts.slice(0, 3000));
      await n.materializer!.flushAll('test'); // part of the data in blocks, the rest in the head
      await write(n, pts.slice(3000));
    }
  });
  after(async () => {
    await streamed.dispose();
    await buffered.dispose();
  });

  it('a streamed answer is byte-identical to the buffered renderer, -0 included', async () => {
    for (const [selector, start, end] of [
      ['stream_m{s!="s0"}', 0, END],
      ['stream_m{dc="eu"}', T + 5000, T + 30_000],
      ['stream_m{s="s3"}', T, END],
      ['no_such_metric', 0, END],
    ] as const) {
      const url = `/api/v1/query?selector=${encodeURIComponent(selector)}&start=${start}&end=${end}`;
      const s = await streamed.app.inject({ url });
      const b = await buffered.app.inject({ url });
      assert.equal(s.statusCode, 200, s.body.slice(0, 300));
      assert.equal(b.statusCode, 200, b.body.slice(0, 300));
      assert.equal(s.headers['content-length'], undefined, 'streamed: no content-length');
      assert.notEqual(b.headers['content-length'], undefined, 'buffered: sent whole');
      assert.match(String(s.headers['content-type']), /^application\/json/);
      const want = await expected(buffered, selector, start, end);
      assert.equal(b.body, want, `${selector}: buffered answer = renderSeriesPoints`);
      assert.equal(s.body, want, `${selector}: streamed answer = renderSeriesPoints`);
      if (selector.startsWith('stream_m{s!=')) assert.ok(s.body.includes(',-0]'), 'negative zero is kept');
    }
  });

  it('streams with chunked transfer encoding over a real socket', async () => {
    await streamed.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = streamed.app.server.address() as AddressInfo;
    const { headers, body } = await new Promise<{ headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${port}/api/v1/query?selector=${encodeURIComponent('stream_m{s!="s0"}')}&start=0&end=${END}`, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ headers: res.headers, body: text }));
        })
        .on('error', reject);
    });
    assert.equal(headers['transfer-encoding'], 'chunked');
    assert.equal(body, await expected(streamed, 'stream_m{s!="s0"}', 0, END));
  });

  it('a points limit hit before streaming is a 422; after streaming started, the body ends with truncated:true and the error', async () => {
    // 12 series: 11 × 40 points + 6000 points (s3) = 6440 > 6400: the last series (by key) crosses the limit.
    const url = `/api/v1/query?selector=stream_m&start=0&end=${END}`;
    const b = await buffered.app.inject({ url });
    assert.equal(b.statusCode, 422, b.body);
    assert.equal(b.json().error.code, 'TSDB_ERR_QUERY_LIMIT');

    const s = await streamed.app.inject({ url: url.replace('start=0', `start=${T}`) });
    assert.equal(s.statusCode, 200);
    const body = JSON.parse(s.body) as { series: Array<{ tags: Record<string, string>; points: unknown[] }>; partial: boolean; missing: number[]; truncated: boolean; error: { code: string; message: string } };
    assert.equal(body.partial, true);
    assert.equal(body.truncated, true);
    assert.deepEqual(body.missing, []);
    assert.equal(body.error.code, 'TSDB_ERR_QUERY_LIMIT');
    assert.match(body.error.message, /more than 6400 points/);
    // Only the whole series before the one that crossed the limit.
    assert.equal(body.series.length, 11);
    for (const x of body.series) assert.equal(x.points.length, x.tags.s === 's3' ? 6000 : 40);
    // The text up to the trailer is exactly the complete answer's prefix.
    const full = await expected(streamed, 'stream_m', T, END);
    const cut = s.body.indexOf('],"partial":true,"missing":[],"truncated":true');
    assert.ok(cut > 0);
    assert.equal(s.body.slice(0, cut), full.slice(0, cut));

    const metrics = (await streamed.app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /^tsdb_query_streamed_total\{outcome="truncated"\} 1$/m);
    assert.match(metrics, /^tsdb_query_requests_total\{endpoint="query",outcome="truncated"\} 1$/m);
  });
});
