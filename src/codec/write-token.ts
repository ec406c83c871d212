import { TsdbError } from '../common/errors.js';

/**
 * Write tokens: which log offsets a write reached, so a later query can wait for them (read-your-writes).
 * Opaque to users; format `w1.<partition>-<offset>.<partition>-<offset>...` (offset = last offset written).
 */
export function encodeWriteToken(offsets: Record<number, number>): string {
  const parts = Object.entries(offsets).map(([p, o]) => `${p}-${o}`);
  return `w1.${parts.join('.')}`;
}

export function decodeWriteToken(token: string): Record<number, number> {
  const bad = (why: string): never => {
    throw new TsdbError('TSDB_ERR_QUERY_INVALID', `cannot read write token (${JSON.stringify(token.slice(0, 64))}): ${why}`, {
      details: [{ field: 'after', reason: why }],
    });
  };
  if (!token.startsWith('w1.')) bad('not a token returned by /api/v1/write');
  const out: Record<number, number> = {};
  for (const part of token.slice(3).split('.')) {
    const m = /^(\d{1,5})-(\d{1,16})$/.exec(part);
    if (!m) bad(`entry "${part.slice(0, 32)}" is not <partition>-<offset>`);
    const o = Number(m![2]);
    if (!Number.isSafeInteger(o)) bad(`offset ${m![2]} is out of range`);
    out[Number(m![1])] = o;
  }
  return out;
}
