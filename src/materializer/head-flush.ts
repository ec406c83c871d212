/** What a flush writes: the head as blocks per (series, window) and tier, the new series and the offset. */
import { encodeBlockFromGorilla } from '../codec/block-stats.js';
import { blockKey, encodeState, seriesKey, stateKey } from '../store/row-keys.js';
import type { SeriesIndex } from '../store/series-index.js';
import type { BatchOp } from '../store/types.js';
import type { Tier } from './block-runs.js';
import { blockWeight, encodeBlockFor } from './compactor.js';
import { Head, type HeadRun, runsOf } from './head.js';

export interface FlushInput {
  partition: number;
  head: Head;
  /** The flush's sequence number (its block keys; the stored state gets seq + 1). */
  seq: number;
  isColdWindow: (window: number) => boolean;
  index: SeriesIndex;
  /** Series ids from `persistedSeries` up to `seriesCount` are new since the last flush. */
  persistedSeries: number;
  seriesCount: number;
  nextOffset: number;
}

export interface FlushBatch {
  /** The hot batch: hot blocks, new series and the state; it commits the flush. */
  ops: BatchOp[];
  /** Blocks of cold windows (written first, see PartitionState.flush). */
  coldOps: BatchOp[];
  written: Array<{ tier: Tier; id: number; window: number; bytes: number; weight: number }>;
  bytes: number;
}

export function flushBatch(f: FlushInput): FlushBatch {
  const ops: BatchOp[] = [];
  const coldOps: BatchOp[] = [];
  const written: FlushBatch['written'] = [];
  let bytes = 0;
  for (const [id, first] of f.head.series) {
    for (let run: HeadRun | null = first; run !== null; run = run.next) {
      if (run.count === 0) continue;
      const { window } = run;
      // A late point for a cold window goes straight to cold (docs/storage-lifecycle.md). Fragments use the
      // fast encoding in either tier: the heavy cold encoding is paid once, when the window is sealed. A cold
      // fragment is always sealed again (blockWeight 2), so it skips even the columnar trial: the run's own gorilla
      // stream and statistics are the block (what encodeBlock(..., { gorilla: true }) would write, without a decode).
      const tier: Tier = f.isColdWindow(window) ? 'cold' : 'hot';
      let value: Buffer;
      if (tier === 'cold') value = encodeBlockFromGorilla(run.enc.view(), run);
      else {
        const { ts, vs } = run.read();
        value = encodeBlockFor('hot', ts, vs);
      }
      bytes += value.length;
      (tier === 'cold' ? coldOps : ops).push({ type: 'put', key: blockKey(f.partition, id, window, f.seq), value });
      written.push({ tier, id, window, bytes: value.length, weight: blockWeight(tier, value) });
    }
  }
  for (let id = f.persistedSeries; id < f.seriesCount; id++) {
    ops.push({ type: 'put', key: seriesKey(f.partition, id), value: Buffer.from(f.index.get(id)!.key, 'utf8') });
  }
  ops.push({ type: 'put', key: stateKey(f.partition), value: encodeState({ nextOffset: f.nextOffset, flushSeq: f.seq + 1, nextSeriesId: f.seriesCount }) });
  return { ops, coldOps, written, bytes };
}

/** A head holding `older`'s points followed by `newer`'s, per series, preserving log order. */
export function mergeHeads(older: Head, newer: Head): Head {
  const out = new Head(newer.windowMs);
  for (const h of [older, newer]) {
    for (const [id, first] of h.series) {
      for (const run of runsOf(first)) {
        const { ts, vs } = run.read();
        for (let i = 0; i < ts.length; i++) out.append(id, ts[i]!, vs[i]!);
      }
    }
  }
  return out;
}
