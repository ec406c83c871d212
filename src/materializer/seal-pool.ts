/**
 * Worker threads for the CPU of seals (seal-codec.ts: decode, merge, encode with the heavy cold codec and rollups).
 * A seal costs about a millisecond of CPU per 720-point window; on the storage loop's thread that time is taken
 * from apply and flush, which is what held full-size ingest back. Seals go to the worker with the fewest in
 * flight. A worker that dies fails its seals (the storage pass logs it and retries next pass) and is replaced,
 * unless it keeps dying at start: then the pool seals on the calling thread.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../common/logger.js';
import { sealValue, type Tier } from './seal-codec.js';
import type { SealReply, SealRequest } from './seal-worker.js';

export interface Sealer {
  seal(values: readonly Uint8Array[], target: Tier, rollupsMs: readonly number[]): Promise<Buffer>;
  close(): Promise<void>;
}

/** Seals on the calling thread (no workers configured). */
export const inlineSealer: Sealer = {
  seal: (values, target, rollupsMs) => Promise.resolve(sealValue(values, target, rollupsMs)),
  close: () => Promise.resolve(),
};

interface Pending {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
}

interface Lane {
  worker: Worker;
  pending: Map<number, Pending>;
  started: number;
}

export function createSealPool(opts: { workers: number; logger: Logger }): Sealer {
  if (opts.workers <= 0) return inlineSealer;
  const log = opts.logger.child({ component: 'seal-pool' });
  const lanes: Array<Lane | undefined> = [];
  let nextId = 0;
  let closed = false;
  let quickExits = 0;

  const spawn = (i: number): void => {
    const worker = new Worker(new URL('./seal-worker.js', import.meta.url));
    const lane: Lane = { worker, pending: new Map(), started: Date.now() };
    lanes[i] = lane;
    worker.unref();
    worker.on('message', (m: SealReply) => {
      const p = lane.pending.get(m.id);
      lane.pending.delete(m.id);
      if (lane.pending.size === 0) worker.unref();
      if (!p) return;
      if ('error' in m) p.reject(new Error(m.error));
      else p.resolve(Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength));
    });
    worker.on('error', (e) => log.error({ err: e.message, worker: i }, 'seal worker failed'));
    worker.on('exit', (code) => {
      for (const p of lane.pending.values()) p.reject(new Error(`seal worker ${i} exited with code ${code}`));
      lane.pending.clear();
      if (closed || lanes[i] !== lane) return;
      if (Date.now() - lane.started < 1000 && ++quickExits >= 3) {
        log.error({ worker: i, code }, 'seal worker keeps exiting at start; sealing on the storage thread');
        lanes[i] = undefined;
        return;
      }
      spawn(i);
    });
  };
  for (let i = 0; i < opts.workers; i++) spawn(i);

  return {
    seal(values, target, rollupsMs) {
      let lane: Lane | undefined;
      for (const l of lanes) if (l !== undefined && (lane === undefined || l.pending.size < lane.pending.size)) lane = l;
      if (lane === undefined) return inlineSealer.seal(values, target, rollupsMs);
      const target_ = lane;
      const id = nextId++;
      return new Promise<Buffer>((resolve, reject) => {
        target_.pending.set(id, { resolve, reject });
        if (target_.pending.size === 1) target_.worker.ref();
        const req: SealRequest = { id, values: values as Uint8Array[], target, rollupsMs: [...rollupsMs] };
        target_.worker.postMessage(req);
      });
    },
    async close() {
      closed = true;
      await Promise.all(lanes.map((l) => l?.worker.terminate()));
    },
  };
}
