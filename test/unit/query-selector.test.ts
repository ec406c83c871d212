import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSelector } from '../../src/query/selector.js';

describe('parseSelector', () => {
  it('parses a metric with every matcher kind', () => {
    const m = parseSelector(`cpu_usage{host="a", dc!='eu', region=~"us-.*",env!~"dev|test",}`);
    assert.deepEqual(m.map((x) => [x.name, x.op, x.value]), [
      ['__name__', '=', 'cpu_usage'],
      ['host', '=', 'a'],
      ['dc', '!=', 'eu'],
      ['region', '=~', 'us-.*'],
      ['env', '!~', 'dev|test'],
    ]);
    assert.equal(m[3]!.re!.test('us-east'), true);
    assert.equal(m[3]!.re!.test('xus-east'), false, 'regexes are anchored');
  });

  it('accepts a bare metric, and braces without a metric', () => {
    assert.deepEqual(parseSelector('up').map((x) => x.value), ['up']);
    assert.deepEqual(parseSelector('{host="a"}').map((x) => x.name), ['host']);
  });

  it('unescapes strings', () => {
    assert.equal(parseSelector('m{a="x\\"y\\\\z\\n"}')[1]!.value, 'x"y\\z\n');
  });

  const bad: Array<[string, number, RegExp]> = [
    ['', 0, /a metric name or at least one matcher/],
    ['{}', 2, /a metric name or at least one matcher/],
    ['cpu{host="a"', 12, /, or \}/],
    ['cpu{host=a}', 9, /a quoted string/],
    ['cpu{host=="a"}', 9, /a quoted string/],
    ['cpu{9host="a"}', 4, /a tag name/],
    ['cpu{host<"a"}', 8, /one of = != =~ !~/],
    ['cpu{host="a}', 12, /closing "/],
    ['cpu{host=~"(("}', 10, /invalid regex/],
    ['cpu host', 4, /end of selector/],
    ['cpu{a="\\q"}', 8, /an escape/],
  ];
  for (const [src, pos, re] of bad) {
    it(`rejects ${JSON.stringify(src)} at position ${pos}`, () => {
      assert.throws(() => parseSelector(src), (e: Error & { code?: string; details?: Array<{ position?: number }> }) => {
        assert.equal(e.code, 'TSDB_ERR_QUERY_SELECTOR');
        assert.match(e.message, re);
        assert.equal(e.details?.[0]?.position, pos, e.message);
        return true;
      });
    });
  }
});
