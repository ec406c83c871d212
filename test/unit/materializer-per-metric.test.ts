import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isTsdbError } from '../../src/common/errors.js';
import { perMetric, retentionFrom, seriesLimitsFrom } from '../../src/materializer/per-metric.js';

describe('per-metric settings (--max-series-per-metric-overrides, --retention-overrides)', () => {
  it('override, fall back, and say when nothing is limited', () => {
    const limits = seriesLimitsFrom(100, ['cpu_x=1000', 'free=0', 'ns:m.x=5']);
    assert.deepEqual([limits.of('cpu_x'), limits.of('free'), limits.of('ns:m.x'), limits.of('other')], [1000, 0, 5, 100]);
    assert.equal(limits.off, false);
    assert.equal(seriesLimitsFrom(0, ['a=0']).off, true);
    assert.equal(seriesLimitsFrom(0, ['a=1']).off, false);
    assert.equal(perMetric(0).off, true);
    const keep = retentionFrom(30 * 86_400_000, ['debug_x=1h', 'audit=0']);
    assert.deepEqual([keep.of('debug_x'), keep.of('audit'), keep.of('cpu')], [3_600_000, 0, 30 * 86_400_000]);
  });

  it('reject malformed entries with the setting and the entry named', () => {
    const bad = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => isTsdbError(e) && e.code === 'TSDB_ERR_CONFIG_INVALID' && re.test(e.message));
    bad(() => seriesLimitsFrom(1, ['cpu_x']), /--max-series-per-metric-overrides \("cpu_x"\): expected METRIC=COUNT/);
    bad(() => seriesLimitsFrom(1, ['cpu_x=-1']), /"cpu_x=-1"/);
    bad(() => seriesLimitsFrom(1, ['cpu_x=1.5']), /"cpu_x=1.5"/);
    bad(() => seriesLimitsFrom(1, ['=5']), /"=5"/);
    bad(() => seriesLimitsFrom(1, ['bad-name=5']), /"bad-name=5"/);
    bad(() => seriesLimitsFrom(1, ['a=1', 'a=2']), /metric a is listed twice/);
    bad(() => retentionFrom(0, ['a=forever']), /--retention-overrides \("a=forever"\): expected METRIC=DURATION/);
  });
});
