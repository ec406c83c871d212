import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBlock } from '../../src/codec/block.js';
import { createStore, detectStoreBackend } from '../../src/store/open-store.js';
import { PREFIX_BLOCK, PREFIX_SERIES, decodeBlockKey } from '../../src/store/row-keys.js';
import { bits } from './http-client.js';

/**
 * Reads the stores directly — the hot store and, when present, the cold tier (<data-dir>/cold): every raw stored
 * point, duplicates included (also one held by both tiers), as "seriesKey@t" → value bits[].
 */
export async function rawStoredPoints(dataDir: string): Promise<Map<string, string[]>> {
  const location = join(dataDir, 'store');
  const store = createStore({ backend: detectStoreBackend(location) ?? 'classic-level', location });
  await store.open();
  const names = new Map<string, string>();
  for await (const [k, v] of store.iterate({ gte: Buffer.from([PREFIX_SERIES]), lt: Buffer.from([PREFIX_SERIES + 1]) })) {
    names.set(k.subarray(1, 7).toString('hex'), v.toString('utf8'));
  }
  const out = new Map<string, string[]>();
  const coldDir = join(dataDir, 'cold');
  const cold = existsSync(coldDir) ? createStore({ backend: detectStoreBackend(coldDir) ?? 'classic-level', location: coldDir }) : undefined;
  await cold?.open();
  for (const s of cold ? [store, cold] : [store]) {
    for await (const [k, v] of s.iterate({ gte: Buffer.from([PREFIX_BLOCK]), lt: Buffer.from([PREFIX_BLOCK + 1]) })) {
      const key = decodeBlockKey(k);
      const name = names.get(k.subarray(1, 7).toString('hex'));
      assert.ok(name, `block of unknown series ${key.partition}/${key.seriesId}`);
      const block = decodeBlock(v);
      block.ts.forEach((t, i) => {
        const id = `${name}@${t}`;
        const list = out.get(id) ?? [];
        list.push(bits(block.vs[i]!));
        out.set(id, list);
      });
    }
  }
  await store.close();
  await cold?.close();
  return out;
}

