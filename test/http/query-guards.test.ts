import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeWriteToken } from '../../src/codec/write-token.js';
import { testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;

const T = 1_700_000_000_000;

/** The value of one sample of the /metrics text (0 when the labelled sample does not exist yet). */
async function sample(node: Node, name: string, labels: string): Promise<number> {
  const text = (await node.app.inject({ url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Writes `series` series of `points` points each, in requests of at most 50k points; returns the last token. */
async function fill(node: Node, metric: string, series: number, points: number): Promise<string> {
  let batch: unknown[] = [];
  let token = '';
  const send = async (): Promise<void> => {
    const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points: batch } });
    assert.equal(res.statusCode, 200, res.body);
    token = res.json().token;
    batch = [];
  };
  for (let s = 0; s < series; s++) {
    for (let i = 0; i < points; i++) batch.push({ metric, tags: { s: String(s).padStart(5, '0') }, timestamp: T + i * 1000, value: s + i / 8 });
    if (batch.length >= 50_000) await send();
  }
  if (batch.length > 0) await send();
  await node.materializer!.waitForOffsets(decodeWriteToken(token), 10_000);
  return token;
}

describe('query timeout (--query-timeout)', () => {
  let node: Node;
  before(async () => {
    node = await testNode({ queryTimeout: 5 });
    await fill(node, 'slow_m', 3000, 20);
    await node.materializer!.flushAll('test'); // every series read now opens a store iterator
  });
  after(async () => node.dispose());

  it('answers 503 TSDB_ERR_QUERY_TIMEOUT with Retry-After, counts it, and keeps serving', async () => {
    const before = await sample(node, 'tsdb_query_cancellations_total', 'endpoint="query",reason="timeout"');
    const res = await node.app.inject({ url: `/api/v1/query?selector=slow_m&start=0&end=${T + 1e6}` });
    assert.equal(res.statusCode, 503, res.body.slice(0, 300));
    assert.equal(res.json().error.code, 'TSDB_ERR_QUERY_TIMEOUT');
    assert.match(res.json().error.message, /^cannot run query \(selector "slow_m", range \[0, \d+\), timeout 5 ms\): /);
    assert.equal(res.json().error.retriable, true);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(await sample(node, 'tsdb_query_cancellations_total', 'endpoint="query",reason="timeout"'), before + 1);
    // Aggregates and metadata are guarded the same way.
    const agg = await node.app.inject({ url: `/api/v1/query?selector=slow_m&start=0&end=${T + 1e6}&fn=sum` });
    assert.equal(agg.statusCode, 503);
    const tags = await node.app.inject({ url: `/api/v1/tags/s/values?start=${T + 500}&end=${T + 1e6}` });
    assert.equal(tags.statusCode, 503, tags.body.slice(0, 300));
    assert.equal(tags.json().error.code, 'TSDB_ERR_QUERY_TIMEOUT');
    // The node is fine: cheap requests still answer.
    assert.equal((await node.app.inject({ url: '/health' })).statusCode, 200);
    const small = await node.app.inject({ url: `/api/v1/query?selector=none_such&start=0&end=1` });
    assert.equal(small.statusCode, 200, small.body);
  });
});

for (const mode of [
  { name: 'while the answer is buffered', bufferBytes: 1024 * 1024 },
  { name: 'while the answer streams', bufferBytes: 0 },
]) {
  describe(`client disconnect over a real socket, ${mode.name}`, () => {
    let node: Node;
    let url: URL;
    const SERIES = 80;
    let reads = 0;
    before(async () => {
      node = await testNode({ queryBufferBytes: mode.bufferBytes });
      await fill(node, 'gone_m', SERIES, 500);
      // Make every series read slow (20 ms), so the query is surely still running when the client leaves.
      const reader = node.materializer!;
      const readSeries = reader.readSeries.bind(reader);
      reader.readSeries = async (p, id, start, end) => {
        reads++;
        await sleep(20);
        return readSeries(p, id, start, end);
      };
      await node.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = node.app.server.address() as AddressInfo;
      url = new URL(`http://127.0.0.1:${port}`);
    });
    after(async () => node.dispose());

    it('stops reading series, counts the cancellation, and the server keeps serving', async () => {
      const before = await sample(node, 'tsdb_query_cancellations_total', 'endpoint="query",reason="disconnect"');
      reads = 0;
      const req = http.get(new URL(`/api/v1/query?selector=gone_m&start=0&end=${T + 1e6}`, url));
      req.on('error', () => undefined); // the destroy below surfaces as ECONNRESET on the client side
      let gotHeaders = false;
      req.on('response', (res) => {
        gotHeaders = true;
        res.on('error', () => undefined);
      });
      await sleep(300);
      assert.ok(reads > 0 && reads < SERIES, `the query is running (${reads} reads)`);
      req.destroy();
      let counted = before;
      for (let i = 0; i < 100 && counted === before; i++) {
        await sleep(20);
        counted = await sample(node, 'tsdb_query_cancellations_total', 'endpoint="query",reason="disconnect"');
      }
      assert.equal(counted, before + 1, 'one cancellation counted');
      const atCancel = reads;
      await sleep(300);
      assert.ok(reads <= atCancel + 1, `reading stopped (${atCancel} reads at cancel, ${reads} later)`);
      assert.ok(reads < SERIES, `not every series was read (${reads} of ${SERIES})`);
      assert.equal(gotHeaders, mode.bufferBytes === 0, 'a streamed answer sent its headers early; a buffered one did not');
      // The server keeps serving, over the same listener.
      const ok = await fetch(new URL(`/api/v1/query?selector=gone_m{s="00001"}&start=0&end=${T + 1e6}`, url));
      assert.equal(ok.status, 200);
      const body = (await ok.json()) as { series: Array<{ points: unknown[] }>; partial: boolean };
      assert.equal(body.series.length, 1);
      assert.equal(body.series[0]!.points.length, 500);
      assert.equal((await fetch(new URL('/health', url))).status, 200);
    });
  });
}

describe('query timeout while the answer streams', () => {
  let node: Node;
  before(async () => {
    node = await testNode({ queryTimeout: 150, queryBufferBytes: 0 });
    await fill(node, 'late_m', 40, 100);
    const reader = node.materializer!;
    const readSeries = reader.readSeries.bind(reader);
    reader.readSeries = async (p, id, start, end) => {
      await sleep(20);
      return readSeries(p, id, start, end);
    };
  });
  after(async () => node.dispose());

  it('ends the 200 body with truncated:true and TSDB_ERR_QUERY_TIMEOUT, as valid JSON', async () => {
    const res = await node.app.inject({ url: `/api/v1/query?selector=late_m&start=0&end=${T + 1e6}` });
    assert.equal(res.statusCode, 200);
    const body = JSON.parse(res.body) as { series: Array<{ points: unknown[] }>; partial: boolean; truncated: boolean; error: { code: string; retriable: boolean } };
    assert.equal(body.truncated, true);
    assert.equal(body.partial, true);
    assert.equal(body.error.code, 'TSDB_ERR_QUERY_TIMEOUT');
    assert.equal(body.error.retriable, true);
    assert.ok(body.series.length > 0 && body.series.length < 40, `${body.series.length} whole series before the timeout`);
    for (const s of body.series) assert.equal(s.points.length, 100);
    assert.equal(await sample(node, 'tsdb_query_cancellations_total', 'endpoint="query",reason="timeout"'), 1);
  });
});
