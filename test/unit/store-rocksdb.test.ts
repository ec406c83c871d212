import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRocksDbStore } from '../../src/store/rocksdb-store.js';
import { storeContract } from '../contracts/store.contract.js';

storeContract('rocksdb', { create: (location) => createRocksDbStore({ location: location ?? join(mkdtempSync(join(tmpdir(), 'v3-rocks-')), 'db') }), scanner: false });
