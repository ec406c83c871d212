import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, MAX_DETAILS, assertValid, parseTime, validatePoints } from '../../src/codec/validate-points.js';

const NOW = 1_700_000_000_000;
const good = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ metric: 'cpu_usage', tags: { host: 'a' }, timestamp: NOW, value: 0.5, ...over });
const check = (points: unknown[], limits = DEFAULT_LIMITS) => validatePoints(points, limits, NOW);

describe('validatePoints', () => {
  it('accepts good points, tags optional, RFC 3339 timestamps', () => {
    const r = check([good(), { metric: 'up', timestamp: '2023-11-14T22:13:20.123Z', value: 1 }]);
    assert.deepEqual(r.errors, []);
    assert.equal(r.points[1]!.timestamp, Date.parse('2023-11-14T22:13:20.123Z'));
    assert.deepEqual(r.points[1]!.tags, {});
  });

  const cases: Array<[string, Record<string, unknown> | unknown, string, string]> = [
    ['metric with a dash', good({ metric: 'cpu-usage' }), 'metric', 'invalid_name'],
    ['metric starting with a digit', good({ metric: '9cpu' }), 'metric', 'invalid_name'],
    ['empty metric', good({ metric: '' }), 'metric', 'invalid_name'],
    ['numeric metric', good({ metric: 5 }), 'metric', 'bad_type'],
    ['missing metric', { tags: {}, timestamp: NOW, value: 1 }, 'metric', 'missing_field'],
    ['missing value', { metric: 'm', timestamp: NOW }, 'value', 'missing_field'],
    ['missing timestamp', { metric: 'm', value: 1 }, 'timestamp', 'missing_field'],
    ['NaN value', good({ value: NaN }), 'value', 'non_finite'],
    ['Infinity value', good({ value: Infinity }), 'value', 'non_finite'],
    ['string value', good({ value: '1' }), 'value', 'bad_type'],
    ['fractional timestamp', good({ timestamp: 1.5 }), 'timestamp', 'bad_timestamp'],
    ['garbage timestamp', good({ timestamp: 'yesterday' }), 'timestamp', 'bad_timestamp'],
    ['future timestamp', good({ timestamp: NOW + DEFAULT_LIMITS.maxFuture + 1 }), 'timestamp', 'out_of_window'],
    ['negative timestamp', good({ timestamp: -1 }), 'timestamp', 'out_of_window'],
    ['tag key with a dot', good({ tags: { 'a.b': 'x' } }), 'tags.a.b', 'invalid_name'],
    ['reserved tag key', good({ tags: { __name__: 'x' } }), 'tags.__name__', 'invalid_name'],
    ['__proto__ tag key', JSON.parse('{"metric":"m","tags":{"__proto__":"x"},"timestamp":1700000000000,"value":1}'), 'tags.__proto__', 'invalid_name'],
    ['empty tag value', good({ tags: { host: '' } }), 'tags.host', 'empty_value'],
    ['numeric tag value', good({ tags: { host: 1 } }), 'tags.host', 'bad_type'],
    ['tags as array', good({ tags: ['a'] }), 'tags', 'bad_type'],
    ['too many tags', good({ tags: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) }), 'tags', 'too_many_tags'],
    ['long tag value', good({ tags: { host: 'x'.repeat(1025) } }), 'tags.host', 'too_long'],
    ['unknown field', good({ extra: 1 }), 'extra', 'unknown_field'],
    ['not an object', 42, 'point', 'not_object'],
  ];
  for (const [name, point, field, reason] of cases) {
    it(`rejects ${name} naming index, field and reason`, () => {
      const r = check([good(), point]);
      assert.equal(r.badPoints, 1);
      assert.equal(r.errors.length >= 1, true);
      assert.equal(r.errors[0]!.index, 1);
      assert.equal(r.errors[0]!.field, field);
      assert.equal(r.reasons.get(reason), 1, `reasons: ${[...r.reasons.keys()]}`);
      assert.throws(() => assertValid(r, 2), (e: Error & { code?: string; details?: unknown[] }) => e.code === 'TSDB_ERR_WRITE_INVALID' && /1 of 2 points/.test(e.message));
    });
  }

  it('lists every bad point of a request', () => {
    const r = check([good({ value: NaN }), good(), good({ metric: '-' }), good({ timestamp: 'x' })]);
    assert.deepEqual(r.errors.map((e) => e.index), [0, 2, 3]);
  });

  it('honours maxPast and maxPointsPerRequest', () => {
    const limits = { ...DEFAULT_LIMITS, maxPast: 1000, maxPointsPerRequest: 2 };
    const r = check([good({ timestamp: NOW - 1001 }), good(), good()], limits);
    assert.equal(r.errors[0]!.field, 'points');
    assert.match(r.errors[0]!.reason, /3 points, over the limit of 2/);
    assert.equal(r.errors[1]!.index, 0);
  });

  it('caps details and says how many were left out', () => {
    const r = check(Array.from({ length: MAX_DETAILS + 10 }, () => good({ value: NaN })));
    assert.equal(r.errors.length, MAX_DETAILS + 1);
    assert.match(r.errors.at(-1)!.reason, /and 10 more/);
    assert.equal(r.badPoints, MAX_DETAILS + 10);
  });
});

describe('parseTime', () => {
  it('parses integers, integer strings and RFC 3339 with offsets', () => {
    assert.equal(parseTime(5), 5);
    assert.equal(parseTime('-5'), -5);
    assert.equal(parseTime('2024-01-01T00:00:00+01:00'), Date.parse('2023-12-31T23:00:00Z'));
    assert.equal(parseTime('2024-01-01'), undefined);
    assert.equal(parseTime(2 ** 53), undefined);
    assert.equal(parseTime(null), undefined);
  });
});
