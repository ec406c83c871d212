/** The --rollups setting (src/common/config.ts): choices checked when read, mapped to resolutions in ms. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultServeConfig, resolveServeConfig, rollupResolutions } from '../../src/common/config.js';

test('--rollups: default 1h; 5m, 1h, both or none; anything else is a config error', () => {
  assert.deepEqual(defaultServeConfig().rollups, ['1h']);
  assert.deepEqual(rollupResolutions(defaultServeConfig().rollups), [3_600_000]);
  assert.deepEqual(rollupResolutions(resolveServeConfig({ rollups: '1h,5m' }, {}).rollups), [300_000, 3_600_000]);
  assert.deepEqual(rollupResolutions(resolveServeConfig({}, { TSDB_ROLLUPS: 'none' }).rollups), []);
  assert.throws(() => resolveServeConfig({ rollups: '2h' }, {}), (e: Error & { code?: string }) => e.code === 'TSDB_ERR_CONFIG_INVALID' && /"2h" is not one of 5m, 1h, none/.test(e.message));
  assert.throws(() => rollupResolutions(resolveServeConfig({ rollups: 'none,1h' }, {}).rollups), /"none" cannot be combined/);
  assert.throws(() => rollupResolutions(['10m']), /expected 5m, 1h or none/);
});
