/**
 * kill -9 while compaction and hot→cold moves run all the time (docs/storage-lifecycle.md): tiny block windows, a
 * one-second hot duration, compaction passes every 20 ms with no grace, and writes spread over the last 30 s, so
 * late points go straight to cold, recent windows turn cold (and move) every second and every window gets sealed.
 * Kills from outside land anywhere (often between a flush's cold and hot batch: "tornFlushesRecovered"); in odd
 * rounds the node also SIGKILLs itself between the two batches of a move with probability 1 % per move
 * (TSDB_TEST_KILL_IN_MOVE_GAP, "diedInMoveGap"). After the last restart every acknowledged point must be queryable
 * with its value, the hot tier must end empty (every window is cold by then), and both tiers together must hold each
 * point exactly once, with no flush intent left behind.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createStore } from '../../src/store/open-store.js';
import { PREFIX_BLOCK, PREFIX_INTENT } from '../../src/store/row-keys.js';
import { bits, postJson, query } from '../helpers/http-client.js';
import { rawStoredPoints } from '../helpers/stored-points.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
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
    const rounds = 10;
    const totals = { compactions: 0, moves: 0, merged: 0, tornFlushesRecovered: 0, diedInMoveGap: 0 };
    // Odd rounds: the node also SIGKILLs itself between the two batches of a move now and then (test-only hook).
    const env = (round: number) => (round % 2 === 1 ? { TSDB_TEST_KILL_IN_MOVE_GAP: '0.01' } : {});
    const alive = (s: ServerProcess): boolean => s.child.exitCode === null && s.child.signalCode === null;
    /** Starts the node until one is ready (one started with the hook may die while it replays). */
    const boot = async (e: NodeJS.ProcessEnv): Promise<ServerProcess> => {
      for (let attempt = 0; ; attempt++) {
        const s = await startServer(tmp.dir, args, attempt === 0 ? e : {}).catch(() => undefined);
        while (s && alive(s)) {
          const r = await fetch(`${s.url}/ready`).catch(() => undefined);
          if (r?.status === 200) return s;
          await new Promise((res) => setTimeout(res, 50));
        }
        totals.diedInMoveGap++;
      }
    };
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
            // 60 series, mostly recent points: many small hot windows turn cold every second, so moves are
            // frequent enough for kills to land between a move's two batches; the rest are late points for cold windows.
            const s = `s${rnd.int(0, 59)}`;
            const timestamp = now - (rnd.next() < 0.85 ? rnd.int(0, 3000) : rnd.int(0, 30_000));
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
      if (!alive(server)) totals.diedInMoveGap++;
      await server.kill9();
      stop = true;
      await Promise.all(writers);
      server = await boot(env(round + 1 < rounds ? round + 1 : 0));
      if (server.output().includes('removed cold blocks of flushes whose hot batch never committed')) totals.tornFlushesRecovered++;
    }
    const ans = await query(server.url, { selector: 'lc_crash', start: first, end: last + 1 });
    const visible = new Map<string, string>();
    for (const s of ans.series) for (const [t, v] of s.points) visible.set(`lc_crash{s="${s.tags.s}"}@${t}`, bits(v as number));
    for (const [k, v] of acked) assert.equal(visible.get(k), v, `acknowledged point ${k} missing or wrong after restart`);
    // No more writes: within seconds every window is cold, so the passes must move everything (including what a kill
    // left half done, a window in both tiers) and the hot tier ends empty.
    let m = '';
    for (let i = 0; i < 600; i++) {
      m = await scrape(server.url);
      if (counter(m, 'tsdb_storage_job_passes_total') > 0 && counter(m, 'tsdb_store_blocks{partition="0",tier="hot"}') + counter(m, 'tsdb_store_blocks{partition="1",tier="hot"}') === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
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
    assert.equal(hotBlocks, 0, `every window is cold, yet the hot tier holds ${hotBlocks} blocks`);
    // At least one block per (series, window) holding a stored point (exactly one once sealed; the graceful stop's
    // last flush may add fragments after the last pass).
    const pairs = new Set([...stored.keys()].map((k) => `${k.slice(0, k.lastIndexOf('@'))}@${Math.floor(Number(k.slice(k.lastIndexOf('@') + 1)) / 2000)}`));
    assert.ok(coldBlocks >= pairs.size, `${coldBlocks} cold blocks for ${pairs.size} (series, window) pairs`);
    assert.ok(acked.size > 1000, `the test wrote too little to mean anything (${acked.size} points)`);
    assert.ok(totals.compactions > 0 && totals.moves > 0, `compaction and moves ran: ${JSON.stringify(totals)}`);
    console.log(`# crash-lifecycle: ${acked.size} acknowledged points, ${stored.size} stored, ${rounds} kills, seen before kills ${JSON.stringify(totals)}, blocks hot ${hotBlocks} cold ${coldBlocks} for ${pairs.size} (series, window) pairs`);
  });
});
