import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createNode, type V3Node } from '../../src/cli/node.js';
import { defaultServeConfig } from '../../src/common/config.js';
import { silentLogger } from '../../src/common/logger.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('GET /api/v1/last answers from the last-value index, across flushes and restarts', () => {
  const tmp = tempDir('last');
  const config = defaultServeConfig({ dataDir: tmp.dir, port: 0, partitions: 2, flushInterval: 3_600_000 });
  let node: V3Node;
  after(async () => {
    await node?.close();
    tmp.cleanup();
  });
  const T = 1_700_000_000_000;

  async function write(points: Array<[string, number, number]>): Promise<string> {
    const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points: points.map(([s, t, v]) => ({ metric: 'lp', tags: { s }, timestamp: T + t, value: v })) } });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().token;
  }
  async function last(token?: string): Promise<Record<string, [number, number]>> {
    if (token) await node.app.inject({ url: `/api/v1/series?selector=lp&after=${encodeURIComponent(token)}` });
    const res = await node.app.inject({ url: '/api/v1/last?selector=lp' });
    assert.equal(res.statusCode, 200, res.body);
    const out: Record<string, [number, number]> = {};
    for (const s of res.json().series) out[s.tags.s] = [s.points[0][0] - T, s.points[0][1]];
    return out;
  }

  it('newest timestamp wins, the later write wins a tie; the same after flush and restart', async () => {
    node = await createNode({ config, logger: silentLogger() });
    let token = await write([['a', 10, 1], ['a', 30, 2], ['a', 20, 3], ['b', 5, 9]]);
    assert.deepEqual(await last(token), { a: [30, 2], b: [5, 9] });
    token = await write([['a', 30, 4]]);
    assert.deepEqual(await last(token), { a: [30, 4], b: [5, 9] });
    await node.materializer!.flushAll('test');
    assert.deepEqual(await last(), { a: [30, 4], b: [5, 9] });
    await node.close();

    node = await createNode({ config, logger: silentLogger() });
    assert.deepEqual(await last(), { a: [30, 4], b: [5, 9] }, 'from the stored newest window');
    token = await write([['a', 25, 7], ['b', 6, 8]]);
    assert.deepEqual(await last(token), { a: [30, 4], b: [6, 8] }, 'an older point after restart does not win');
    token = await write([['a', 30, 5]]);
    assert.deepEqual(await last(token), { a: [30, 5], b: [6, 8] }, 'a rewrite of the newest timestamp after restart wins');
  });
});
