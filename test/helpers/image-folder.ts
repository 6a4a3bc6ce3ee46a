// Writes a small image-folder dataset with sharp for the tests: three classes of clearly
// different patterns (horizontal stripes, vertical stripes, a checkerboard) in random
// colours and phases, at mixed sizes, as RGB JPEG, greyscale PNG and RGBA PNG files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export const PATTERN_CLASSES = ['checker', 'horizontal', 'vertical'];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SIZES: [number, number][] = [
  [48, 48],
  [64, 40],
  [40, 72],
  [80, 80],
];

/** One pattern image as raw RGB(A) pixels. */
function pattern(cls: string, w: number, h: number, channels: 1 | 3 | 4, r: () => number): Buffer {
  const period = 10 + Math.floor(r() * 6);
  const phase = Math.floor(r() * period);
  const fg = [80 + r() * 175, 80 + r() * 175, 80 + r() * 175];
  const bg = fg.map((v) => Math.max(0, v - 70 - r() * 40));
  const px = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const on =
        cls === 'horizontal'
          ? Math.floor((y + phase) / (period / 2)) % 2 === 0
          : cls === 'vertical'
            ? Math.floor((x + phase) / (period / 2)) % 2 === 0
            : (Math.floor((x + phase) / (period / 2)) + Math.floor((y + phase) / (period / 2))) % 2 === 0;
      const c = on ? fg : bg;
      const at = (y * w + x) * channels;
      if (channels === 1) px[at] = Math.round((c[0]! + c[1]! + c[2]!) / 3);
      else {
        for (let k = 0; k < 3; k++) px[at + k] = Math.round(Math.min(255, c[k]! + (r() - 0.5) * 20));
        if (channels === 4) px[at + 3] = 200 + Math.floor(r() * 55);
      }
    }
  }
  return px;
}

/** Encode one image as the i-th file of a class: JPEG (RGB), PNG (grey) or PNG (RGBA) in turn. */
export async function writePatternImage(dir: string, cls: string, i: number, seed: number): Promise<string> {
  const r = rng(seed * 7919 + i * 104729 + cls.length);
  const [w, h] = SIZES[i % SIZES.length]!;
  const mode = i % 3;
  const channels = mode === 0 ? 3 : mode === 1 ? 1 : 4;
  const img = sharp(pattern(cls, w, h, channels, r), { raw: { width: w, height: h, channels } });
  const name = mode === 0 ? `img${String(i).padStart(3, '0')}.jpg` : `img${String(i).padStart(3, '0')}.png`;
  const buf = mode === 0 ? await img.jpeg({ quality: 90 }).toBuffer() : await img.png().toBuffer();
  mkdirSync(join(dir, cls), { recursive: true });
  writeFileSync(join(dir, cls, name), buf);
  return join(dir, cls, name);
}

/** root/train/CLASS/* and root/val/CLASS/*: `train` and `val` images per class. */
export async function writePatternFolder(root: string, train: number, val: number, seed = 1): Promise<void> {
  const jobs: Promise<string>[] = [];
  for (const cls of PATTERN_CLASSES) {
    for (let i = 0; i < train; i++) jobs.push(writePatternImage(join(root, 'train'), cls, i, seed));
    for (let i = 0; i < val; i++) jobs.push(writePatternImage(join(root, 'val'), cls, i, seed + 1000));
  }
  await Promise.all(jobs);
}
