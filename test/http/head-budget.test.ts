import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../helpers/seeded-random.js';
import { testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;

const BUDGET = 32 * 1024;
const SERIES = 400;
const REQUESTS = 60;
/** Upper bound of one point's encoded size in a Gorilla head (first point: 16 bytes; an escaped timestamp a little more). */
const MAX_POINT_BYTES = 20;
const T0 = Date.now() - 3_600_000;

describe('--head-max-bytes: all partitions\' heads together stay within the budget under load', () => {
  let node: Node;
  before(async () => {
    // No interval flush and a large per-partition cap: only the budget can flush.
    node = await testNode({ partitions: 8, headMaxBytes: BUDGET, flushInterval: 3_600_000, headMaxPoints: 10_000_000, compactionInterval: 0 });
  });
  after(async () => node.dispose());

  const scrape = async (): Promise<{ headBytes: number; memoryFlushes: number }> => {
    const body = (await node.app.inject({ url: '/metrics' })).body;
    const num = (re: RegExp): number => Number(re.exec(body)?.[1] ?? 0);
    return { headBytes: num(/^tsdb_head_bytes (\S+)$/m), memoryFlushes: num(/^tsdb_materializer_flushes_total\{reason="memory"\} (\S+)$/m) };
  };

  it('head bytes never exceed the budget plus one request, memory flushes happen, and every point is queryable', async () => {
    const rnd = seededRandom('head-budget');
    // Random doubles compress badly (about 10 bytes a point), so heads grow fast.
    const values: number[][] = Array.from({ length: SERIES }, () => []);
    let samples = 0;
    let maxSeen = 0;
    let writing = true;
    const sampler = (async () => {
      while (writing) {
        const { headBytes } = await scrape();
        maxSeen = Math.max(maxSeen, headBytes);
        samples++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    let token = '';
    for (let r = 0; r < REQUESTS; r++) {
      const lines: string[] = [];
      for (let s = 0; s < SERIES; s++) {
        const v = rnd.next() * 1e6 - 5e5;
        values[s]!.push(v);
        lines.push(`hb_cpu,host=h${s} v=${v} ${T0 + r * 10_000}000000`);
      }
      const res = await node.app.inject({ method: 'POST', url: '/api/v1/write/influx', payload: lines.join('\n'), headers: { 'content-type': 'text/plain' } });
      assert.equal(res.statusCode, 200, res.body);
      token = res.json().token as string;
    }
    // Let the materializer catch up (a query with the last token waits for it), then stop sampling.
    const caughtUp = await node.app.inject({ url: `/api/v1/last?selector=hb_cpu_v&after=${encodeURIComponent(token)}` });
    assert.equal(caughtUp.statusCode, 200, caughtUp.body);
    writing = false;
    await sampler;
    const end = await scrape();
    maxSeen = Math.max(maxSeen, end.headBytes);

    const oneRequest = SERIES * MAX_POINT_BYTES;
    console.log(`head bytes peak ${maxSeen} (budget ${BUDGET}), ${samples} samples, ${end.memoryFlushes} memory flushes`);
    assert.ok(samples > 10, `sampled ${samples} times`);
    assert.ok(maxSeen <= BUDGET + oneRequest, `head bytes peaked at ${maxSeen} > budget ${BUDGET} + one request ${oneRequest}`);
    // Without the budget the heads would hold everything (far more than the budget): it must have flushed.
    assert.ok(end.memoryFlushes >= 5, `memory flushes: ${end.memoryFlushes}`);

    const q = await node.app.inject({ url: `/api/v1/query?selector=hb_cpu_v&start=${T0}&end=${T0 + REQUESTS * 10_000}&after=${encodeURIComponent(token)}` });
    assert.equal(q.statusCode, 200, q.body);
    const series = q.json().series as Array<{ tags: Record<string, string>; points: Array<[number, number]> }>;
    assert.equal(series.length, SERIES);
    for (const s of series) {
      const i = Number(s.tags.host!.slice(1));
      assert.deepEqual(s.points, values[i]!.map((v, r) => [T0 + r * 10_000, v]), `series ${s.tags.host}`);
    }
  });
});
