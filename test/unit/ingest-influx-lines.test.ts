import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseInfluxLines, timestampMs } from '../../src/ingest/influx-lines.js';

describe('line protocol parsing (src/ingest/influx-lines.ts)', () => {
  it('timestamps: exact ms from ns beyond 2^53, floored, every precision', () => {
    assert.equal(timestampMs('1451606400000000000', 'ns'), 1451606400000);
    assert.equal(timestampMs('1451606400123999999', 'ns'), 1451606400123);
    assert.equal(timestampMs('-1', 'ns'), -1);
    assert.equal(timestampMs('-1000000', 'ns'), -1);
    assert.equal(timestampMs('999999', 'ns'), 0);
    assert.equal(timestampMs('1451606400123456', 'us'), 1451606400123);
    assert.equal(timestampMs('1451606400123', 'ms'), 1451606400123);
    assert.equal(timestampMs('1451606400', 's'), 1451606400000);
    assert.throws(() => timestampMs('1e9', 'ns'), /not an integer/);
    assert.throws(() => timestampMs('99999999999999999999', 'ms'), /safe range/);
  });

  it('values: decimals, exponents, i/u integers, booleans; bad ones refused with the line', () => {
    const p = parseInfluxLines('m a=5,b=-7i,c=12u,d=-.5,e=1.,f=2.5e-3,g=T,h=false,i=-0 1', 'ms', 0);
    assert.deepEqual(p.errors, []);
    assert.deepEqual([...p.batch.values], [5, -7, 12, -0.5, 1, 0.0025, 1, 0, -0]);
    const bad = parseInfluxLines('m v=-i 1\nm v=1.5i 1\nm v=. 1\nm v=0x10 1\nm v=1 1', 'ms', 0);
    assert.deepEqual(bad.errors.map((e) => e.field), ['line 1', 'line 2', 'line 3', 'line 4']);
    assert.deepEqual([...bad.batch.values], [1], 'points of refused lines are dropped');
  });

  it('one series per distinct tag set and field, first-seen lines, quoted spaces and commas in string fields', () => {
    const p = parseInfluxLines('cpu,host=a u=1,s=2 1000000\ncpu,host=a u=3 2000000\ncpu,host=b u=4 3000000\n', 'ns', 0);
    assert.deepEqual(p.errors, []);
    assert.deepEqual(p.batch.series, [{ metric: 'cpu_u', tags: { host: 'a' } }, { metric: 'cpu_s', tags: { host: 'a' } }, { metric: 'cpu_u', tags: { host: 'b' } }]);
    assert.deepEqual([...p.batch.seriesIndex], [0, 1, 0, 2]);
    assert.deepEqual([...p.batch.timestamps], [1, 1, 2, 3]);
    assert.deepEqual(p.lineOfSeries, [1, 1, 3]);
    assert.deepEqual([...p.lineOfPoint], [1, 1, 2, 3]);
    const q = parseInfluxLines('m s="a b,c=d",v=1 5\nm,k=v,k=w v=1 5', 'ms', 0);
    assert.deepEqual(q.errors.map((e) => e.field), ['line 1', 'line 2']);
    assert.match(q.errors[0]!.reason, /string values/);
    assert.match(q.errors[1]!.reason, /repeated/);
  });
});
