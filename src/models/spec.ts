// The model spec: the single source of truth for a network (README.md, Variants).
// The cost model counts exactly these layers, and the native executor builds exactly these
// layers, in this order. Plain JSON: no classes, no functions, so a spec can be hashed,
// stored in the database and sent to the addon as it is.

/** A conv-slot variant, resolved: for dw-scc both the channel stride `s` and, when the
 * user gave one, the overlap ratio `co` are present. */
export type Variant =
  | { kind: 'std' }
  | { kind: 'dw-pw' }
  | { kind: 'dw-gpw'; cg: number }
  | { kind: 'dw-gpw-shuffle'; cg: number }
  | { kind: 'gc-shuffle'; g: number }
  | { kind: 'dw-scc'; cg: number; s: number; co?: number };

export type VariantKind = Variant['kind'];

/** A variant as a user or a design space states it: the resolved form, except that dw-scc
 * may give `co` or `s` (or both), so a new kind is declared once, in `Variant`. */
export type VariantChoice = Exclude<Variant, { kind: 'dw-scc' }> | { kind: 'dw-scc'; cg: number; s?: number; co?: number };

/** Activation shape without the batch dimension: [channels, height, width]. */
export type Shape = [c: number, h: number, w: number];

interface LayerBase {
  /** unique, human-readable, e.g. "stage2.block1.conv1.dw" */
  name: string;
  /** tensor ids read; tensor 0 is the network input */
  inputs: number[];
  /** tensor id written; every layer writes a new tensor */
  output: number;
  /** index into ModelSpec.slots when this layer belongs to a conv slot */
  slot?: number;
}

export interface Conv2dLayer extends LayerBase {
  op: 'conv2d';
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  padding: number;
  groups: number;
  bias: boolean;
}
export interface SccLayer extends LayerBase {
  op: 'scc';
  inChannels: number;
  outChannels: number;
  groups: number; // cg
  channelStride: number; // s
}
export interface BatchNormLayer extends LayerBase {
  op: 'batchnorm';
  channels: number;
}
export interface ReluLayer extends LayerBase {
  op: 'relu';
}
export interface MaxPoolLayer extends LayerBase {
  op: 'maxpool';
  kernel: number;
  stride: number;
  padding: number;
}
/** global average pool: [C,H,W] -> [C,1,1] */
export interface GapLayer extends LayerBase {
  op: 'gap';
}
/** fully connected on the flattened input (C*H*W features) */
export interface LinearLayer extends LayerBase {
  op: 'linear';
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
}
export interface ShuffleLayer extends LayerBase {
  op: 'shuffle';
  groups: number;
}
/** elementwise sum of two tensors of equal shape (inputs has two ids) */
export interface AddLayer extends LayerBase {
  op: 'add';
}
/** He et al. option-A shortcut: subsample by `stride`, zero-pad channels to outChannels
 * with `padFront` zero channels before the input channels and the rest after. */
export interface ShortcutALayer extends LayerBase {
  op: 'shortcut_a';
  stride: number;
  outChannels: number;
  padFront: number;
}

export type Layer =
  | Conv2dLayer
  | SccLayer
  | BatchNormLayer
  | ReluLayer
  | MaxPoolLayer
  | GapLayer
  | LinearLayer
  | ShuffleLayer
  | AddLayer
  | ShortcutALayer;

export type LayerOp = Layer['op'];

/** "a 3x3 conv from inChannels to outChannels with spatial stride `stride`" */
export interface Slot {
  index: number;
  name: string;
  inChannels: number;
  outChannels: number;
  stride: number;
  /** input spatial size of the slot */
  inSize: number;
  variant: Variant;
}

/** The network's first layers: `cifar` (a stride-1 3x3 conv, no pool) or `imagenet`
 * (ResNets: 7x7/2 conv, BN, ReLU, 3x3/2 max-pool; MobileNetV1: 3x3/2 conv), as torchvision. */
export type Stem = 'cifar' | 'imagenet';

export interface ModelSpec {
  /** spec format version, bumped when the meaning of a field changes */
  format: 1;
  /** model name as given to the builder, e.g. "resnet20" */
  model: string;
  /** present only for the imagenet stem, so that CIFAR-stem specs keep their hashes */
  stem?: 'imagenet';
  inputShape: Shape;
  classes: number;
  slots: Slot[];
  layers: Layer[];
  /** tensors[i] is the shape of tensor i; tensors[0] = inputShape; the last layer's
   * output is the logits tensor, shape [classes, 1, 1] */
  tensors: Shape[];
}
