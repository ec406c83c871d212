/**
 * Canonical series key: `metric{k1="v1",k2="v2"}` with tag keys sorted by UTF-16 code unit order (tag keys are
 * ASCII by validation, so this equals byte order), values escaped (`\` → `\\`, `"` → `\"`, newline → `\n`).
 * A series without tags is just `metric`. This exact string is hashed for partitioning
 * (docs/format/partitioning.md), so it must never change.
 */
export function canonicalSeriesKey(metric: string, tags: Record<string, string>): string {
  const keys = Object.keys(tags);
  if (keys.length === 0) return metric;
  keys.sort();
  let s = metric + '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (i > 0) s += ',';
    s += k + '="' + escapeTagValue(tags[k]!) + '"';
  }
  return s + '}';
}

function escapeTagValue(v: string): string {
  // Fast path: most values need no escaping.
  if (!/["\\\n]/.test(v)) return v;
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c));
}

/** Inverse of canonicalSeriesKey, for keys this module produced. */
export function parseSeriesKey(key: string): { metric: string; tags: Record<string, string> } {
  const brace = key.indexOf('{');
  if (brace < 0) return { metric: key, tags: {} };
  const metric = key.slice(0, brace);
  const tags: Record<string, string> = {};
  let i = brace + 1;
  while (i < key.length && key[i] !== '}') {
    const eq = key.indexOf('=', i);
    const k = key.slice(i, eq);
    i = eq + 2; // skip ="
    let v = '';
    while (key[i] !== '"') {
      if (key[i] === '\\') {
        const n = key[i + 1];
        v += n === 'n' ? '\n' : n;
        i += 2;
      } else {
        v += key[i];
        i++;
      }
    }
    tags[k] = v;
    i++; // closing quote
    if (key[i] === ',') i++;
  }
  return { metric, tags };
}
