/**
 * Worker threads that prepare Avro write bodies (prepare-write.ts): decoding, validation, routing and record
 * encoding run there, so the thread serving HTTP, appending to the log and applying records has the other core's
 * help. Each request goes to the worker with the fewest in flight; a worker that dies fails its requests with
 * TSDB_ERR_INTERNAL and is replaced; a worker that cannot even start (three exits within a second of starting)
 * is not, and once none is left the pool reports itself unhealthy so writes are prepared on the request thread.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../common/logger.js';
import type { Precision } from './influx-lines.js';
import type { Prepared } from './prepare-write.js';
import type { WorkerRequest, WorkerSetup } from './write-worker.js';

export interface WritePool {
  /** Prepares an Avro body, or a line protocol body when `influx` gives its precision. */
  prepare(body: Buffer, now: number, influx?: Precision): Promise<Prepared>;
  /** False once every worker failed to start: callers then prepare on their own thread. */
  healthy(): boolean;
  /** The current worker threads (tests end one to check that the pool replaces it). */
  workers(): Worker[];
  close(): Promise<void>;
}

interface Slot {
  worker: Worker;
  pending: Map<number, (p: Prepared) => void>;
  /** Exited and not replaced. */
  dead: boolean;
}

export function createWritePool(opts: { workers: number; setup: WorkerSetup; logger: Logger }): WritePool {
  const log = opts.logger.child({ component: 'write-pool' });
  const slots: Slot[] = [];
  let nextId = 0;
  let closed = false;
  let quickExits = 0;

  const failAll = (slot: Slot, why: string): void => {
    for (const resolve of slot.pending.values()) resolve({ ok: false, code: 'TSDB_ERR_INTERNAL', message: `cannot prepare write: ${why}`, details: [], reasons: [] });
    slot.pending.clear();
  };

  const spawn = (i: number): void => {
    const worker = new Worker(new URL('./write-worker.js', import.meta.url), { workerData: opts.setup });
    const slot: Slot = { worker, pending: new Map(), dead: false };
    const started = Date.now();
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
      if (closed || slots[i] !== slot) return;
      if (Date.now() - started < 1000 && ++quickExits >= 3) {
        log.error({ worker: i, code }, 'write worker keeps exiting at start; not restarted');
        slot.dead = true;
        return;
      }
      spawn(i);
    });
  };
  for (let i = 0; i < opts.workers; i++) spawn(i);

  return {
    healthy: () => slots.some((s) => !s.dead),
    workers: () => slots.filter((s) => !s.dead).map((s) => s.worker),
    prepare(body, now, influx) {
      let slot: Slot | undefined;
      for (const s of slots) if (!s.dead && (slot === undefined || s.pending.size < slot.pending.size)) slot = s;
      if (slot === undefined) return Promise.resolve({ ok: false, code: 'TSDB_ERR_INTERNAL', message: 'cannot prepare write: no write worker is running', details: [], reasons: [] });
      const target = slot;
      const id = nextId++;
      // A copy the worker can own: the request's buffer may be a slice of a pooled allocation.
      const copy = new Uint8Array(body.length);
      copy.set(body);
      const req: WorkerRequest = influx ? { id, body: copy, now, influx } : { id, body: copy, now };
      return new Promise<Prepared>((resolve) => {
        target.pending.set(id, resolve);
        if (target.pending.size === 1) target.worker.ref();
        target.worker.postMessage(req, [copy.buffer]);
      }).finally(() => {
        if (target.pending.size === 0) target.worker.unref();
      });
    },
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
