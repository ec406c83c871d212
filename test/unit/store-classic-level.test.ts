import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClassicLevelStore } from '../../src/store/classic-level-store.js';
import { storeContract } from '../contracts/store.contract.js';

storeContract('classic-level', { create: (location) => createClassicLevelStore({ location: location ?? join(mkdtempSync(join(tmpdir(), 'v3-store-')), 'db') }), scanner: true });
