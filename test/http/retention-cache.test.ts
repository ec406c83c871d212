import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;
const H = 3_600_000;

describe('answers cached before retention deleted data are not served after it', () => {
  let node: Node;
  before(async () => {
    node = await testNode({ partitions: 2, retention: 3 * H, retentionInterval: 3_600_000, blockWindow: H });
  });
  after(async () => node.dispose());

  it('raw queries and series lists change once retention ran, with no new writes', async () => {
    const now = Date.now();
    const points = [
      { metric: 'rc_m', tags: { host: 'old' }, timestamp: now - 10 * H, value: 1 },
      { metric: 'rc_m', tags: { host: 'new' }, timestamp: now, value: 2 },
    ];
    const w = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: { points } });
    assert.equal(w.statusCode, 200, w.body);
    const token = w.json().token as string;
    const q = `/api/v1/query?selector=rc_m&start=${now - 11 * H}&end=${now + 1}&after=${token}`;
    const hosts = async (): Promise<string[]> => {
      const r = await node.app.inject({ url: q });
      assert.equal(r.statusCode, 200, r.body);
      return (r.json().series as Array<{ tags: { host: string } }>).map((s) => s.tags.host).sort();
    };
    const listed = async (): Promise<string[]> => {
      const r = await node.app.inject({ url: `/api/v1/series?selector=rc_m` });
      return (r.json().series as Array<{ tags: { host: string } }>).map((s) => s.tags.host).sort();
    };
    assert.deepEqual(await hosts(), ['new', 'old']); // waits for the write to be applied
    await node.materializer!.flushAll();
    assert.deepEqual(await hosts(), ['new', 'old']); // now cached
    assert.deepEqual(await listed(), ['new', 'old']);
    assert.deepEqual(await node.materializer!.runRetention(), { blocks: 1, series: 0 });
    assert.deepEqual(await hosts(), ['new']);
    assert.deepEqual(await listed(), ['new', 'old']); // its points are gone; the series goes on the next pass
    assert.deepEqual(await node.materializer!.runRetention(), { blocks: 0, series: 1 });
    assert.deepEqual(await listed(), ['new']);
  });
});
