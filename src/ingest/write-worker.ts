/**
 * Worker-thread entry of the write pool (write-pool.ts): prepares Avro and line protocol bodies (prepare-write.ts) off the thread
 * that serves HTTP, appends to the log and applies records, so both cores work during ingest.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createPartitionCache } from '../codec/partitioning.js';
import { SERIES_MEMO_ENTRIES, SeriesMemo } from '../codec/series-memo.js';
import type { ValidationLimits } from '../codec/validate-points.js';
import type { Precision } from './influx-lines.js';
import { prepareAvro, prepareInflux, type PrepareContext } from './prepare-write.js';

export interface WorkerSetup {
  limits: ValidationLimits;
  partitionCount: number;
  partitionCacheEntries: number;
}

export interface WorkerRequest {
  id: number;
  body: Uint8Array;
  now: number;
  /** Set for a line protocol body: its timestamp precision. */
  influx?: Precision;
}

const setup = workerData as WorkerSetup;
const ctx: PrepareContext = { limits: setup.limits, partitionCount: setup.partitionCount, partitions: createPartitionCache(setup.partitionCount, setup.partitionCacheEntries), memo: new SeriesMemo(SERIES_MEMO_ENTRIES) };

parentPort!.on('message', (req: WorkerRequest) => {
  const body = Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
  let out;
  try {
    out = req.influx ? prepareInflux(ctx, body, req.influx, req.now) : prepareAvro(ctx, body, req.now);
  } catch (e) {
    out = { ok: false as const, code: 'TSDB_ERR_INTERNAL', message: `cannot prepare write (${body.length} bytes): ${(e as Error).message}`, details: [], reasons: [] };
  }
  // Record values that own their memory move instead of being copied (a pooled small buffer must be copied).
  // Keys stay here: thousands of strings per request, needed only near a cardinality limit (write-service.ts).
  const transfer: ArrayBuffer[] = [];
  if (out.ok) {
    out.keys = undefined;
    for (const r of out.records) if (r.value.byteOffset === 0 && r.value.buffer.byteLength === r.value.byteLength) transfer.push(r.value.buffer as ArrayBuffer);
  }
  parentPort!.postMessage({ id: req.id, out }, transfer);
});
