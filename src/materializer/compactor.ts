import { FLAG_SEALED, FLAG_STRICTLY_INCREASING, decodeBlockHeader } from '../codec/block.js';
import type { Logger } from '../common/logger.js';
import type { Metrics } from '../common/metrics.js';
import { windowRange } from '../store/row-keys.js';
import type { BatchOp } from '../store/types.js';
import { scanTiers, type StoredBlock, type Tier } from './block-runs.js';
import type { PartitionState } from './partition-state.js';

/**
 * Test-only fault injection (test/e2e/crash-lifecycle.test.ts): the probability that the process SIGKILLs itself
 * between the two batches of a seal that spans both tiers (a move), so crash tests can land a kill exactly there.
 */
const KILL_IN_MOVE_GAP = Number(process.env['TSDB_TEST_KILL_IN_MOVE_GAP'] ?? 0);

export { encodeBlockFor } from './seal-codec.js';

/**
 * What a block counts for in the window tracker: 1 for a block that is already what sealing would write — a sealed
 * block, or (hot tier only) a fragment with strictly increasing timestamps —, 2 otherwise, so that a window holding
 * only such a block still counts as "more than one" and gets sealed (a cold fragment: to get the cold encoding).
 */
export function blockWeight(tier: Tier, value: Uint8Array): number {
  const flags = decodeBlockHeader(value, { verifyCrc: false }).flags;
  if (flags & FLAG_SEALED) return 1;
  return tier === 'hot' && flags & FLAG_STRICTLY_INCREASING ? 1 : 2;
}

export interface SealResult {
  /** Blocks merged (0: nothing to do). */
  merged: number;
  bytesBefore: number;
  bytesAfter: number;
  /** Hot blocks that went to cold. */
  moved: number;
  /** Value bytes this seal overwrote or deleted, per tier: dead entries until the store compacts them away. */
  freed: Freed;
}

export interface Freed {
  hot: number;
  cold: number;
}

/** One series' window read and merged, ready to be written (see commitSeals). */
export interface PreparedSeal {
  seriesId: number;
  window: number;
  range: { gte: Buffer; lt: Buffer };
  blocks: StoredBlock[];
  value: Buffer;
  targetOps: BatchOp[];
  otherOps: BatchOp[];
  result: SealResult;
}

/**
 * Reads one series' window from both tiers (snapshots taken while no flush is in flight) and merges every block it
 * holds into one block for `target` under the greatest merged key, with the deletions of the other merged keys.
 * 'none': nothing to do (the counts were refreshed); undefined: a flush left uncommitted cold blocks, not now.
 */
export async function prepareSeal(state: PartitionState, seriesId: number, window: number, target: Tier): Promise<PreparedSeal | 'none' | undefined> {
  const range = windowRange(state.partition, seriesId, window);
  const blocks = await state.whenQuiet(() => scanTiers(state.hot, state.cold, range));
  if (!blocks) return undefined;
  if (blocks.length === 0 || (blocks.length === 1 && blocks[0]!.tier === target && blockWeight(target, blocks[0]!.value) === 1)) {
    await recount(state, seriesId, window, range);
    return 'none';
  }
  const sealedKey = blocks[blocks.length - 1]!.key;
  // The CPU of the seal (decode, merge, encode) runs in a seal worker when the node has one (seal-pool.ts).
  const value = await state.sealer.seal(
    blocks.map((b) => b.value),
    target,
    state.rollupsMs,
  );
  const targetOps: BatchOp[] = [{ type: 'put', key: sealedKey, value }];
  const otherOps: BatchOp[] = [];
  let bytesBefore = 0;
  const freed: Freed = { hot: 0, cold: 0 };
  for (const b of blocks) {
    bytesBefore += b.value.length;
    freed[b.tier] += b.value.length;
    if (b.tier === target && b.key.equals(sealedKey)) continue;
    (b.tier === target ? targetOps : otherOps).push({ type: 'del', key: b.key });
  }
  const moved = target === 'cold' ? blocks.filter((b) => b.tier === 'hot').length : 0;
  return { seriesId, window, range, blocks, value, targetOps, otherOps, result: { merged: blocks.length, bytesBefore, bytesAfter: value.length, moved, freed } };
}

/**
 * Writes prepared seals of one target tier: every sealed block and the target tier's deletions in one synced batch
 * (each window's seal is atomic because the whole batch is), then the other tier's deletions in one synced batch.
 * Grouping many windows costs two fdatasyncs instead of two per window; the crash argument is per window and
 * unchanged (docs/storage-lifecycle.md): after the first batch every window of the group is in the "gap" state.
 */
export async function commitSeals(state: PartitionState, target: Tier, seals: PreparedSeal[]): Promise<SealResult[]> {
  if (seals.length === 0) return [];
  const storeOf = (t: Tier) => (t === 'hot' ? state.hot : state.cold!);
  const other: Tier = target === 'hot' ? 'cold' : 'hot';
  await storeOf(target).batch(seals.flatMap((p) => p.targetOps), { sync: true });
  const otherOps = seals.flatMap((p) => p.otherOps);
  if (otherOps.length > 0) {
    if (KILL_IN_MOVE_GAP > 0 && Math.random() < KILL_IN_MOVE_GAP) process.kill(process.pid, 'SIGKILL');
    await storeOf(other).batch(otherOps, { sync: true });
  }
  for (const p of seals) {
    for (const b of p.blocks) {
      state.account(b.tier, -1, -b.value.length);
      state.invalidateBlock(b.key);
    }
    state.account(target, 1, p.value.length);
  }
  // The store answers reads on its own threads: recounts overlap (a recount is two range scans).
  for (let i = 0; i < seals.length; i += RECOUNTS_IN_FLIGHT) {
    await Promise.all(seals.slice(i, i + RECOUNTS_IN_FLIGHT).map((p) => recount(state, p.seriesId, p.window, p.range)));
  }
  return seals.map((p) => p.result);
}

/**
 * Seals one series' window: every block it holds in either tier (read from snapshots taken while no flush is in
 * flight) becomes one block in `target` under the greatest merged key, written together with the deletion of the
 * other merged keys of that tier in one synced batch; then the merged keys of the other tier are deleted (synced).
 *
 * Why this is safe (docs/storage-lifecycle.md):
 *  - Every block of the window with a smaller key was merged, so nothing that sorts before the sealed block was
 *    left out; blocks a flush commits later have a greater flushSeq and still sort (and win) after it.
 *  - After the first batch and before the second, the other tier still holds some merged keys, all ≤ the sealed
 *    key. A read puts them before the sealed block (or, at the same key, next to it), and the sealed block holds
 *    the final value of each of their timestamps, so the answer is the same. A re-run merges them again into an
 *    identical block: idempotent. Output depends only on the blocks merged, so replicas seal identically.
 */
export async function sealWindow(state: PartitionState, seriesId: number, window: number, target: Tier): Promise<SealResult | undefined> {
  const p = await prepareSeal(state, seriesId, window, target);
  if (p === 'none') return { merged: 0, bytesBefore: 0, bytesAfter: 0, moved: 0, freed: { hot: 0, cold: 0 } };
  return p && (await commitSeals(state, target, [p]))[0];
}

/**
 * Sets the tracker's counts of one series' window from the stores (the tracker may have been behind: a window
 * dropped once settled is tracked again from zero when a late block arrives). Taken while no flush is in flight,
 * so no flush's block is counted twice or missed; when that is not possible now, the counts say "look again".
 */
async function recount(state: PartitionState, seriesId: number, window: number, range: { gte: Buffer; lt: Buffer }): Promise<void> {
  const blocks = await state.whenQuiet(() => scanTiers(state.hot, state.cold, range));
  const counts = { hot: 0, cold: 0 };
  if (blocks) for (const b of blocks) counts[b.tier] += blockWeight(b.tier, b.value);
  else counts.cold = counts.hot = 2;
  state.tracker.set(seriesId, window, counts.hot, counts.cold);
}

export interface StorageJobOptions {
  /** Windows that ended longer ago than this are compacted even with few fragments. */
  graceMs: number;
  /** A window with this many fragments is compacted whatever its age (and even while it is busy). */
  maxFragments: number;
  /**
   * Leave a window alone while it is busy (a block arrived since the previous pass over the partition began) unless
   * a series reached maxFragments or the window has hot blocks to move: a window being loaded is sealed once, when
   * it goes quiet, not once per pass. The background job sets it; without it every due window is sealed now.
   */
  deferBusy?: boolean;
  logger: Logger;
  metrics: Metrics;
  /** Checked between windows: stop early. */
  stopped: () => boolean;
  /** Adds the value bytes the pass's seals made dead in each tier (storage-jobs.ts compacts the stores from it). */
  freed?: Freed;
}

/** Seals written per synced batch, and the bytes of sealed blocks that end a group early. */
const GROUP_SEALS = 256;
const GROUP_BYTES = 4 * 1024 * 1024;
/** Seals prepared at once (each may wait on a seal worker and on the store's reads). */
const SEALS_IN_FLIGHT = 16;
const RECOUNTS_IN_FLIGHT = 16;

/**
 * One pass over a partition's tracked windows, in two rounds: first what moves or compacts hot data (windows that
 * turned cold with hot blocks, hot windows due for compaction), newest window first, so the hot tier stays small
 * even when the pass cannot keep up; then cold windows whose only work is merging late fragments. Seals of one
 * round are written in groups (commitSeals), a group ends at GROUP_SEALS seals, GROUP_BYTES, the end of the round,
 * a stop or a flush that is not committed yet.
 */
export async function compactPartition(state: PartitionState, o: StorageJobOptions): Promise<void> {
  const rescan = !state.scanned;
  if (rescan && !(await state.scanBlocks())) return;
  const since = state.tracker.beginPass();
  // A rescan stamped every window now: none of them is known to be busy.
  const busyFrom = o.deferBusy && !rescan ? since : Number.POSITIVE_INFINITY;
  const windows = state.tracker.windowStarts().reverse();
  let group: PreparedSeal[] = [];
  let groupTarget: Tier = 'hot';
  let groupBytes = 0;
  // Seals prepared concurrently, so a seal pool's workers are kept busy while this thread reads the next windows.
  let inflight: Array<Promise<PreparedSeal | 'none' | undefined>> = [];
  /** A flush left uncommitted cold blocks: stop the pass and try again next time. */
  let retry = false;
  const settle = async (): Promise<void> => {
    const prepared = await Promise.all(inflight);
    inflight = [];
    for (const p of prepared) {
      if (p === undefined) retry = true;
      else if (p !== 'none') {
        group.push(p);
        groupBytes += p.value.length;
      }
    }
  };
  const commit = async (): Promise<void> => {
    await settle();
    const seals = group;
    group = [];
    groupBytes = 0;
    const results = await commitSeals(state, groupTarget, seals);
    for (const r of results) {
      countSeal(state, groupTarget, r, o.metrics);
      if (o.freed) {
        o.freed.hot += r.freed.hot;
        o.freed.cold += r.freed.cold;
      }
    }
  };
  for (const round of ['hot', 'cold'] as const) {
    for (const window of windows) {
      if (o.stopped() || retry) return commit();
      const work = planWindow(state, window, round, busyFrom, o);
      for (const { id, target } of work) {
        if (o.stopped() || retry) return commit();
        if (target !== groupTarget) await commit();
        groupTarget = target;
        inflight.push(prepareSeal(state, id, window, target));
        if (inflight.length >= SEALS_IN_FLIGHT) {
          await settle();
          if (group.length >= GROUP_SEALS || groupBytes >= GROUP_BYTES) await commit();
        }
        // Let apply and queries run between windows: a pass never holds the event loop for long.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    await commit();
  }
}

/**
 * The seals one window needs in this round ('hot': anything touching hot blocks; 'cold': cold-only merges). A busy
 * window (touched >= busyFrom) only gets moves and the seals of series that reached maxFragments.
 */
function planWindow(state: PartitionState, window: number, round: 'hot' | 'cold', busyFrom: number, o: StorageJobOptions): Array<{ id: number; target: Tier }> {
  const c = state.tracker.counts(window);
  if (!c) return [];
  const cold = state.isColdWindow(window);
  const settled = window + state.windowMs <= state.now() - o.graceMs;
  const busy = c.touched >= busyFrom;
  const work: Array<{ id: number; target: Tier }> = [];
  const n = Math.max(c.hot.length, c.cold.length);
  let hotLeft = false;
  let deferred = false;
  for (let id = 0; id < n; id++) {
    const h = c.hot[id] ?? 0;
    const k = c.cold[id] ?? 0;
    if (h > 0) hotLeft = true;
    const full = h + k >= o.maxFragments;
    let due: boolean;
    let target: Tier = 'cold';
    if (cold) {
      if (round === 'hot') {
        if (h > 0) work.push({ id, target });
        continue;
      }
      due = h === 0 && (k > 1 || (k > 0 && state.tracker.unsure(c, id)));
    } else {
      target = 'hot';
      due = round === 'hot' && ((h + k > 1 && (settled || full)) || (settled && k > 0));
    }
    if (!due) continue;
    if (busy && !full) deferred = true;
    else work.push({ id, target });
  }
  // A cold window with nothing left to do needs no weights; a flush that writes to it tracks it again.
  // (Hot blocks left — the window turned cold after the hot round planned it — or deferred work keep it.)
  if (round === 'cold' && work.length === 0 && cold && !hotLeft && !deferred) state.tracker.drop(window);
  return work;
}

function countSeal(state: PartitionState, target: Tier, r: SealResult, metrics: Metrics): void {
  const label = { partition: String(state.partition) };
  metrics.compactions.inc({ ...label, tier: target });
  metrics.compactedFragments.inc({ tier: target }, r.merged);
  metrics.compactionBytesBefore.inc({ tier: target }, r.bytesBefore);
  metrics.compactionBytesAfter.inc({ tier: target }, r.bytesAfter);
  if (r.moved > 0) metrics.tierMoves.inc(label);
}
