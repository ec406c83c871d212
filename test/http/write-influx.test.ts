import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { logSize, testNode } from '../helpers/test-node.js';

type Node = Awaited<ReturnType<typeof testNode>>;
const NOW = Date.now();
const NS = `${NOW}000000`;

for (const ingestWorkers of [1, 0]) describe(`POST /api/v1/write/influx (line protocol, --ingest-workers ${ingestWorkers})`, () => {
  let node: Node;
  before(async () => {
    node = await testNode({ partitions: 4, maxPointsPerRequest: 100, ingestWorkers });
  });
  after(async () => node.dispose());

  const post = (payload: string, query = '', contentType: string | undefined = 'text/plain; charset=utf-8') =>
    node.app.inject({ method: 'POST', url: `/api/v1/write/influx${query}`, payload, headers: contentType ? { 'content-type': contentType } : {} });

  it('one point per numeric field, metric <measurement>_<field>, the line\'s tags; escapes, integers, booleans, precisions', async () => {
    const body = [
      '# a comment, then an empty line',
      '',
      `lp_cpu,host=a,region=eu-west usage_user=58,usage_idle=2.5e1,up=t ${NS}`,
      `lp_cpu,host=a,region=eu-west usage_user=59i ${NOW + 1000}000000`,
      `lp_disk,host=b\\ 1,path=/a\\,b free=7u,ro=false ${NS}\r`,
    ].join('\n');
    const res = await post(body);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().accepted, 6);
    const token = res.json().token as string;
    const q = async (sel: string) => {
      const r = await node.app.inject({ url: `/api/v1/query?selector=${encodeURIComponent(sel)}&start=${NOW - 1}&end=${NOW + 2000}&after=${token}` });
      assert.equal(r.statusCode, 200, r.body);
      return r.json().series as Array<{ metric: string; tags: Record<string, string>; points: Array<[number, number]> }>;
    };
    const user = await q('lp_cpu_usage_user');
    assert.deepEqual(user.map((s) => [s.tags, s.points]), [[{ host: 'a', region: 'eu-west' }, [[NOW, 58], [NOW + 1000, 59]]]]);
    assert.deepEqual((await q('lp_cpu_usage_idle'))[0]!.points, [[NOW, 25]]);
    assert.deepEqual((await q('lp_cpu_up'))[0]!.points, [[NOW, 1]]);
    const disk = await q('{__name__=~"lp_disk_.*"}');
    assert.deepEqual(disk.map((s) => [s.metric, s.tags, s.points]).sort(), [['lp_disk_free', { host: 'b 1', path: '/a,b' }, [[NOW, 7]]], ['lp_disk_ro', { host: 'b 1', path: '/a,b' }, [[NOW, 0]]]]);
    // precision=s and a missing timestamp (the server's now)
    const s = await post(`lp_prec v=1 ${Math.floor(NOW / 1000)}\nlp_prec2 v=2`, '?precision=s', undefined);
    assert.equal(s.statusCode, 200, s.body);
    const prec = await node.app.inject({ url: `/api/v1/last?selector=lp_prec_v&after=${s.json().token}` });
    assert.equal(prec.json().series[0].points[0][0], Math.floor(NOW / 1000) * 1000);
    const noTs = await node.app.inject({ url: `/api/v1/last?selector=lp_prec2_v&after=${s.json().token}` });
    assert.ok(Math.abs(noTs.json().series[0].points[0][0] - Date.now()) < 60_000);
  });

  async function expectRejected(payload: string, status: number, code: string, check: (b: { error: { message: string; details: Array<{ field?: string; reason: string }> } }) => void, query = '') {
    const before = await logSize(node);
    const res = await post(payload, query);
    assert.equal(res.statusCode, status, res.body);
    const body = res.json();
    assert.equal(body.error.code, code, res.body);
    assert.match(body.error.message, /^cannot /);
    check(body);
    assert.equal(await logSize(node), before, 'a rejected request must write nothing');
  }

  it('malformed lines: every bad line by number and reason, nothing written', () =>
    expectRejected(
      [`ok v=1 ${NS}`, 'no_fields', `m,host v=1 ${NS}`, `m s="text" ${NS}`, `m v=abc ${NS}`, `m v=1 12x`, `m v=1 ${NS}`].join('\n'),
      400,
      'TSDB_ERR_WRITE_MALFORMED',
      (b) => {
        assert.deepEqual(b.error.details.map((d) => d.field), ['line 2', 'line 3', 'line 4', 'line 5', 'line 6']);
        assert.match(b.error.details[2]!.reason, /string values are not supported/);
        assert.match(b.error.details[4]!.reason, /timestamp "12x" is not an integer/);
        assert.match(b.error.message, /5 lines are malformed; nothing was written/);
      },
    ));

  it('invalid names, values and times: the lines, with what is wrong', () =>
    expectRejected(
      [`good v=1 ${NS}`, `bad-name v=1 ${NS}`, `m,__x=1 v=1 ${NS}`, `m v=1 ${NOW + 7_200_000}000000`, `bad-name v=2 ${NS}`].join('\n'),
      400,
      'TSDB_ERR_WRITE_INVALID',
      (b) => {
        assert.deepEqual(b.error.details.map((d) => [d.field, d.reason.split(':')[0]]), [
          ['line 2', 'metric'],
          ['line 3', 'tags.__x'],
          ['line 2', 'metric or tags are invalid (see line 2)'],
          ['line 3', 'metric or tags are invalid (see line 3)'],
          ['line 4', 'timestamp'],
          ['line 5', 'metric or tags are invalid (see line 2)'],
        ]);
      },
    ));

  it('a bad precision is a 400', async () => {
    const res = await post(`m v=1 ${NS}`, '?precision=h');
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error.code, 'TSDB_ERR_HTTP_BAD_REQUEST');
  });

  it('text/plain is still refused on /api/v1/write', async () => {
    const res = await node.app.inject({ method: 'POST', url: '/api/v1/write', payload: 'm v=1', headers: { 'content-type': 'text/plain' } });
    assert.equal(res.statusCode, 415, res.body);
    assert.match(res.json().error.message, /\/api\/v1\/write\/influx/);
  });
});
