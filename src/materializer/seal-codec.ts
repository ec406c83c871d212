/**
 * The CPU-bound part of a seal (compactor.ts), pure so it runs the same on the storage loop's thread or in a seal
 * worker (seal-pool.ts): decode a window's blocks, merge them in log order, encode the result for its tier.
 */
import { decodeBlock, encodeBlock } from '../codec/block.js';
import type { PointColumns } from '../store/read-model.js';
import type { Tier } from './block-runs.js';
import { mergeLogOrdered } from './merge-points.js';

export type { Tier };

/**
 * Encodes a flush fragment (fast encoding in either tier) or, `sealed`, a seal's output for its tier (cold: the
 * codec's heavier compression and the configured rollups, docs/format/block.md §9). Hot blocks get no rollups:
 * they are rewritten when they move, and recent data is read at fine steps.
 */
export function encodeBlockFor(tier: Tier, ts: ArrayLike<number>, vs: ArrayLike<number>, sealed = false, rollupsMs: readonly number[] = []): Buffer {
  if (!sealed) return encodeBlock(ts, vs);
  return tier === 'cold' ? encodeBlock(ts, vs, { cold: true, sealed: true, rollups: rollupsMs }) : encodeBlock(ts, vs, { sealed: true });
}

/** The points of block values given in log order, one per timestamp, the last in log order winning. */
export function mergeBlockValues(values: readonly Uint8Array[]): PointColumns {
  const runs = values.map((v) => {
    const d = decodeBlock(v);
    return { ts: d.ts, vs: d.vs };
  });
  return mergeLogOrdered(runs, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
}

/** What a seal writes for `values` (a window's blocks in log order) in `target`. */
export function sealValue(values: readonly Uint8Array[], target: Tier, rollupsMs: readonly number[]): Buffer {
  const { ts, vs } = mergeBlockValues(values);
  return encodeBlockFor(target, ts, vs, true, rollupsMs);
}
