// Canonical JSON and the spec hash that identifies a candidate in the database: the same
// network gives the same hash whatever order its object keys were written in.
import { createHash } from 'node:crypto';
import type { ModelSpec } from './spec.js';

// Specs repeat the same few keys thousands of times: their quoted forms are cached (bounded,
// so odd inputs cannot grow the cache without limit).
const quotedKeys = new Map<string, string>();

function quoted(key: string): string {
  let q = quotedKeys.get(key);
  if (q === undefined) {
    q = `${JSON.stringify(key)}:`;
    if (quotedKeys.size < 4096) quotedKeys.set(key, q);
  }
  return q;
}

/** JSON with object keys sorted at every depth; undefined members dropped as JSON does.
 * Hand-rolled rather than JSON.stringify with a sorting replacer, which copies every object
 * and is several times slower; sweeps hash every candidate they queue. */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      return 'null';
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    let s = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) s += ',';
      const v: unknown = value[i];
      s += v === undefined || typeof v === 'function' ? 'null' : canonicalJson(v);
    }
    return s + ']';
  }
  const obj = value as Record<string, unknown>;
  let s = '{';
  let first = true;
  for (const key of Object.keys(obj).sort()) {
    const v = obj[key];
    if (v === undefined || typeof v === 'function') continue;
    if (!first) s += ',';
    first = false;
    s += quoted(key) + canonicalJson(v);
  }
  return s + '}';
}

/** sha256 hex of the spec's canonical JSON. */
export function specHash(spec: ModelSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex');
}
