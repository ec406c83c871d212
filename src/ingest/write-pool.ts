/**
 * Worker threads that prepare Avro write bodies (prepare-write.ts): decoding, validation, routing and record
 * encoding run there, so the thread serving HTTP, appending to the log and applying records has the other core's
 * help. Each request goes to the worker with the fewest in flight; a worker that dies fails its requests with
 * TSDB_ERR_INTERNAL and is replaced.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../common/logger.js';
import type { Precision } from './influx-lines.js';
import type { Prepared } from './prepare-write.js';
import type { WorkerRequest, WorkerSetup } from './write-worker.js';

export interface WritePool {
  /** Prepares an Avro body, or a line protocol body when `influx` gives its precision. */
  prepare(body: Buffer, now: number, influx?: Precision): Promise<Prepared>;
  close(): Promise<void>;
}

interface Slot {
  worker: Worker;
  pending: Map<number, (p: Prepared) => void>;
}

export function createWritePool(opts: { workers: number; setup: WorkerSetup; logger: Logger }): WritePool {
  const log = opts.logger.child({ component: 'write-pool' });
  const slots: Slot[] = [];
  let nextId = 0;
  let closed = false;

  const failAll = (slot: Slot, why: string): void => {
    for (const resolve of slot.pending.values()) resolve({ ok: false, code: 'TSDB_ERR_INTERNAL', message: `cannot prepare write: ${why}`, details: [], reasons: [] });
    slot.pending.clear();
  };

  const spawn = (i: number): void => {
    const worker = new Worker(new URL('./write-worker.js', import.meta.url), { workerData: opts.setup });
    const slot: Slot = { worker, pending: new Map() };
    slots[i] = slot;
    worker.unref(); // an idle pool never keeps the process alive
    worker.on('message', (m: { id: number; out: Prepared }) => {
      const resolve = slot.pending.get(m.id);
      slot.pending.delete(m.id);
      resolve?.(m.out);
    });
    worker.on('error', (e) => log.error({ err: e.message, worker: i }, 'write worker failed'));
    worker.on('exit', (code) => {
      failAll(slot, `worker ${i} exited with code ${code}`);
      if (!closed && slots[i] === slot) spawn(i);
    });
  };
  for (let i = 0; i < opts.workers; i++) spawn(i);

  return {
    prepare(body, now, influx) {
      let slot = slots[0]!;
      for (const s of slots) if (s.pending.size < slot.pending.size) slot = s;
      const id = nextId++;
      // A copy the worker can own: the request's buffer may be a slice of a pooled allocation.
      const copy = new Uint8Array(body.length);
      copy.set(body);
      const req: WorkerRequest = influx ? { id, body: copy, now, influx } : { id, body: copy, now };
      return new Promise<Prepared>((resolve) => {
        slot.pending.set(id, resolve);
        if (slot.pending.size === 1) slot.worker.ref();
        slot.worker.postMessage(req, [copy.buffer]);
      }).finally(() => {
        if (slot.pending.size === 0) slot.worker.unref();
      });
    },
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
