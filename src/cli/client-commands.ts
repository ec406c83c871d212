import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export const WRITE_HELP = `Usage: tsdb write [--url URL] [--batch N] [FILE|-]

Sends points to a node. FILE (or stdin with '-' or no FILE) holds:
  - JSON: {"points":[...]} or a bare array of points
  - NDJSON: one point object per line (.ndjson, .jsonl)
  - Avro: one single-object-encoded PointBatch (.avro, or bytes starting C3 01)
JSON and NDJSON are sent in batches of --batch points (default 10000).
Options:
  --url URL     node address (default http://127.0.0.1:8080; env TSDB_URL)
  --batch N     points per request for JSON/NDJSON
  --help        this text
Prints {"accepted": N, "token": ...} per request.
`;

export const QUERY_HELP = `Usage: tsdb query [--url URL] SELECTOR --start T --end T [--fn F --step S --by TAGS --fill P --limit N --after TOKEN]

Runs GET /api/v1/query and prints the JSON answer. T is integer ms since the epoch or RFC 3339.
Example: tsdb query 'cpu_usage{host="a"}' --start 2024-01-01T00:00:00Z --end 2024-01-02T00:00:00Z
Options:
  --url URL     node address (default http://127.0.0.1:8080; env TSDB_URL)
  --help        this text
`;

function baseUrl(v: string | undefined): string {
  return (v ?? process.env.TSDB_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
}

async function call(url: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new Error(`cannot reach ${url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let msg = text;
    try {
      const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: Array<{ index?: number; field?: string; reason?: string }> } };
      const d = body.error?.details?.[0];
      msg = `${body.error?.code}: ${body.error?.message}${d ? ` (first problem: ${d.index !== undefined ? `point ${d.index} ` : ''}${d.field ?? ''} ${d.reason ?? ''})` : ''}`;
    } catch {
      // not a V3 error body; print it as it came
    }
    throw new Error(`HTTP ${res.status}: ${msg}`);
  }
  return JSON.parse(text);
}

function readInput(file: string | undefined): Buffer {
  return file === undefined || file === '-' ? readFileSync(0) : readFileSync(file);
}

export async function runWriteCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { url: { type: 'string' }, batch: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(WRITE_HELP);
    return;
  }
  if (positionals.length > 1) throw new Error(`write takes one FILE, got ${positionals.length}`);
  const file = positionals[0];
  const url = `${baseUrl(values.url)}/api/v1/write`;
  const batch = Number(values.batch ?? 10000);
  if (!Number.isSafeInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer, got ${values.batch}`);
  const data = readInput(file);
  if ((file !== undefined && file.endsWith('.avro')) || (data[0] === 0xc3 && data[1] === 0x01)) {
    const r = await call(url, { method: 'POST', headers: { 'content-type': 'application/avro' }, body: data });
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  const text = data.toString('utf8');
  let points: unknown[];
  const trimmed = text.trimStart();
  if ((file?.endsWith('.ndjson') || file?.endsWith('.jsonl')) || (!trimmed.startsWith('[') && !/^\{\s*"points"/.test(trimmed))) {
    points = text.split('\n').filter((l) => l.trim() !== '').map((l, i) => {
      try {
        return JSON.parse(l) as unknown;
      } catch (e) {
        throw new Error(`cannot parse line ${i + 1} of ${file ?? 'stdin'}: ${(e as Error).message}`);
      }
    });
  } else {
    const doc = JSON.parse(text) as unknown;
    points = Array.isArray(doc) ? doc : ((doc as { points?: unknown[] }).points ?? []);
  }
  for (let i = 0; i < points.length; i += batch) {
    const r = await call(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ points: points.slice(i, i + batch) }) });
    process.stdout.write(JSON.stringify(r) + '\n');
  }
}

export async function runQueryCommand(argv: string[]): Promise<void> {
  const opt = { type: 'string' } as const;
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { url: opt, start: opt, end: opt, fn: opt, step: opt, by: opt, fill: opt, limit: opt, after: opt, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(QUERY_HELP);
    return;
  }
  if (positionals.length !== 1) throw new Error('query takes exactly one SELECTOR (see tsdb query --help)');
  if (values.start === undefined || values.end === undefined) throw new Error('query needs --start and --end');
  const params = new URLSearchParams({ selector: positionals[0]! });
  for (const k of ['start', 'end', 'fn', 'step', 'by', 'fill', 'limit', 'after'] as const) {
    const v = values[k];
    if (typeof v === 'string') params.set(k, v);
  }
  const r = (await call(`${baseUrl(values.url)}/api/v1/query?${params}`, { method: 'GET' })) as { truncated?: boolean; partial?: boolean; error?: { code?: string; message?: string } };
  process.stdout.write(JSON.stringify(r) + '\n');
  // A streamed answer cut short still parses; the exit code must not pretend it is whole.
  if (r.truncated) throw new Error(`answer truncated: ${r.error?.code ?? ''} ${r.error?.message ?? ''}`.trim());
  if (r.partial) process.stderr.write('tsdb: warning: partial answer (some partitions were not ready)\n');
}
