// Networks with non-trivial random states for export tests: the engine's own initialisation,
// then BN statistics and affine parameters (and biases) drawn away from the identity, so
// that BN folding and the normalisation node are really exercised.
import assert from 'node:assert/strict';
import { buildModel, parseVariant, type ModelSpec } from '../../src/models/index.js';
import { debugStep, stateLayout, type StateLayout } from '../../src/engine/index.js';

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

export function specOf(model: string, variant: string, o: { inChannels?: number; inputSize?: number } = {}): ModelSpec {
  return buildModel(model, { variants: parseVariant(variant), inChannels: o.inChannels ?? 3, inputSize: o.inputSize ?? 32, classes: 10 });
}

export function randomState(spec: ModelSpec, seed: number): { state: Float32Array; layout: StateLayout } {
  const [c, h, w] = spec.inputShape;
  const init = debugStep({ spec, images: new Float32Array(2 * c * h * w), labels: new Int32Array(2), seed, train: false });
  const state = init.state.slice();
  const layout = stateLayout(spec);
  const r = rng(seed + 1);
  for (const e of layout.entries) {
    const v = state.subarray(e.offset, e.offset + e.size);
    for (let i = 0; i < v.length; i++) {
      if (e.kind === 'gamma') v[i] = 0.5 + r();
      else if (e.kind === 'beta' || e.kind === 'bias') v[i] = 0.2 * (r() - 0.5);
      else if (e.kind === 'running_mean') v[i] = 0.2 * (r() - 0.5);
      else if (e.kind === 'running_var') v[i] = 0.5 + r();
    }
  }
  return { state, layout };
}

/** Pixels in [0,1] and the same images normalised the way the engine's data path does it. */
export function randomPixels(spec: ModelSpec, n: number, mean: number[], std: number[], seed: number) {
  const [c, h, w] = spec.inputShape;
  const r = rng(seed);
  const pixels = new Float32Array(n * c * h * w);
  const normalised = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const ch = Math.floor(i / (h * w)) % c;
    pixels[i] = Math.round(r() * 255) / 255;
    normalised[i] = (pixels[i]! - mean[ch]!) / std[ch]!;
  }
  return { pixels, normalised };
}

/** Largest absolute difference between two logit arrays over the largest magnitude of the
 * reference; an all-zero reference fails (it would prove nothing). */
export function relativeError(values: Float32Array, reference: Float32Array): number {
  assert.equal(values.length, reference.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    diff = Math.max(diff, Math.abs(values[i]! - reference[i]!));
    scale = Math.max(scale, Math.abs(reference[i]!));
  }
  assert.ok(scale > 0, 'logits are all zero: the check would prove nothing');
  return diff / scale;
}
