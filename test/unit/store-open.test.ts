import { it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createStore, detectStoreBackend } from '../../src/store/open-store.js';
import { tempDir } from '../helpers/temp-dir.js';

for (const [backend, other] of [['classic-level', 'rocksdb'], ['rocksdb', 'classic-level']] as const) {
  it(`a store written by ${backend} is detected and refused by ${other}`, async () => {
    const tmp = tempDir('store-open');
    try {
      const location = join(tmp.dir, 'store');
      assert.equal(detectStoreBackend(location), undefined);
      const store = createStore({ backend, location });
      assert.equal(store.kind, backend);
      await store.open();
      await store.batch([{ type: 'put', key: Buffer.from('k'), value: Buffer.from('v') }], { sync: true });
      await store.close();
      assert.equal(detectStoreBackend(location), backend);
      assert.throws(() => createStore({ backend: other, location }), { code: 'TSDB_ERR_CONFIG_INVALID', message: new RegExp(`written by ${backend}`) });
      const again = createStore({ backend, location });
      await again.open();
      assert.deepEqual(await again.get(Buffer.from('k')), Buffer.from('v'));
      await again.close();
    } finally {
      tmp.cleanup();
    }
  });
}
