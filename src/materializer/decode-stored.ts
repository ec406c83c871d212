/** Decoding stored blocks for reads, through the decoded-block cache a process' partitions share. */
import { decodeBlock } from '../codec/block.js';
import type { BlockCache } from '../store/block-cache.js';
import type { PointColumns } from '../store/read-model.js';
import type { StoredBlock } from './block-runs.js';

/** Decodes a stored block (through the decoded-block cache when there is one). */
export function decodeStored(cache: BlockCache<PointColumns> | undefined, b: StoredBlock): PointColumns {
  if (cache) return cache.decode(b.key, b.value, decodeColumns, decodedColumnsBytes);
  return decodeColumns(b.value);
}

/** estimateDecodedBytes of a decoded block ({ts, vs} of numbers), without walking its arrays. */
function decodedColumnsBytes(c: PointColumns): number {
  return 96 + 8 * (c.ts.length + c.vs.length);
}

function decodeColumns(raw: Buffer): PointColumns {
  const block = decodeBlock(raw);
  return { ts: block.ts, vs: block.vs };
}
