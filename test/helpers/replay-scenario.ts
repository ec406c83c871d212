import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { postJson } from './http-client.js';
import { seededRandom } from './seeded-random.js';
import { startServer, waitReady } from './server-process.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Raw answers of a fixed set of queries, as bytes: replayed state must answer byte-identically. */
async function snapshotAnswers(url: string, base: number): Promise<string[]> {
  const out: string[] = [];
  const queries = [
    { selector: 'replay_m', start: base - 1, end: base + 10_000_000 },
    { selector: 'replay_m{dc="eu"}', start: base + 1000, end: base + 500_000 },
    { selector: 'replay_m', start: base - 1, end: base + 10_000_000, fn: 'sum', step: '1m', by: 'dc' },
  ];
  for (const q of queries) {
    const qs = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)]));
    const res = await fetch(`${url}/api/v1/query?${qs}`);
    assert.equal(res.status, 200);
    out.push(await res.text());
  }
  out.push(await (await fetch(`${url}/api/v1/series?selector=replay_m`)).text());
  return out;
}

/**
 * Writes data, records query answers, then (1) `tsdb replay --all --from earliest` and (2) deletes the store
 * directory and lets the node rebuild itself on start; both times the answers must be byte-identical.
 */
export async function replayScenario(dataDir: string, serveArgs: string[]): Promise<void> {
  const rnd = seededRandom('replay');
  const base = Date.now() - 3_600_000;
  let server = await startServer(dataDir, serveArgs);
  let token = '';
  for (let b = 0; b < 20; b++) {
    const points = Array.from({ length: 500 }, (_, i) => {
      const s = rnd.int(0, 49);
      return { metric: 'replay_m', tags: { s: `s${s}`, dc: s % 3 ? 'eu' : 'us' }, timestamp: base + rnd.int(0, 3_000_000), value: rnd.next() * 100 };
    });
    const r = await postJson(server.url, { points });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    token = r.body.token;
  }
  await fetch(`${server.url}/api/v1/query?selector=replay_m&start=0&end=1&after=${encodeURIComponent(token)}`);
  const before = await snapshotAnswers(server.url, base);
  assert.equal(await server.stop(), 0);

  const r = spawnSync(process.execPath, [MAIN, 'replay', '--all', '--from', 'earliest', '--data-dir', dataDir, ...serveArgs], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /replay \[#+\] 100\.0%/);
  const summary = JSON.parse(r.stdout.trim());
  assert.equal(summary.records > 0, true);

  server = await startServer(dataDir, serveArgs);
  await waitReady(server.url);
  assert.deepEqual(await snapshotAnswers(server.url, base), before, 'answers after tsdb replay differ');
  assert.equal(await server.stop(), 0);

  rmSync(join(dataDir, 'store'), { recursive: true, force: true });
  server = await startServer(dataDir, serveArgs);
  await waitReady(server.url);
  assert.deepEqual(await snapshotAnswers(server.url, base), before, 'answers after rebuilding a wiped store differ');
  assert.equal(await server.stop(), 0);
}
