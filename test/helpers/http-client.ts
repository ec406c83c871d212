import assert from 'node:assert/strict';
export interface QueryAnswer {
  series: Array<{ metric: string; tags: Record<string, string>; points: Array<[number, number | null]> }>;
  partial: boolean;
  missing?: number[];
}

/** JSON.stringify turns -0 into 0; a real client that cares writes "-0", which JSON allows. */
export function stringifyKeepingNegativeZero(body: unknown): string {
  return JSON.stringify(body, (_k, v: unknown) => (typeof v === 'number' && Object.is(v, -0) ? '\u0000NEGZERO' : v)).replace(/"\\u0000NEGZERO"/g, '-0');
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/api/v1/write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stringifyKeepingNegativeZero(body) });
  return { status: res.status, body: await res.json() };
}

export async function postAvro(url: string, body: Buffer): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/api/v1/write`, { method: 'POST', headers: { 'content-type': 'application/avro' }, body });
  return { status: res.status, body: await res.json() };
}

export async function query(url: string, params: Record<string, string | number>): Promise<QueryAnswer> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) qs.set(k, String(v));
  const res = await fetch(`${url}/api/v1/query?${qs}`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`query ${qs} → ${res.status}: ${text}`);
  return JSON.parse(text) as QueryAnswer;
}

/** The 64 bits of a double as hex, so -0, subnormals and every payload compare exactly. */
export function bits(v: number): string {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(v);
  return b.toString('hex');
}

/** `w1.<p>-<o>.<p>-<o>...` → partition → last offset written (parsed here, independently of src/). */
export function tokenOffsets(token: string): Map<number, number> {
  assert.match(token, /^w1(\.\d+-\d+)+$/, `unexpected write token ${token}`);
  const out = new Map<number, number>();
  for (const part of token.slice(3).split('.')) {
    const [p, o] = part.split('-').map(Number) as [number, number];
    out.set(p, o);
  }
  return out;
}
