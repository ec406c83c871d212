/**
 * Child process for test/unit/store-crash.test.ts: opens a store and writes batch after batch (each `keys` puts
 * `b<batch>/<key>`, synced), printing `acked <batch>` after each batch resolves, until it is killed.
 * Usage: node store-writer-child.js <backend> <location> <first batch> <keys per batch>
 */
import { createStore, type StoreBackend } from '../../src/store/open-store.js';

const [backend, location, first, keys] = process.argv.slice(2) as [StoreBackend, string, string, string];
const store = createStore({ backend, location });
await store.open();
for (let b = Number(first); ; b++) {
  const ops = Array.from({ length: Number(keys) }, (_, j) => ({ type: 'put' as const, key: Buffer.from(`b${String(b).padStart(6, '0')}/${String(j).padStart(3, '0')}`), value: Buffer.alloc(64 + (j % 7) * 100, b % 256) }));
  await store.batch(ops, { sync: true });
  process.stdout.write(`acked ${b}\n`);
}
