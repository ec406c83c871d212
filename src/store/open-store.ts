import { existsSync, readdirSync } from 'node:fs';
import { TsdbError } from '../common/errors.js';
import { createClassicLevelStore } from './classic-level-store.js';
import { createRocksDbStore } from './rocksdb-store.js';
import type { KvStore } from './types.js';

export const STORE_BACKENDS = ['classic-level', 'rocksdb'] as const;
export type StoreBackend = (typeof STORE_BACKENDS)[number];

/**
 * Which backend wrote the store at `location`, or undefined when there is none yet. RocksDB always writes OPTIONS-*
 * and IDENTITY files; LevelDB never does. Both share CURRENT/MANIFEST/*.log names, so opening one with the other
 * must be refused before either touches the files.
 */
export function detectStoreBackend(location: string): StoreBackend | undefined {
  if (!existsSync(location)) return undefined;
  const names = readdirSync(location);
  if (!names.includes('CURRENT')) return undefined;
  return names.some((n) => n.startsWith('OPTIONS-') || n === 'IDENTITY') ? 'rocksdb' : 'classic-level';
}

/** The store the configuration names, not yet opened; refuses a location another backend wrote. */
export function createStore(opts: { backend: StoreBackend; location: string }): KvStore {
  const found = detectStoreBackend(opts.location);
  if (found !== undefined && found !== opts.backend) {
    throw new TsdbError(
      'TSDB_ERR_CONFIG_INVALID',
      `cannot open store (${opts.location}, --store-backend ${opts.backend}): it was written by ${found}; start with --store-backend ${found} or use another --data-dir`,
    );
  }
  return opts.backend === 'rocksdb' ? createRocksDbStore({ location: opts.location }) : createClassicLevelStore({ location: opts.location });
}
