/**
 * Avro schema fingerprints: the Parsing Canonical Form (PCF) of a schema and its CRC-64-AVRO (Rabin) fingerprint,
 * as the Avro specification defines them ("Schema Fingerprints", "Single-object encoding"). Readers in every
 * language compute the same 8 bytes from the same schema, which is what lets a log record name its writer schema
 * without a registry service. Checked against the Avro repository's share/test/data/schema-tests.txt vectors.
 */
import { TsdbError } from '../common/errors.js';

/** The fingerprint of the empty byte string, and the polynomial of the Rabin fingerprint, per the spec. */
export const CRC64_AVRO_EMPTY = 0xc15d213aa4d7a795n;

// BigInt is slow per byte, but fingerprints are computed once per schema at startup, never per record.
const TABLE: bigint[] = (() => {
  const t: bigint[] = new Array<bigint>(256);
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (CRC64_AVRO_EMPTY & -(fp & 1n));
    t[i] = fp;
  }
  return t;
})();

/** CRC-64-AVRO of the bytes (a string is taken as its UTF-8 bytes), as an unsigned 64-bit integer. */
export function crc64Avro(data: Uint8Array | string): bigint {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fp = CRC64_AVRO_EMPTY;
  for (let i = 0; i < bytes.length; i++) fp = (fp >> 8n) ^ TABLE[Number((fp ^ BigInt(bytes[i]!)) & 0xffn)]!;
  return fp;
}

/** The fingerprint as the 8 little-endian bytes that follow `C3 01` in a single-object-encoded record. */
export function crc64AvroLE(data: Uint8Array | string): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(crc64Avro(data));
  return out;
}

/** Fingerprint (8 bytes, little-endian) of a schema given as JSON text or as a parsed schema. */
export function schemaFingerprint(schema: unknown): Buffer {
  return crc64AvroLE(parsingCanonicalForm(schema));
}

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
const NAMED = new Set(['record', 'error', 'enum', 'fixed']);

/**
 * Parsing Canonical Form: [PRIMITIVES] `{"type":"int"}` → `"int"`; [FULLNAMES] names fully qualified, namespace
 * dropped; [STRIP] only name, type, fields, symbols, items, values, size kept (doc, aliases, default, order and
 * logicalType go); [ORDER] in that order; [STRINGS]/[WHITESPACE] JSON.stringify's output; [INTEGERS] size as a
 * plain integer. A named type is written in full at its first occurrence and by full name afterwards.
 */
export function parsingCanonicalForm(schema: unknown): string {
  const parsed: unknown = typeof schema === 'string' ? parseSchemaText(schema) : schema;
  const defined = new Set<string>();
  collectNames(parsed, '', defined);
  return canon(parsed, '', new Set<string>(), defined);
}

function parseSchemaText(text: string): unknown {
  const t = text.trim();
  // A bare type name such as `int` is a valid schema text in other implementations' tests; JSON needs quotes.
  if (/^[A-Za-z_][A-Za-z0-9_.]*$/.test(t)) return t;
  try {
    return JSON.parse(t) as unknown;
  } catch (e) {
    throw bad(`schema is not JSON (${(e as Error).message})`);
  }
}

function bad(cause: string): TsdbError {
  return new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot canonicalize Avro schema: ${cause}`);
}

function fullName(name: string, namespace: string): string {
  return name.includes('.') || namespace === '' ? name : `${namespace}.${name}`;
}

/** The namespace that applies inside a named type: the one its full name carries. */
function namespaceOf(full: string): string {
  const dot = full.lastIndexOf('.');
  return dot < 0 ? '' : full.slice(0, dot);
}

function ownNamespace(o: Record<string, unknown>, enclosing: string): string {
  return typeof o['namespace'] === 'string' ? o['namespace'] : enclosing;
}

/** First pass: every defined full name, so references can fall back to the null namespace as Java's parser does. */
function collectNames(s: unknown, ns: string, out: Set<string>): void {
  if (Array.isArray(s)) {
    for (const b of s) collectNames(b, ns, out);
    return;
  }
  if (s === null || typeof s !== 'object') return;
  const o = s as Record<string, unknown>;
  const type = o['type'];
  if (typeof type === 'string' && NAMED.has(type) && typeof o['name'] === 'string') {
    const full = fullName(o['name'], ownNamespace(o, ns));
    out.add(full);
    const inner = namespaceOf(full);
    if (Array.isArray(o['fields'])) for (const f of o['fields'] as unknown[]) collectNames((f as Record<string, unknown>)?.['type'], inner, out);
    return;
  }
  if (typeof type === 'object') collectNames(type, ns, out);
  if ('items' in o) collectNames(o['items'], ns, out);
  if ('values' in o) collectNames(o['values'], ns, out);
}

function canon(s: unknown, ns: string, seen: Set<string>, defined: Set<string>): string {
  if (typeof s === 'string') {
    if (PRIMITIVES.has(s)) return JSON.stringify(s);
    const qualified = fullName(s, ns);
    return JSON.stringify(!defined.has(qualified) && defined.has(s) ? s : qualified);
  }
  if (Array.isArray(s)) return '[' + s.map((b) => canon(b, ns, seen, defined)).join(',') + ']';
  if (s === null || typeof s !== 'object') throw bad(`unexpected ${JSON.stringify(s)} where a schema was expected`);
  const o = s as Record<string, unknown>;
  const type = o['type'];
  if (typeof type !== 'string') return canon(type, ns, seen, defined);
  if (PRIMITIVES.has(type)) return JSON.stringify(type);
  if (type === 'array') return `{"type":"array","items":${canon(o['items'], ns, seen, defined)}}`;
  if (type === 'map') return `{"type":"map","values":${canon(o['values'], ns, seen, defined)}}`;
  if (!NAMED.has(type)) return canon(type, ns, seen, defined); // a reference written as {"type":"a.b.Name"}
  if (typeof o['name'] !== 'string') throw bad(`a ${type} has no name`);
  const full = fullName(o['name'], ownNamespace(o, ns));
  if (seen.has(full)) return JSON.stringify(full);
  seen.add(full);
  const head = `{"name":${JSON.stringify(full)},"type":${JSON.stringify(type)}`;
  if (type === 'enum') {
    if (!Array.isArray(o['symbols'])) throw bad(`enum ${full} has no symbols`);
    return `${head},"symbols":${JSON.stringify(o['symbols'])}}`;
  }
  if (type === 'fixed') {
    const size = Number(o['size']);
    if (!Number.isSafeInteger(size) || size < 0) throw bad(`fixed ${full} has size ${JSON.stringify(o['size'])}`);
    return `${head},"size":${size}}`;
  }
  if (!Array.isArray(o['fields'])) throw bad(`record ${full} has no fields`);
  const inner = namespaceOf(full);
  const fields = (o['fields'] as unknown[]).map((f) => {
    const field = f as Record<string, unknown>;
    if (field === null || typeof field !== 'object' || typeof field['name'] !== 'string') {
      throw bad(`record ${full} has a field without a name`);
    }
    return `{"name":${JSON.stringify(field['name'])},"type":${canon(field['type'], inner, seen, defined)}}`;
  });
  return `${head},"fields":[${fields.join(',')}]}`;
}
