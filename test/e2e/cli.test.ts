import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePointBatch } from '../../src/codec/avro-record.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tsdb = (args: string[], input?: string | Buffer) => spawnSync(process.execPath, [MAIN, ...args], { input, encoding: 'utf8' });

describe('tsdb CLI', () => {
  const tmp = tempDir('cli');
  let server: ServerProcess;
  before(async () => {
    server = await startServer(join(tmp.dir, 'data'));
  });
  after(async () => {
    await server.stop();
    tmp.cleanup();
  });

  it('--help works for every command and exits 0', () => {
    for (const args of [['--help'], ['serve', '--help'], ['write', '--help'], ['query', '--help']]) {
      const r = tsdb(args);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Usage: tsdb/);
    }
    assert.match(tsdb(['serve', '--help']).stdout, /--data-dir.*\n.*TSDB_DATA_DIR/);
  });

  it('bad usage exits non-zero with one line on stderr', () => {
    for (const args of [['frobnicate'], ['serve', '--port', 'eighty'], ['query', 'm'], ['serve', '--no-such-flag']]) {
      const r = tsdb(args);
      assert.notEqual(r.status, 0, `${args.join(' ')} should fail`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^tsdb: /);
    }
  });

  it('writes NDJSON, JSON and Avro files and queries them back', () => {
    const now = Date.now();
    const nd = join(tmp.dir, 'p.ndjson');
    writeFileSync(nd, [0, 1, 2].map((i) => JSON.stringify({ metric: 'cli_m', tags: { src: 'nd' }, timestamp: now - i, value: i })).join('\n') + '\n');
    const js = join(tmp.dir, 'p.json');
    writeFileSync(js, JSON.stringify({ points: [{ metric: 'cli_m', tags: { src: 'json' }, timestamp: now, value: 7 }] }));
    const av = join(tmp.dir, 'p.avro');
    writeFileSync(av, encodePointBatch([{ metric: 'cli_m', tags: { src: 'avro' }, timestamp: now, value: 9 }]));
    let token = '';
    for (const f of [nd, js, av]) {
      const r = tsdb(['write', '--url', server.url, f]);
      assert.equal(r.status, 0, r.stderr);
      token = JSON.parse(r.stdout.trim().split('\n').at(-1)!).token;
    }
    const q = tsdb(['query', '--url', server.url, 'cli_m{src!="json"}', '--start', String(now - 10), '--end', String(now + 1), '--after', token]);
    assert.equal(q.status, 0, q.stderr);
    const ans = JSON.parse(q.stdout);
    assert.deepEqual(ans.series.map((s: { tags: { src: string }; points: unknown[] }) => [s.tags.src, s.points.length]), [['avro', 1], ['nd', 3]]);
  });

  it('reports a rejected write with its reason and a non-zero exit', () => {
    const r = tsdb(['write', '--url', server.url, '-'], JSON.stringify({ points: [{ metric: 'bad metric', timestamp: 1, value: 1 }] }));
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /HTTP 400: TSDB_ERR_WRITE_INVALID/);
  });
});
