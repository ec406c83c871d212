/** Worker-thread entry of the seal pool (seal-pool.ts): runs sealValue off the storage loop's thread. */
import { parentPort } from 'node:worker_threads';
import { sealValue, type Tier } from './seal-codec.js';

export interface SealRequest {
  id: number;
  values: Uint8Array[];
  target: Tier;
  rollupsMs: number[];
}

export type SealReply = { id: number; value: Uint8Array } | { id: number; error: string };

parentPort!.on('message', (req: SealRequest) => {
  let reply: SealReply;
  try {
    const v = sealValue(req.values, req.target, req.rollupsMs);
    // A copy the reply can hand over: encodeBlock's output may share a pooled allocation.
    const value = new Uint8Array(v.length);
    value.set(v);
    reply = { id: req.id, value };
    parentPort!.postMessage(reply, [value.buffer]);
    return;
  } catch (e) {
    reply = { id: req.id, error: (e as Error).message };
  }
  parentPort!.postMessage(reply);
});
