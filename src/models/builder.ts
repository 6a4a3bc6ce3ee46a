// SpecBuilder: the one place that appends layers to a ModelSpec, computes tensor shapes,
// and expands a conv slot into its variant's layers (README.md, Variants). The
// architecture files (vgg.ts, resnet.ts, ...) only say which layers follow which.
import { UsageError } from '../errors.js';
import type { Layer, ModelSpec, Shape, Slot, Stem, Variant } from './spec.js';

/** A slot before any variant is chosen: what a design-space enumerator assigns variants to. */
export interface SlotInfo {
  index: number;
  /** e.g. "stage2.block1.conv1" */
  name: string;
  /** 1-based stage number (a run of slots at one resolution, as the architecture groups them) */
  stage: number;
  inChannels: number;
  outChannels: number;
  stride: number;
  /** input spatial size (inputs are square) */
  inSize: number;
  /** output spatial size: a 3x3 conv with padding 1 and this stride */
  outSize: number;
}

/** Chooses the resolved variant of each slot as the builder reaches it. */
export type VariantPicker = (slot: SlotInfo) => Variant;

type NewLayer = Layer extends infer L ? (L extends Layer ? Omit<L, 'output'> : never) : never;

export class SpecBuilder {
  readonly layers: Layer[] = [];
  readonly tensors: Shape[];
  readonly slots: Slot[] = [];
  readonly slotInfos: SlotInfo[] = [];
  private names = new Set<string>();

  constructor(
    readonly model: string,
    readonly inputShape: Shape,
    readonly classes: number,
    private readonly pick: VariantPicker,
    readonly stem: Stem = 'cifar',
  ) {
    this.tensors = [inputShape];
  }

  shape(t: number): Shape {
    return this.tensors[t]!;
  }

  private push(layer: NewLayer, shape: Shape): number {
    if (this.names.has(layer.name)) throw new Error(`internal: duplicate layer name ${layer.name}`);
    this.names.add(layer.name);
    const output = this.tensors.length;
    this.tensors.push(shape);
    // the callers build a fresh object per layer, so it can take its output id in place
    (layer as Layer).output = output;
    this.layers.push(layer as Layer);
    return output;
  }

  private spatial(name: string, size: number, kernel: number, stride: number, padding: number): number {
    const out = Math.floor((size + 2 * padding - kernel) / stride) + 1;
    if (out < 1) {
      throw new UsageError(
        `input size ${this.inputShape[1]} is too small for ${this.model}: layer ${name} would get ` +
          `a ${size}x${size} input and produce nothing; use a larger --input-size`,
      );
    }
    return out;
  }

  conv(
    name: string,
    x: number,
    o: { out: number; kernel: number; stride?: number; padding?: number; groups?: number; bias?: boolean },
    slot?: number,
  ): number {
    const [c, h, w] = this.shape(x);
    const stride = o.stride ?? 1;
    const padding = o.padding ?? (o.kernel - 1) / 2;
    const groups = o.groups ?? 1;
    const ho = this.spatial(name, h, o.kernel, stride, padding);
    const wo = this.spatial(name, w, o.kernel, stride, padding);
    const layer: NewLayer = {
      op: 'conv2d',
      name,
      inputs: [x],
      inChannels: c,
      outChannels: o.out,
      kernel: o.kernel,
      stride,
      padding,
      groups,
      bias: o.bias ?? false,
    };
    if (slot !== undefined) layer.slot = slot;
    return this.push(layer, [o.out, ho, wo]);
  }

  scc(name: string, x: number, out: number, cg: number, s: number, slot: number): number {
    const [c, h, w] = this.shape(x);
    return this.push(
      { op: 'scc', name, inputs: [x], inChannels: c, outChannels: out, groups: cg, channelStride: s, slot },
      [out, h, w],
    );
  }

  bn(name: string, x: number, slot?: number): number {
    const layer: NewLayer = { op: 'batchnorm', name, inputs: [x], channels: this.shape(x)[0] };
    if (slot !== undefined) layer.slot = slot;
    return this.push(layer, this.shape(x));
  }

  relu(name: string, x: number, slot?: number): number {
    const layer: NewLayer = { op: 'relu', name, inputs: [x] };
    if (slot !== undefined) layer.slot = slot;
    return this.push(layer, this.shape(x));
  }

  maxpool(name: string, x: number, kernel: number, stride: number, padding = 0): number {
    const [c, h, w] = this.shape(x);
    const ho = this.spatial(name, h, kernel, stride, padding);
    const wo = this.spatial(name, w, kernel, stride, padding);
    return this.push({ op: 'maxpool', name, inputs: [x], kernel, stride, padding }, [c, ho, wo]);
  }

  gap(name: string, x: number): number {
    return this.push({ op: 'gap', name, inputs: [x] }, [this.shape(x)[0], 1, 1]);
  }

  linear(name: string, x: number, out: number): number {
    const [c, h, w] = this.shape(x);
    return this.push({ op: 'linear', name, inputs: [x], inFeatures: c * h * w, outFeatures: out, bias: true }, [out, 1, 1]);
  }

  shuffle(name: string, x: number, groups: number, slot: number): number {
    return this.push({ op: 'shuffle', name, inputs: [x], groups, slot }, this.shape(x));
  }

  add(name: string, a: number, b: number): number {
    const sa = this.shape(a);
    const sb = this.shape(b);
    if (sa.join() !== sb.join()) throw new Error(`internal: ${name} adds ${sa} and ${sb}`);
    return this.push({ op: 'add', name, inputs: [a, b] }, sa);
  }

  /** He et al. option A: take every stride-th pixel, zero-pad channels evenly on both sides. */
  shortcutA(name: string, x: number, stride: number, out: number): number {
    const [c, h, w] = this.shape(x);
    const padFront = Math.floor((out - c) / 2);
    const ho = Math.ceil(h / stride);
    const wo = Math.ceil(w / stride);
    return this.push({ op: 'shortcut_a', name, inputs: [x], stride, outChannels: out, padFront }, [out, ho, wo]);
  }

  /** A conv slot: "3x3 conv x -> out channels with this stride", filled by the picked variant.
   * The architecture's BN (+ReLU) after it is the caller's, outside the slot. */
  slot(name: string, stage: number, x: number, out: number, stride: number): number {
    const [cin, size] = this.shape(x);
    const index = this.slots.length;
    const info: SlotInfo = {
      index,
      name,
      stage,
      inChannels: cin,
      outChannels: out,
      stride,
      inSize: size,
      outSize: this.spatial(name, size, 3, stride, 1),
    };
    const v = this.pick(info);
    this.slotInfos.push(info);
    this.slots.push({ index, name, inChannels: cin, outChannels: out, stride, inSize: size, variant: v });
    switch (v.kind) {
      case 'std':
        return this.conv(name, x, { out, kernel: 3, stride }, index);
      case 'dw-pw':
      case 'dw-gpw':
      case 'dw-gpw-shuffle':
      case 'dw-scc': {
        let t = this.conv(`${name}.dw`, x, { out: cin, kernel: 3, stride, groups: cin }, index);
        t = this.bn(`${name}.dw_bn`, t, index);
        t = this.relu(`${name}.dw_relu`, t, index);
        if (v.kind === 'dw-pw') return this.conv(`${name}.pw`, t, { out, kernel: 1 }, index);
        if (v.kind === 'dw-gpw') return this.conv(`${name}.gpw`, t, { out, kernel: 1, groups: v.cg }, index);
        if (v.kind === 'dw-gpw-shuffle') {
          // ShuffleNet v1's shuffle after the grouped 1x1 conv: output c then reads group
          // c mod cg, which is what dw-scc reads at co = 0 (s = D), so the pair isolates overlap
          t = this.conv(`${name}.gpw`, t, { out, kernel: 1, groups: v.cg }, index);
          return this.shuffle(`${name}.shuffle`, t, v.cg, index);
        }
        return this.scc(`${name}.scc`, t, out, v.cg, v.s, index);
      }
      case 'gc-shuffle': {
        const t = this.conv(`${name}.gconv`, x, { out, kernel: 3, stride, groups: v.g }, index);
        return this.shuffle(`${name}.shuffle`, t, v.g, index);
      }
    }
  }

  finish(): ModelSpec {
    return {
      format: 1,
      model: this.model,
      ...(this.stem === 'imagenet' ? { stem: 'imagenet' as const } : {}),
      inputShape: this.inputShape,
      classes: this.classes,
      slots: this.slots,
      layers: this.layers,
      tensors: this.tensors,
    };
  }
}
