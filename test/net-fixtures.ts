// Hand-written model specs and data for the net-*.test.ts suites: small enough to train in
// seconds, and covering every op the executor runs (residual add, option-A shortcut,
// channel shuffle, SCC, grouped/depthwise conv, max pool, BN, GAP, linear).
import type { Dataset } from '../src/domain/dataset.js';
import type { Layer, ModelSpec, Shape } from '../src/models/spec.js';

type LayerBody = Layer extends infer L ? (L extends Layer ? Omit<L, 'name' | 'inputs' | 'output'> : never) : never;

/** Tracks tensor ids and shapes while layers are appended. */
export class MiniBuilder {
  readonly layers: Layer[] = [];
  readonly tensors: Shape[];
  constructor(readonly inputShape: Shape) {
    this.tensors = [inputShape];
  }
  add(name: string, inputs: number[], body: LayerBody, out: Shape): number {
    const output = this.tensors.length;
    this.tensors.push(out);
    this.layers.push({ name, inputs, output, ...body } as Layer);
    return output;
  }
  shape(t: number): Shape {
    return this.tensors[t]!;
  }
  conv(name: string, x: number, cout: number, k: number, stride: number, groups = 1, bias = false): number {
    const [c, h, w] = this.shape(x);
    const pad = Math.floor(k / 2);
    const o = (n: number) => Math.floor((n + 2 * pad - k) / stride) + 1;
    return this.add(name, [x], { op: 'conv2d', inChannels: c, outChannels: cout, kernel: k, stride, padding: pad, groups, bias }, [cout, o(h), o(w)]);
  }
  scc(name: string, x: number, cout: number, cg: number, s: number): number {
    const [c, h, w] = this.shape(x);
    return this.add(name, [x], { op: 'scc', inChannels: c, outChannels: cout, groups: cg, channelStride: s }, [cout, h, w]);
  }
  bn(name: string, x: number): number {
    return this.add(name, [x], { op: 'batchnorm', channels: this.shape(x)[0] }, this.shape(x));
  }
  relu(name: string, x: number): number {
    return this.add(name, [x], { op: 'relu' }, this.shape(x));
  }
  maxpool(name: string, x: number, k: number, stride: number, padding = 0): number {
    const [c, h, w] = this.shape(x);
    const o = (n: number) => Math.floor((n + 2 * padding - k) / stride) + 1;
    return this.add(name, [x], { op: 'maxpool', kernel: k, stride, padding }, [c, o(h), o(w)]);
  }
  gap(name: string, x: number): number {
    return this.add(name, [x], { op: 'gap' }, [this.shape(x)[0], 1, 1]);
  }
  linear(name: string, x: number, out: number, bias = true): number {
    const [c, h, w] = this.shape(x);
    return this.add(name, [x], { op: 'linear', inFeatures: c * h * w, outFeatures: out, bias }, [out, 1, 1]);
  }
  shuffle(name: string, x: number, groups: number): number {
    return this.add(name, [x], { op: 'shuffle', groups }, this.shape(x));
  }
  sum(name: string, a: number, b: number): number {
    return this.add(name, [a, b], { op: 'add' }, this.shape(a));
  }
  shortcutA(name: string, x: number, stride: number, outChannels: number, padFront: number): number {
    const [, h, w] = this.shape(x);
    return this.add(name, [x], { op: 'shortcut_a', stride, outChannels, padFront }, [outChannels, Math.ceil(h / stride), Math.ceil(w / stride)]);
  }
  spec(model: string, classes: number): ModelSpec {
    return { format: 1, model, inputShape: this.inputShape, classes, slots: [], layers: this.layers, tensors: this.tensors };
  }
}

/** A small residual network using every op: stem conv, a downsampling block whose main path
 * is depthwise conv + SCC and whose shortcut is option A, a grouped conv + shuffle, a plain
 * residual block that reads one tensor twice, max pool, GAP, linear. */
export function tinyResnet(inputShape: Shape, classes: number, width = 8): ModelSpec {
  const b = new MiniBuilder(inputShape);
  let x = b.relu('stem.relu', b.bn('stem.bn', b.conv('stem.conv', 0, width, 3, 1)));
  // downsampling block: dw3x3/2 -> bn -> relu -> scc -> bn, + option-A shortcut
  let y = b.relu('b1.dw.relu', b.bn('b1.dw.bn', b.conv('b1.dw', x, width, 3, 2, width)));
  y = b.bn('b1.scc.bn', b.scc('b1.scc', y, 2 * width, 2, width / 4));
  const sc = b.shortcutA('b1.shortcut', x, 2, 2 * width, width / 2);
  x = b.relu('b1.relu', b.sum('b1.add', y, sc));
  // grouped conv + shuffle block with identity shortcut
  y = b.shuffle('b2.shuffle', b.conv('b2.gconv', x, 2 * width, 3, 1, 2), 2);
  y = b.bn('b2.bn', y);
  x = b.relu('b2.relu', b.sum('b2.add', y, x));
  x = b.maxpool('pool', x, 2, 2);
  x = b.gap('gap', x);
  b.linear('fc', x, classes, true);
  return b.spec('tiny-resnet', classes);
}

/** Deterministic learnable images: class k lights up a bar at a class-specific position
 * and orientation, plus uniform noise. */
export function barsDataset(count: number, classes: number, shape: [number, number, number], seed: number): Dataset {
  const [c, h, w] = shape;
  let s = seed >>> 0 || 1;
  const rand = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const images = new Uint8Array(count * c * h * w);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const k = i % classes;
    labels[i] = k;
    const vertical = k % 2 === 0;
    const pos = Math.floor(((Math.floor(k / 2) + 0.5) * (vertical ? w : h)) / Math.ceil(classes / 2));
    const jitter = Math.floor(rand() * 3) - 1;
    for (let ch = 0; ch < c; ch++)
      for (let yy = 0; yy < h; yy++)
        for (let xx = 0; xx < w; xx++) {
          const on = vertical ? Math.abs(xx - pos - jitter) <= 0 : Math.abs(yy - pos - jitter) <= 0;
          images[((i * c + ch) * h + yy) * w + xx] = Math.min(255, Math.floor(rand() * 100) + (on ? 150 : 0));
        }
  }
  return { name: `bars/${seed}`, count, shape, classes, images, labels, mean: Array(c).fill(0.3), std: Array(c).fill(0.25) };
}
