/**
 * Store backend micro-benchmark: write batches of 1000 × 100-byte values (sync and not), then a full forward scan,
 * a reverse scan and random point gets, for every KvStore backend. Not part of `npm test`.
 * Usage: npm run build && node dist/bench/store-backends.js [batches=200] [backend ...]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STORE_BACKENDS, createStore, type StoreBackend } from '../src/store/open-store.js';
import type { BatchOp, KvStore } from '../src/store/types.js';

const BATCH = 1000;
const VALUE_BYTES = 100;

/** Block-key shaped: 'B', partition u16, series u32, time u64 (big-endian, like src/store/row-keys.ts). */
function key(i: number): Buffer {
  const k = Buffer.alloc(15);
  k[0] = 0x42;
  k.writeUInt16BE(i % 16, 1);
  k.writeUInt32BE(Math.floor(i / 16) % 5000, 3);
  k.writeBigUInt64BE(BigInt(Math.floor(i / 80_000)) * 7_200_000n, 7);
  return k;
}

function batchOps(b: number, values: Buffer): BatchOp[] {
  return Array.from({ length: BATCH }, (_, j) => {
    const i = b * BATCH + j;
    return { type: 'put' as const, key: key(i), value: values.subarray((i * 7) % (values.length - VALUE_BYTES), ((i * 7) % (values.length - VALUE_BYTES)) + VALUE_BYTES) };
  });
}

async function time<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return [r, Number(process.hrtime.bigint() - t0) / 1e9];
}

async function scan(store: KvStore, reverse: boolean): Promise<number> {
  let n = 0;
  for await (const _ of store.iterate({ reverse })) n++;
  return n;
}

async function benchBackend(backend: StoreBackend, batches: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), `v3-bench-${backend}-`));
  const values = randomBytes(1 << 20); // incompressible, like compressed blocks
  const out: Record<string, number> = {};
  try {
    const store = createStore({ backend, location: join(dir, 'store') });
    await store.open();
    const [, syncS] = await time(async () => {
      for (let b = 0; b < batches; b++) await store.batch(batchOps(b, values), { sync: true });
    });
    out['sync_batches_per_s'] = batches / syncS;
    out['sync_keys_per_s'] = (batches * BATCH) / syncS;
    const [, asyncS] = await time(async () => {
      for (let b = batches; b < 2 * batches; b++) await store.batch(batchOps(b, values));
    });
    out['nosync_keys_per_s'] = (batches * BATCH) / asyncS;
    // Reopen so scans read from the files the backend wrote, not only from its memtable.
    await store.close();
    await store.open();
    const [n, scanS] = await time(() => scan(store, false));
    if (n !== 2 * batches * BATCH) throw new Error(`${backend}: scanned ${n} keys, wrote ${2 * batches * BATCH}`);
    out['scan_keys_per_s'] = n / scanS;
    out['scan_mb_per_s'] = (n * (VALUE_BYTES + 15)) / scanS / 1e6;
    const [, revS] = await time(() => scan(store, true));
    out['reverse_scan_keys_per_s'] = n / revS;
    const gets = 20_000;
    const [, getS] = await time(async () => {
      for (let g = 0; g < gets; g++) if (!(await store.get(key((g * 7919) % n)))) throw new Error('missing key');
    });
    out['gets_per_s'] = gets / getS;
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const batches = Number(process.argv[2] ?? 200);
const backends = (process.argv.slice(3).length ? process.argv.slice(3) : [...STORE_BACKENDS]) as StoreBackend[];
console.log(`store backends: ${batches} batches × ${BATCH} keys × ${VALUE_BYTES}-byte values, node ${process.version}`);
const rows: Record<string, Record<string, number>> = {};
for (const b of backends) {
  rows[b] = await benchBackend(b, batches);
  console.log(b, JSON.stringify(Object.fromEntries(Object.entries(rows[b]!).map(([k, v]) => [k, Math.round(v)]))));
}
const metrics = Object.keys(rows[backends[0]!]!);
console.log(`\n| metric | ${backends.join(' | ')} |\n|---|${backends.map(() => '---').join('|')}|`);
for (const m of metrics) console.log(`| ${m} | ${backends.map((b) => Math.round(rows[b]![m]!).toLocaleString('en-US')).join(' | ')} |`);
