import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * classic-level frees a closed iterator's native state (its batch vector, sized by the largest nextv, and the last
 * batch's key and value copies) only when V8 collects the iterator's small JS wrapper, and V8 is never told about
 * that memory. A seal pass opens tens of thousands of short-lived iterators; their wrappers outlive a scavenge
 * (they wait on the store's threads), reach old space, and are collected only by a full collection, which a
 * small old space rarely needs: 120 000 closed iterators held ~500 MiB during a 15 M-point settle (docs/memory.md).
 * So closed iterators are counted by the native bytes they likely hold, and past a threshold a full collection
 * runs (tens of milliseconds for a ~100 MiB heap) — once per this many native bytes.
 */
export const ITERATOR_BYTES_PER_GC = 64 * 1024 * 1024;

/** sizeof(Entry) in classic-level's binding: two std::string. */
const NATIVE_ENTRY_BYTES = 64;

const collect: (() => void) | undefined = (() => {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
})();

let pending = 0;
let collections = 0;

/** Full collections run for closed iterators since the process started (for tests). */
export function iteratorCollections(): number {
  return collections;
}

/** Native bytes a closed classic-level iterator keeps until collected. */
export function iteratorRetainedBytes(largestNextv: number, lastBatch: ReadonlyArray<readonly [Buffer, Buffer]>): number {
  let n = largestNextv * NATIVE_ENTRY_BYTES;
  for (const [k, v] of lastBatch) n += k.length + v.length;
  return n;
}

/** Called after an iterator closed; runs a full collection once enough such bytes piled up. */
export function iteratorClosed(retainedBytes: number): void {
  pending += retainedBytes;
  if (pending < ITERATOR_BYTES_PER_GC || collect === undefined) return;
  pending = 0;
  collections++;
  collect();
}
