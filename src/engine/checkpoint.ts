// Trained-model files written by `dsxplore train --save` and read by `dsxplore evaluate
// --load`: the model spec, the dataset normalisation and the recipe travel with the
// weights, so a file is enough to reproduce an accuracy. One file, versioned:
//
//   bytes 0..7   magic "DSXCKPT\n"
//   uint32 LE    file format version (2; format 1 files, without the header checksum, are read too)
//   uint32 LE    header length H in bytes
//   uint32 LE    FNV-1a 32-bit of the H header bytes (format 2)
//   H bytes      UTF-8 JSON header (CheckpointHeader)
//   0..3 bytes   zero padding to a multiple of 4
//   float32 LE   the trained state: parameters then BN running statistics, executor order
//
// Every byte is covered: the header and the weights by their checksums (FNV-1a changes with
// any single changed byte), the padding by being zero, the rest by its own check, so a
// truncated or bit-flipped file is refused with its name, never loaded half-right.
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { formatIssues, pathString } from '../issues.js';
import type { ModelSpec } from '../models/spec.js';
import type { TrainRecipe } from './types.js';
import { version as dsxploreVersion } from '../version.js';

export const CHECKPOINT_MAGIC = 'DSXCKPT\n';
export const CHECKPOINT_FORMAT = 2;
/** Formats this build reads. */
const READABLE_FORMATS = [1, 2];

export interface CheckpointHeader {
  format: number;
  dsxploreVersion: string;
  createdAt: string;
  spec: ModelSpec;
  /** the dataset it was trained on and the normalisation the weights expect */
  dataset: { name: string; mean: number[]; std: number[] };
  recipe?: TrainRecipe;
  /** figures measured at save time, for reference */
  metrics?: Record<string, unknown>;
  stateLength: number;
  /** FNV-1a 32-bit of the payload bytes, to detect a damaged file */
  checksum: string;
}

export interface Checkpoint {
  header: CheckpointHeader;
  state: Float32Array;
}

function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** The bytes of a checkpoint (header fields format, dsxploreVersion, createdAt, stateLength
 * and checksum are filled in here). */
export function encodeCheckpoint(
  fields: Omit<CheckpointHeader, 'format' | 'dsxploreVersion' | 'createdAt' | 'stateLength' | 'checksum'>,
  state: Float32Array,
): Uint8Array {
  const payload = new Uint8Array(state.length * 4);
  const pv = new DataView(payload.buffer);
  for (let i = 0; i < state.length; i++) pv.setFloat32(4 * i, state[i]!, true);
  const header: CheckpointHeader = {
    format: CHECKPOINT_FORMAT,
    dsxploreVersion,
    createdAt: new Date().toISOString(),
    ...fields,
    stateLength: state.length,
    checksum: fnv1a(payload),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = PREFIX[CHECKPOINT_FORMAT]! + json.length;
  const padded = Math.ceil(start / 4) * 4;
  const out = new Uint8Array(padded + payload.length);
  out.set(new TextEncoder().encode(CHECKPOINT_MAGIC), 0);
  const v = new DataView(out.buffer);
  v.setUint32(8, CHECKPOINT_FORMAT, true);
  v.setUint32(12, json.length, true);
  v.setUint32(16, parseInt(fnv1a(json), 16), true);
  out.set(json, 20);
  out.set(payload, padded);
  return out;
}

/** The checkpoint of a finished training, as `train --save` writes it and a sweep keeps a
 * trial's weights: the model, the normalisation its weights expect (the training split's
 * mean and std), the recipe and what was measured. */
export function trainedCheckpoint(t: {
  spec: ModelSpec;
  /** the dataset reference it was trained on */
  dataset: string;
  train: { readonly mean: readonly number[]; readonly std: readonly number[] };
  recipe: TrainRecipe;
  metrics: Record<string, unknown>;
}): Parameters<typeof encodeCheckpoint>[0] {
  return { spec: t.spec, dataset: { name: t.dataset, mean: [...t.train.mean], std: [...t.train.std] }, recipe: t.recipe, metrics: t.metrics };
}

/** Bytes before the header, per format. */
const PREFIX: Record<number, number> = { 1: 16, 2: 20 };

const headerSchema = z.object({
  format: z.number().refine((f) => READABLE_FORMATS.includes(f)),
  dsxploreVersion: z.string(),
  createdAt: z.string(),
  spec: z
    .object({
      format: z.literal(1),
      model: z.string(),
      inputShape: z.tuple([z.number().int().min(1), z.number().int().min(1), z.number().int().min(1)]),
      classes: z.number().int().min(1),
      layers: z.array(z.unknown()),
      tensors: z.array(z.unknown()),
    })
    .passthrough(),
  dataset: z.object({ name: z.string(), mean: z.array(z.number()), std: z.array(z.number()) }),
  recipe: z.unknown().optional(),
  metrics: z.record(z.string(), z.unknown()).optional(),
  stateLength: z.number().int().min(0),
  checksum: z.string(),
});

/** Parse checkpoint bytes; `source` names the file in errors. */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Checkpoint {
  const bad = (why: string) =>
    new UsageError(`${source} is not a usable dsxplore checkpoint: ${why}. Write one with: dsxplore train ... --save FILE`);
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== CHECKPOINT_MAGIC) {
    throw bad('missing the DSXCKPT magic bytes');
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = v.getUint32(8, true);
  if (!READABLE_FORMATS.includes(format)) {
    throw bad(`file format ${format}, this dsxplore (${dsxploreVersion}) reads formats ${READABLE_FORMATS.join(' and ')}`);
  }
  const prefix = PREFIX[format]!;
  if (bytes.length < prefix) throw bad('truncated header');
  const headerLength = v.getUint32(12, true);
  if (prefix + headerLength > bytes.length) throw bad('truncated header');
  const headerBytes = bytes.subarray(prefix, prefix + headerLength);
  if (format >= 2 && parseInt(fnv1a(headerBytes), 16) !== v.getUint32(16, true)) {
    throw bad('the header does not match its checksum (damaged file)');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    throw bad(`header is not valid JSON (${(err as Error).message})`);
  }
  const parsed = headerSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    throw bad(`header ${formatIssues(parsed.error, { at: (path) => `field ${pathString(path) || '(root)'}` }, { first: true })}`);
  }
  const header = parsed.data as unknown as CheckpointHeader;
  if (header.format !== format) throw bad(`the header says format ${header.format}, the file ${format}`);
  const start = Math.ceil((prefix + headerLength) / 4) * 4;
  const expected = start + 4 * header.stateLength;
  if (bytes.length !== expected) {
    throw bad(`${bytes.length < expected ? 'truncated' : 'trailing bytes after the'} weights (expected ${expected} bytes, file has ${bytes.length})`);
  }
  if (bytes.subarray(prefix + headerLength, start).some((b) => b !== 0)) throw bad('damaged padding after the header');
  const payload = bytes.subarray(start);
  if (fnv1a(payload) !== header.checksum) throw bad('the weights do not match their checksum (damaged file)');
  const state = new Float32Array(header.stateLength);
  const pv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  for (let i = 0; i < state.length; i++) state[i] = pv.getFloat32(4 * i, true);
  return { header, state };
}

export function saveCheckpoint(
  path: string,
  fields: Parameters<typeof encodeCheckpoint>[0],
  state: Float32Array,
): void {
  try {
    writeFileSync(path, encodeCheckpoint(fields, state));
  } catch (err) {
    throw new UsageError(`cannot write ${path}: ${(err as Error).message}`);
  }
}

export function loadCheckpoint(path: string): Checkpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(
      e.code === 'ENOENT' ? `${path}: no such file (write one with: dsxplore train ... --save ${path})` : `cannot read ${path}: ${e.message}`,
    );
  }
  return decodeCheckpoint(bytes, path);
}
