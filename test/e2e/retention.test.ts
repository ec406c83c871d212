import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { postJson, query } from '../helpers/http-client.js';
import { startServer, waitReady, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const H = 3_600_000;

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function seriesOf(url: string, selector: string): Promise<string[]> {
  const r = await fetch(`${url}/api/v1/series?selector=${encodeURIComponent(selector)}`);
  assert.equal(r.status, 200);
  return ((await r.json()) as { series: Array<{ tags: { host: string } }> }).series.map((s) => s.tags.host).sort();
}

describe('retention in a running node, then kill -9 and restart', () => {
  const tmp = tempDir('retention-e2e');
  let server: ServerProcess | undefined;
  after(async () => {
    await server?.kill9();
    tmp.cleanup();
  });

  it('deletes expired series; a restart loads the id gaps, queries no longer show them, new series get fresh ids', async () => {
    const args = ['--partitions', '2', '--flush-interval', '100ms', '--block-window', '1h', '--retention', '3h', '--retention-overrides', 'audit=0', '--retention-interval', '1s'];
    server = await startServer(tmp.dir, args);
    await waitReady(server.url);
    const now = Date.now();
    const old = now - 10 * H;
    const points = [
      ...['a', 'b', 'c'].map((host) => ({ metric: 'ret_old', tags: { host }, timestamp: old, value: 1 })),
      { metric: 'ret_mixed', tags: { host: 'm' }, timestamp: old, value: 2 },
      { metric: 'ret_mixed', tags: { host: 'm' }, timestamp: now, value: 3 },
      { metric: 'audit', tags: { host: 'k' }, timestamp: old, value: 4 },
      { metric: 'ret_new', tags: { host: 'n' }, timestamp: now, value: 5 },
    ];
    assert.equal((await postJson(server.url, { points })).status, 200);
    // Flush (100 ms), then a retention pass (1 s) removes the three ret_old series and ret_mixed's old block.
    for (let i = 0; i < 200 && (await metric(server.url, 'tsdb_retention_series_deleted_total')) < 3; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await metric(server.url, 'tsdb_retention_series_deleted_total'), 3);
    assert.equal(await metric(server.url, 'tsdb_retention_blocks_deleted_total'), 4);

    await server.kill9();
    server = await startServer(tmp.dir, args);
    await waitReady(server.url);
    assert.deepEqual(await seriesOf(server.url, 'ret_old'), []);
    assert.deepEqual(await seriesOf(server.url, '{__name__=~"ret_.*|audit"}'), ['k', 'm', 'n']);
    const ans = await query(server.url, { selector: '{__name__=~"ret_.*|audit"}', start: old - H, end: now + 1 });
    const got = ans.series.map((s) => [s.metric, s.tags.host, s.points.map((p) => p[1])]).sort();
    assert.deepEqual(got, [['audit', 'k', [4]], ['ret_mixed', 'm', [3]], ['ret_new', 'n', [5]]]);

    // A removed series written again comes back (under a new id) and survives another restart.
    assert.equal((await postJson(server.url, { points: [{ metric: 'ret_old', tags: { host: 'a' }, timestamp: now, value: 6 }, { metric: 'ret_fresh', tags: { host: 'f' }, timestamp: now, value: 7 }] })).status, 200);
    assert.equal(await server.stop(), 0);
    server = await startServer(tmp.dir, args);
    await waitReady(server.url);
    const again = await query(server.url, { selector: '{__name__=~"ret_old|ret_fresh"}', start: old - H, end: now + 1 });
    assert.deepEqual(again.series.map((s) => [s.metric, s.tags.host, s.points.map((p) => p[1])]).sort(), [['ret_fresh', 'f', [7]], ['ret_old', 'a', [6]]]);
  });
});
