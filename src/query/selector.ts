import { TsdbError } from '../common/errors.js';
import type { Matcher, MatchOp } from '../store/read-model.js';

/**
 * Selector grammar (API.md): `metric{tag="v",tag2!="v",tag3=~"re",tag4!~"re"}`, braces optional, metric optional
 * when braces hold at least one matcher. Strings are double- or single-quoted with \" \' \\ \n \t escapes.
 * Regexes use ECMAScript syntax and are fully anchored, as Prometheus anchors RE2. An absent tag equals "".
 * Errors name the 0-based character position and what was expected there.
 */
export function parseSelector(src: string): Matcher[] {
  let i = 0;
  const fail = (expected: string): never => {
    const found = i >= src.length ? 'end of input' : JSON.stringify(src[i]);
    throw new TsdbError('TSDB_ERR_QUERY_SELECTOR', `cannot parse selector (position ${i}): expected ${expected}, found ${found}`, {
      details: [{ field: 'selector', position: i, reason: `expected ${expected}, found ${found}` }],
    });
  };
  const ws = (): void => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  const ident = (re: RegExp, what: string): string => {
    const m = re.exec(src.slice(i));
    if (!m) return fail(what);
    i += m[0].length;
    return m[0];
  };
  const str = (): string => {
    const q = src[i];
    if (q !== '"' && q !== "'") return fail('a quoted string');
    i++;
    let out = '';
    while (i < src.length && src[i] !== q) {
      if (src[i] === '\\') {
        const e = src[i + 1];
        const map: Record<string, string> = { '"': '"', "'": "'", '\\': '\\', n: '\n', t: '\t' };
        if (e === undefined || !(e in map)) {
          i++;
          return fail('an escape (\\" \\\' \\\\ \\n \\t)');
        }
        out += map[e];
        i += 2;
      } else out += src[i++];
    }
    if (i >= src.length) return fail(`closing ${q}`);
    i++;
    return out;
  };

  const matchers: Matcher[] = [];
  ws();
  if (i < src.length && src[i] !== '{') {
    const metric = ident(/^[a-zA-Z_:][a-zA-Z0-9_:.]*/, 'a metric name or {');
    matchers.push({ name: '__name__', op: '=', value: metric });
    ws();
  }
  if (src[i] === '{') {
    i++;
    ws();
    while (src[i] !== '}') {
      const name = ident(/^[a-zA-Z_][a-zA-Z0-9_]*/, 'a tag name or }');
      ws();
      const opMatch = /^(=~|!~|!=|=)/.exec(src.slice(i));
      if (!opMatch) fail('one of = != =~ !~');
      const op = opMatch![0] as MatchOp;
      i += op.length;
      ws();
      const valuePos = i;
      const value = str();
      const m: Matcher = { name, op, value };
      if (op === '=~' || op === '!~') {
        try {
          m.re = new RegExp(`^(?:${value})$`, 'u');
        } catch (e) {
          i = valuePos;
          throw new TsdbError('TSDB_ERR_QUERY_SELECTOR', `cannot parse selector (position ${valuePos}): invalid regex ${JSON.stringify(value)}: ${(e as Error).message}`, {
            details: [{ field: 'selector', position: valuePos, reason: `invalid regex: ${(e as Error).message}` }],
          });
        }
      }
      matchers.push(m);
      ws();
      if (src[i] === ',') {
        i++;
        ws();
      } else if (src[i] !== '}') fail(', or }');
    }
    i++;
    ws();
  }
  if (i < src.length) fail('end of selector');
  if (matchers.length === 0) fail('a metric name or at least one matcher');
  return matchers;
}
