/** Parses `1500`, `10s`, `5m`, `2h`, `7d`, `250ms` into milliseconds; undefined when it does not parse. */
export function parseDuration(s: string | number): number | undefined {
  if (typeof s === 'number') return Number.isFinite(s) && s >= 0 ? Math.floor(s) : undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[(m[2] ?? 'ms') as 'ms'];
  const v = n * mult;
  return Number.isSafeInteger(Math.round(v)) ? Math.round(v) : undefined;
}

/** Parses `1024`, `64KiB`, `16MiB`, `2GiB` (also KB/MB/GB as powers of 1000) into bytes. */
export function parseBytes(s: string | number): number | undefined {
  if (typeof s === 'number') return Number.isFinite(s) && s >= 0 ? Math.floor(s) : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?$/i.exec(s.trim());
  if (!m) return undefined;
  const units: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12 };
  return Math.floor(Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]!);
}
