/**
 * Cold-fragment intents (docs/storage-lifecycle.md). No transaction spans two stores: a flush that writes blocks to
 * the cold tier writes them first, with an intent naming their keys, then the hot batch that commits the flush
 * (offset included). load() drops the cold keys of an intent whose hot batch never committed, so a crash in between
 * leaves neither a lost nor a duplicated point.
 */
import type { Logger } from '../common/logger.js';
import { coldPartitionRanges, decodeIntent, encodeIntent, intentKey, intentRange, intentSeqOf } from '../store/row-keys.js';
import type { BatchOp, KvStore } from '../store/types.js';

/** `coldOps` plus the intent of flush `seq` naming their keys (one batch, written before the hot one). */
export function withIntent(partition: number, seq: number, coldOps: BatchOp[]): BatchOp[] {
  coldOps.push({ type: 'put', key: intentKey(partition, seq), value: encodeIntent(coldOps.map((o) => o.key)) });
  return coldOps;
}

/** Deletes the intent of flush `seq` once its hot batch committed. */
export async function clearIntent(cold: KvStore, partition: number, seq: number, log: Logger): Promise<void> {
  // Not synced: an intent left behind by a crash belongs to a committed flush (seq < stored flushSeq) and is
  // only deleted by load().
  await cold.batch([{ type: 'del', key: intentKey(partition, seq) }]).catch((e: unknown) => {
    log.warn({ flushSeq: seq, err: (e as Error).message }, 'cannot delete a cold intent; load() will');
  });
}

/**
 * Cold blocks a flush wrote before its hot batch belong to the store only if that hot batch committed (its
 * flushSeq is below the stored one). Without a stored state (new or wiped hot store) nothing in cold belongs.
 */
export async function recoverCold(cold: KvStore | undefined, partition: number, flushSeq: number | undefined, log: Logger): Promise<void> {
  if (!cold) return;
  if (flushSeq === undefined) {
    for (const r of coldPartitionRanges(partition)) await cold.clearRange(r);
    return;
  }
  const ops: BatchOp[] = [];
  let dropped = 0;
  for await (const [k, v] of cold.iterate(intentRange(partition))) {
    if (intentSeqOf(k) >= flushSeq) {
      for (const key of decodeIntent(v)) ops.push({ type: 'del', key: Buffer.from(key) });
      dropped++;
    }
    ops.push({ type: 'del', key: k });
  }
  if (ops.length > 0) await cold.batch(ops, { sync: true });
  if (dropped > 0) log.warn({ flushes: dropped, flushSeq }, 'removed cold blocks of flushes whose hot batch never committed');
}
