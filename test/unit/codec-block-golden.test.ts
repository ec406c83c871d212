/**
 * Golden bytes for every block encoding and body mode (docs/format/block.md). The encoder must reproduce the
 * checked-in blocks byte for byte and the decoder must read them: a test that fails when the format drifts.
 * Regenerate only for a deliberate format change: `UPDATE_GOLDEN=1 node --test dist/test/unit/codec-block-golden.test.js`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { brotliDecompressSync, inflateRawSync } from 'node:zlib';
import { BLOCK_HEADER_SIZE, COMPRESSION_BROTLI, ENCODING_COMPRESSED, decodeBlock, decodeBlockHeader, encodeBlock } from '../../src/codec/block.js';

const FIXTURE = new URL('../../../test/fixtures/block-encodings.json', import.meta.url);

interface Case {
  name: string;
  /** What the case pins down: encoding, and for encoding 3 the mode byte (ts mode | value mode << 2). */
  encoding: number;
  modes?: number;
  cold?: boolean;
  ts: number[];
  vbits: string[];
  block: string;
}

function toBits(vs: ArrayLike<number>): string[] {
  return Array.from(new BigUint64Array(Float64Array.from(vs).buffer), (b) => b.toString(16).padStart(16, '0'));
}

function fromBits(bits: string[]): Float64Array {
  return new Float64Array(BigUint64Array.from(bits, (b) => BigInt(`0x${b}`)).buffer);
}

function inputs(): Array<Omit<Case, 'vbits' | 'block'> & { vs: ArrayLike<number> }> {
  const t0 = 1_700_000_000_000;
  const every = (n: number, step: number): number[] => Array.from({ length: n }, (_, i) => t0 + i * step);
  const jitter = [0, 3, -2, 7, 1, -5, 0, 12, -9, 2, 0, 1, -1, 4, -3, 0];
  const tsbs = [58, 59, 58, 57, 57, 58, 60, 61, 61, 60, 59, 59, 58, 58, 59, 57];
  const alternating = Array.from({ length: 64 }, (_, i) => (i % 2 ? Math.PI : Math.E));
  return [
    { name: 'const-regular', encoding: 2, ts: every(5, 15000), vs: [42.5, 42.5, 42.5, 42.5, 42.5] },
    { name: 'gorilla-non-decimal', encoding: 1, ts: jitter.slice(0, 6).map((j, i) => t0 + i * 10000 + j), vs: [Math.PI, Math.E, 1 / 3, 2 / 3, Math.SQRT2, -0] },
    { name: 'regular-ts-decimal-delta', encoding: 3, modes: 0 | (2 << 2), ts: every(16, 10000), vs: tsbs },
    { name: 'worked-example', encoding: 3, modes: 1 | (2 << 2), ts: [1000, 11000, 21003, 31000], vs: [21.5, 21.7, 21.7, 21.6] },
    { name: 'jitter-ts-const-values', encoding: 3, modes: 1 | (0 << 2), ts: jitter.map((j, i) => t0 + i * 10000 + j), vs: new Array(16).fill(-7.25) },
    { name: 'decimal-raw-states', encoding: 3, modes: 0 | (1 << 2), ts: every(12, 30000), vs: [0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0] },
    { name: 'decimal-dod-counter', encoding: 3, modes: 0 | (3 << 2), ts: every(10, 10000), vs: [1000, 1100, 1200, 1300, 1400, 1500, 1601, 1701, 1801, 1901] },
    { name: 'negative-exponent', encoding: 3, modes: 0 | (1 << 2), ts: every(4, 60000), vs: [3e21, 5e21, 4e21, 1.2e22] },
    { name: 'log-order-ts-2dp', encoding: 3, modes: 1 | (2 << 2), ts: [5000, 6000, 6000, 5500, 7000, 8000, 9000, 8999, 10000, 11000], vs: [21.5, 21.52, 21.55, 21.6, 21.58, 21.58, 21.61, 21.7, 21.69, -1.05] },
    // Encoding 3 applies (every delta and delta-of-delta is safe) but needs ≥ 4 B/point, so gorilla is tried and wins.
    { name: 'huge-timestamps', encoding: 1, ts: [-9007199254740991, 0, 9007199254740991, 1], vs: [1, 2, 3, 4] },
    { name: 'cold-compressed-gorilla', encoding: ENCODING_COMPRESSED, cold: true, ts: every(64, 10000), vs: alternating },
  ];
}

function build(): Case[] {
  return inputs().map(({ vs, ...c }) => ({ ...c, vbits: toBits(vs), block: encodeBlock(c.ts, vs, { cold: c.cold === true }).toString('hex') }));
}

if (process.env.UPDATE_GOLDEN === '1') {
  const doc = { format: 'docs/format/block.md', note: 'vbits are float64 bit patterns (hex, big-endian); block is the stored block in hex', cases: build() };
  writeFileSync(FIXTURE, `${JSON.stringify(doc, null, 2).replace(/\[\n\s+([^[\]{}]*?)\n\s+\]/g, (_, body: string) => `[${body.replace(/,\n\s+/g, ', ')}]`)}\n`);
  console.log(`wrote ${FIXTURE.pathname}`);
}

function inner(block: Buffer): { algo: number; encoding: number; body: Buffer } {
  const body = block.subarray(BLOCK_HEADER_SIZE);
  const packed = body.subarray(2);
  return { algo: body[0], encoding: body[1], body: body[0] === COMPRESSION_BROTLI ? brotliDecompressSync(packed) : inflateRawSync(packed) };
}

test('golden: every encoding and mode is reproduced byte for byte and decodes to its points', () => {
  const doc = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Case[] };
  const want = inputs();
  assert.deepEqual(doc.cases.map((c) => c.name), want.map((c) => c.name));
  for (const c of doc.cases) {
    const stored = Buffer.from(c.block, 'hex');
    assert.equal(stored[3], c.encoding, `${c.name}: encoding`);
    if (c.modes !== undefined) assert.equal(stored[BLOCK_HEADER_SIZE], c.modes, `${c.name}: mode byte`);
    const d = decodeBlock(stored);
    assert.deepEqual(d.ts, c.ts, `${c.name}: timestamps`);
    assert.deepEqual(toBits(d.vs), c.vbits, `${c.name}: values`);
    const now = encodeBlock(c.ts, fromBits(c.vbits), { cold: c.cold === true });
    if (c.encoding !== ENCODING_COMPRESSED) {
      assert.equal(now.toString('hex'), c.block, `${c.name}: block bytes`);
      continue;
    }
    // The compressed payload depends on the zlib/brotli build; the format around it and the body inside must not.
    assert.equal(now[3], ENCODING_COMPRESSED, `${c.name}: still compressed`);
    assert.deepEqual(decodeBlockHeader(now), decodeBlockHeader(stored), `${c.name}: header`);
    assert.equal(now.subarray(0, 12).toString('hex'), stored.subarray(0, 12).toString('hex'), `${c.name}: header bytes before bodyLength`);
    const a = inner(now);
    const b = inner(stored);
    assert.equal(a.encoding, b.encoding, `${c.name}: inner encoding`);
    assert.equal(a.body.toString('hex'), b.body.toString('hex'), `${c.name}: inner body`);
  }
});
