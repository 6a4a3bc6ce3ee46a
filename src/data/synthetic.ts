// The `synthetic` dataset: generated, deterministic from a seed, and learnable by a small
// conv net, so tests and quick demos need no download. Each class is an oriented sinusoidal
// grating (its own orientation, frequency and per-channel colour); every image draws a
// random phase, contrast and Gaussian pixel noise. A random phase means the class is only
// recognisable from local texture, which is what convolutions + global pooling learn, and
// random crops keep the label.
import { Rng } from './rng.js';

export interface SyntheticOptions {
  channels: number;
  size: number;
  classes: number;
  train: number;
  test: number;
  /** data seed (independent of the training seed, so trials see the same data) */
  seed: number;
  /** std of the pixel noise relative to the pattern amplitude */
  noise: number;
}

export const SYNTHETIC_DEFAULTS: SyntheticOptions = {
  channels: 3,
  size: 32,
  classes: 10,
  train: 2000,
  test: 500,
  seed: 1,
  noise: 0.5,
};

interface ClassPattern {
  kx: number;
  ky: number;
  colour: number[];
}

function classPatterns(o: SyntheticOptions): ClassPattern[] {
  const rng = new Rng(o.seed * 7919 + 17);
  const patterns: ClassPattern[] = [];
  for (let k = 0; k < o.classes; k++) {
    // orientations spread evenly over [0, pi) and two frequency bands interleaved, jittered,
    // so classes are distinct for any class count
    const angle = (Math.PI * (k + 0.25 * rng.next())) / o.classes;
    const cycles = (k % 2 === 0 ? 0.12 : 0.22) + 0.04 * rng.next(); // cycles per pixel
    const w = 2 * Math.PI * cycles;
    const colour = Array.from({ length: o.channels }, () => 0.4 + 0.6 * rng.next());
    patterns.push({ kx: w * Math.cos(angle), ky: w * Math.sin(angle), colour });
  }
  return patterns;
}

export interface GeneratedSplit {
  count: number;
  images: Uint8Array;
  labels: Uint8Array;
}

/** Generate `count` images; `stream` separates the train and test streams of one seed. */
export function generateSynthetic(o: SyntheticOptions, count: number, stream: number): GeneratedSplit {
  const patterns = classPatterns(o);
  const rng = new Rng(o.seed * 1000003 + stream * 7 + 1);
  const { channels: C, size: S } = o;
  const plane = S * S;
  const images = new Uint8Array(count * C * plane);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % o.classes; // balanced; order is shuffled by the trainer anyway
    labels[i] = label;
    const p = patterns[label]!;
    const phase = 2 * Math.PI * rng.next();
    const contrast = 0.6 + 0.4 * rng.next();
    const base = i * C * plane;
    for (let c = 0; c < C; c++) {
      const amp = 90 * contrast * p.colour[c]!;
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          const v = 128 + amp * Math.sin(p.kx * x + p.ky * y + phase) + 90 * o.noise * rng.normal();
          images[base + c * plane + y * S + x] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
        }
      }
    }
  }
  return { count, images, labels };
}
