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
  future[8] = 2;
  assert.throws(() => decodeCheckpoint(future), usage(/file format 2/));
  assert.throws(() => decodeCheckpoint(new TextEncoder().encode('{"not": "a checkpoint"}')), usage(/magic/));
});
