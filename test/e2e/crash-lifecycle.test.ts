/**
 * kill -9 while compaction and hot→cold moves run all the time (docs/storage-lifecycle.md): tiny block windows, a
 * one-second hot duration, compaction passes every 20 ms with no grace, and writes spread over the last 30 s, so
 * late points go straight to cold, recent windows turn cold (and move) every few seconds and every window gets sealed
 * — a kill lands during a seal or move most of the time. After the last restart every acknowledged point must be
 * queryable with its value, and the stores (both tiers) must hold it exactly once, with no flush intent left behind.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createStore } from '../../src/store/open-store.js';
import { PREFIX_BLOCK, PREFIX_INTENT } from '../../src/store/row-keys.js';
import { bits, postJson, query } from '../helpers/http-client.js';
import { rawStoredPoints } from '../helpers/stored-points.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { startServer, waitReady, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Sum of a counter's samples in a Prometheus text scrape. */
function counter(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

async function scrape(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

async function countKeys(location: string, prefix: number): Promise<number> {
  const s = createStore({ backend: 'classic-level', location });
  await s.open();
  let n = 0;
  for await (const _ of s.iterate({ gte: Buffer.from([prefix]), lt: Buffer.from([prefix + 1]) })) n++;
  await s.close();
  return n;
}

describe('crash safety with compaction and tiering: kill -9 during seals and moves loses and duplicates nothing', () => {
  const tmp = tempDir('crash-lifecycle');
  const rnd = seededRandom('crash-lifecycle');
  let server: ServerProcess | undefined;
  after(async () => {
    await server?.kill9();
    tmp.cleanup();
  });

  it('every acknowledged point is stored exactly once across both tiers after repeated kill -9', async () => {
    const acked = new Map<string, string>(); // "series key@t" → value bits
    const used = new Set<string>();
    const args = ['--partitions', '2', '--flush-interval', '100ms', '--head-max-points', '2000', '--block-window', '2s', '--hot-duration', '1s', '--compaction-interval', '20ms', '--compaction-grace', '0', '--compaction-max-fragments', '2'];
    server = await startServer(tmp.dir, args);
    const rounds = 8;
    const totals = { compactions: 0, moves: 0, merged: 0, tornFlushesRecovered: 0 };
    let first = Number.MAX_SAFE_INTEGER;
    let last = 0;
    for (let round = 0; round < rounds; round++) {
      const url = server.url;
      let stop = false;
      const writer = async (): Promise<void> => {
        while (!stop) {
          const now = Date.now();
          const points = [];
          for (let i = rnd.int(1, 200); i > 0; i--) {
            const s = `s${rnd.int(0, 19)}`;
            const timestamp = now - rnd.int(0, 30_000);
            if (used.has(`${s}@${timestamp}`)) continue;
            used.add(`${s}@${timestamp}`);
            first = Math.min(first, timestamp);
            last = Math.max(last, timestamp);
            points.push({ metric: 'lc_crash', tags: { s }, timestamp, value: rnd.next() * 1000 - 500 });
          }
          try {
            const r = await postJson(url, { points });
            if (r.status === 200) for (const p of points) acked.set(`lc_crash{s="${p.tags.s}"}@${p.timestamp}`, bits(p.value));
          } catch {
            return; // the server died mid-request: not acknowledged
          }
        }
      };
      const writers = Array.from({ length: 3 }, writer);
      await new Promise((r) => setTimeout(r, rnd.int(1500, 3500)));
      const m = await scrape(url).catch(() => '');
      totals.compactions += counter(m, 'tsdb_compactions_total');
      totals.moves += counter(m, 'tsdb_tier_moves_total');
      totals.merged += counter(m, 'tsdb_compaction_fragments_merged_total');
      await new Promise((r) => setTimeout(r, rnd.int(0, 300)));
      await server.kill9();
      stop = true;
      await Promise.all(writers);
      server = await startServer(tmp.dir, args);
      await waitReady(server.url);
      if (server.output().includes('removed cold blocks of flushes whose hot batch never committed')) totals.tornFlushesRecovered++;
    }
    const ans = await query(server.url, { selector: 'lc_crash', start: first, end: last + 1 });
    const visible = new Map<string, string>();
    for (const s of ans.series) for (const [t, v] of s.points) visible.set(`lc_crash{s="${s.tags.s}"}@${t}`, bits(v as number));
    for (const [k, v] of acked) assert.equal(visible.get(k), v, `acknowledged point ${k} missing or wrong after restart`);
    // Let the restarted node settle what a kill left half done (a window in both tiers), then stop it gracefully.
    const passes = counter(await scrape(server.url), 'tsdb_storage_job_passes_total');
    for (let i = 0; i < 200 && counter(await scrape(server.url), 'tsdb_storage_job_passes_total') < passes + 3; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 3000)); // every written window is cold by now: the last passes move them
    const m = await scrape(server.url);
    totals.compactions += counter(m, 'tsdb_compactions_total');
    totals.moves += counter(m, 'tsdb_tier_moves_total');
    assert.equal(await server.stop(), 0);
    server = undefined;
    const stored = await rawStoredPoints(tmp.dir);
    let dups = 0;
    for (const list of stored.values()) if (list.length !== 1) dups++;
    assert.equal(dups, 0, `${dups} points stored more than once`);
    for (const [k, v] of acked) assert.deepEqual(stored.get(k), [v], `acknowledged point ${k} not stored exactly once`);
    assert.equal(await countKeys(join(tmp.dir, 'cold'), PREFIX_INTENT), 0, 'flush intents left in the cold tier');
    const hotBlocks = await countKeys(join(tmp.dir, 'store'), PREFIX_BLOCK);
    const coldBlocks = await countKeys(join(tmp.dir, 'cold'), PREFIX_BLOCK);
    assert.ok(acked.size > 1000, `the test wrote too little to mean anything (${acked.size} points)`);
    assert.ok(totals.compactions > 0 && totals.moves > 0, `compaction and moves ran: ${JSON.stringify(totals)}`);
    console.log(`# crash-lifecycle: ${acked.size} acknowledged points, ${stored.size} stored, ${rounds} kills, seen before kills ${JSON.stringify(totals)}, blocks hot ${hotBlocks} cold ${coldBlocks}`);
  });
});
