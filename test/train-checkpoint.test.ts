// Checkpoint files: round trip of spec, normalisation and weights, and clear errors for
// files that are not checkpoints, are truncated, damaged or from another format version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint } from '../src/engine/checkpoint.js';
import { buildModel } from '../src/models/index.js';
import { UsageError } from '../src/errors.js';
import { main } from '../src/cli.js';
import { stateSize } from '../src/engine/index.js';

const spec = buildModel('resnet20', { inChannels: 1, inputSize: 8, classes: 3, variants: { kind: 'dw-scc', cg: 2, co: 0.5 } });
const fields = { spec, dataset: { name: 'synthetic:size=8', mean: [0.25], std: [0.5] }, metrics: { testAccuracy: 0.5 } };

test('round trip: header fields and float32 state bit-exact, including odd header lengths', () => {
  const state = Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i) * 1e3 + (i === 7 ? -0 : 0));
  state[3] = Number.MIN_VALUE; // a subnormal survives as the nearest float32
  for (const name of ['a', 'ab', 'abc', 'abcd']) {
    const bytes = encodeCheckpoint({ ...fields, dataset: { ...fields.dataset, name } }, state);
    const ck = decodeCheckpoint(bytes);
    assert.deepEqual(ck.header.spec, spec);
    assert.equal(ck.header.dataset.name, name);
    assert.deepEqual(ck.header.dataset.mean, [0.25]);
    assert.equal(ck.header.stateLength, 1001);
    assert.deepEqual(new Uint8Array(ck.state.buffer), new Uint8Array(state.buffer));
  }
});

test('files: saved and loaded; missing, foreign, truncated and damaged files are UsageErrors', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-ck-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'm.dsx');
  const state = Float32Array.from({ length: 64 }, (_, i) => i / 7);
  saveCheckpoint(path, fields, state);
  assert.deepEqual([...loadCheckpoint(path).state], [...state]);
  const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);
  assert.throws(() => loadCheckpoint(join(dir, 'none.dsx')), usage(/no such file \(write one with: dsxplore train/));
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, bytes.length - 4));
  assert.throws(() => loadCheckpoint(path), usage(/truncated weights/));
  const damaged = Uint8Array.from(bytes);
  damaged[damaged.length - 3] ^= 0x40;
  assert.throws(() => decodeCheckpoint(damaged), usage(/checksum/));
  const future = Uint8Array.from(bytes);
  future[8] = 3;
  assert.throws(() => decodeCheckpoint(future), usage(/file format 3/));
  assert.throws(() => decodeCheckpoint(new TextEncoder().encode('{"not": "a checkpoint"}')), usage(/magic/));
});

// ---- corrupted files: every truncation and bit flip is refused, naming the file ----

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('truncated or bit-flipped checkpoints (every prefix and header byte, sampled weights) are refused, naming the file', () => {
  const state = Float32Array.from({ length: 3000 }, (_, i) => Math.cos(i));
  const bytes = encodeCheckpoint(fields, state);
  const headerEnd = 20 + new DataView(bytes.buffer).getUint32(12, true);
  const weightsStart = Math.ceil(headerEnd / 4) * 4;
  const source = '/data/run-7/model.dsx';
  const refused = (b: Uint8Array, what: string) =>
    assert.throws(
      () => decodeCheckpoint(b, source),
      (e: unknown) => e instanceof UsageError && e.message.startsWith(`${source} is not a usable dsxplore checkpoint: `),
      what,
    );
  const next = rng(15);
  // truncations: every length through the header and padding, a seeded sample in the weights
  const cuts = [...Array(weightsStart + 8).keys(), ...Array.from({ length: 300 }, () => weightsStart + Math.floor(next() * (bytes.length - weightsStart)))];
  for (const cut of cuts) refused(bytes.subarray(0, cut), `truncated to ${cut} bytes`);
  // bit flips: one at every byte of the prefix, header and padding, 500 in the weights
  const positions = [...Array(weightsStart).keys(), ...Array.from({ length: 500 }, () => weightsStart + Math.floor(next() * (bytes.length - weightsStart)))];
  for (const at of positions) {
    const flipped = Uint8Array.from(bytes);
    flipped[at]! ^= 1 << Math.floor(next() * 8);
    refused(flipped, `bit flipped at byte ${at}`);
  }
  // and bytes appended
  refused(Uint8Array.from([...bytes, 0]), 'one byte appended');
  assert.equal(decodeCheckpoint(bytes, source).state.length, 3000, 'the intact file still loads');
});

test('files of format 1 (before the header checksum) still load', () => {
  const state = Float32Array.from({ length: 10 }, (_, i) => i);
  const v2 = encodeCheckpoint(fields, state);
  const headerLength = new DataView(v2.buffer).getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(v2.subarray(20, 20 + headerLength)));
  const json = new TextEncoder().encode(JSON.stringify({ ...header, format: 1 }));
  const start = Math.ceil((16 + json.length) / 4) * 4;
  const v1 = new Uint8Array(start + 40);
  v1.set(v2.subarray(0, 8));
  new DataView(v1.buffer).setUint32(8, 1, true);
  new DataView(v1.buffer).setUint32(12, json.length, true);
  v1.set(json, 16);
  v1.set(v2.subarray(v2.length - 40), start);
  assert.deepEqual([...decodeCheckpoint(v1).state], [...state]);
});

async function cli(args: string[]): Promise<{ code: number; err: string }> {
  // stderr only: the test runner reports through this process's stdout
  let err = '';
  const w = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((c: string | Uint8Array) => ((err += String(c)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(args), err };
  } finally {
    process.stderr.write = w;
  }
}

test('evaluate --load of a truncated or bit-flipped file: exit 2, one line naming the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-ck-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = 'synthetic:size=8,classes=3,train=32,test=16,c=1';
  const good = join(dir, 'good.dsx');
  const state = Float32Array.from({ length: stateSize(spec) }, (_, i) => Math.sin(i) * 0.1);
  saveCheckpoint(good, { ...fields, dataset: { name: data, mean: [0.5], std: [0.25] } }, state);
  const ok = await cli(['evaluate', '--load', good, '--device', 'cpu', '--threads', '1', '--json']);
  assert.equal(ok.code, 0, ok.err);
  const bytes = readFileSync(good);
  const next = rng(16);
  for (let i = 0; i < 40; i++) {
    const broken = Uint8Array.from(bytes);
    const truncate = i % 2 === 0;
    const at = Math.floor(next() * bytes.length);
    if (!truncate) broken[at]! ^= 1 << Math.floor(next() * 8);
    const file = join(dir, `broken-${i}.dsx`);
    writeFileSync(file, truncate ? broken.subarray(0, at) : broken);
    const r = await cli(['evaluate', '--load', file, '--device', 'cpu', '--threads', '1']);
    const what = `${truncate ? 'truncated at' : 'bit flipped at'} ${at}: ${r.err}`;
    assert.equal(r.code, 2, what);
    assert.ok(r.err.startsWith(`dsxplore: ${file} is not a usable dsxplore checkpoint`), what);
    assert.equal(r.err.indexOf('\n'), r.err.length - 1, what);
  }
});

test('train --save into a folder that does not exist is refused before training', async () => {
  const file = join(tmpdir(), 'dsx-no-such-folder', 'm.dsx');
  const r = await cli(['train', '--model', 'resnet20', '--dataset', 'synthetic:size=8,classes=3,train=32,test=16', '--epochs', '1', '--save', file]);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /^dsxplore: --save: .*dsx-no-such-folder.* does not exist\n$/);
});
