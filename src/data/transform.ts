// Dataset-level transforms done once at load time: zero padding (MNIST 28x28 -> 32x32),
// subsets by index (validation split, limits) and per-channel statistics.
import type { Dataset } from '../domain/dataset.js';
import { Rng } from './rng.js';

/** Zero-pad every image by `pad` pixels on each side. */
export function padImages(
  images: Uint8Array,
  count: number,
  shape: [number, number, number],
  pad: number,
): { images: Uint8Array; shape: [number, number, number] } {
  const [C, H, W] = shape;
  const Ho = H + 2 * pad;
  const Wo = W + 2 * pad;
  const out = new Uint8Array(count * C * Ho * Wo);
  for (let n = 0; n < count; n++) {
    for (let c = 0; c < C; c++) {
      const src = (n * C + c) * H * W;
      const dst = (n * C + c) * Ho * Wo;
      for (let y = 0; y < H; y++) {
        out.set(images.subarray(src + y * W, src + (y + 1) * W), dst + (y + pad) * Wo + pad);
      }
    }
  }
  return { images: out, shape: [C, Ho, Wo] };
}

/** Per-channel mean and (population) std of pixel/255. */
export function channelStats(
  images: Uint8Array,
  count: number,
  shape: [number, number, number],
): { mean: number[]; std: number[] } {
  const [C, H, W] = shape;
  const plane = H * W;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < C; c++) {
    // integer sums are exact up to 2^53, far beyond any dataset here
    let s = 0;
    let s2 = 0;
    for (let n = 0; n < count; n++) {
      const at = (n * C + c) * plane;
      for (let i = 0; i < plane; i++) {
        const v = images[at + i]!;
        s += v;
        s2 += v * v;
      }
    }
    const m = count * plane;
    const mu = m > 0 ? s / m : 0;
    const variance = m > 0 ? Math.max(0, s2 / m - mu * mu) : 0;
    mean.push(mu / 255);
    // a constant channel would divide by zero when normalising; 1 leaves it unscaled
    std.push(variance > 0 ? Math.sqrt(variance) / 255 : 1);
  }
  return { mean, std };
}

/** The images and labels at `indices`, as a new dataset (statistics copied, not recomputed). */
export function subset(d: Dataset, indices: ArrayLike<number>, name: string): Dataset {
  const [C, H, W] = d.shape;
  const per = C * H * W;
  const images = new Uint8Array(indices.length * per);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    images.set(d.images.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = d.labels[j]!;
  }
  return { ...d, name, count: indices.length, images, labels, mean: [...d.mean], std: [...d.std] };
}

/** The first `n` examples (a view, no copy). */
export function head(d: Dataset, n: number): Dataset {
  if (n >= d.count) return d;
  const per = d.shape[0] * d.shape[1] * d.shape[2];
  return { ...d, count: n, images: d.images.subarray(0, n * per), labels: d.labels.subarray(0, n) };
}

/**
 * Hold `validation` examples out of `train`, chosen by a seeded permutation; the rest keep
 * their original order. Deterministic for a given seed and training-set size.
 */
export function holdOut(train: Dataset, validation: number, seed: number): { train: Dataset; validation: Dataset } {
  const perm = new Rng(seed ^ 0x5eed).permutation(train.count);
  const held = Array.from(perm.subarray(0, validation)).sort((a, b) => a - b);
  const isHeld = new Uint8Array(train.count);
  for (const i of held) isHeld[i] = 1;
  const rest: number[] = [];
  for (let i = 0; i < train.count; i++) if (!isHeld[i]) rest.push(i);
  const base = train.name.replace(/\/train$/, '');
  return {
    train: subset(train, rest, `${base}/train`),
    validation: subset(train, held, `${base}/validation`),
  };
}
