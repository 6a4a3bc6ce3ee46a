// Analytic cost of a model spec, layer by layer (README.md, Cost conventions):
// macs = multiply-accumulates of conv, SCC and linear layers (per image); flops = 2 * macs;
// params = every trainable scalar, BN affine included, BN running statistics excluded.
import type { Layer, LayerOp, ModelSpec, Shape } from '../models/spec.js';

export interface CostTotals {
  params: number;
  macs: number;
  flops: number;
}

export interface LayerCost {
  name: string;
  op: LayerOp;
  outputShape: Shape;
  params: number;
  macs: number;
  /** the slot this layer belongs to, when it is part of a conv slot's variant */
  slot?: number;
}

export interface ModelCost extends CostTotals {
  layers: LayerCost[];
}

/** Params and MACs of one layer, given the shape it writes. */
export function layerCost(layer: Layer, out: Shape): { params: number; macs: number } {
  const pixels = out[1] * out[2];
  switch (layer.op) {
    case 'conv2d': {
      const weights = layer.outChannels * (layer.inChannels / layer.groups) * layer.kernel * layer.kernel;
      return { params: weights + (layer.bias ? layer.outChannels : 0), macs: weights * pixels };
    }
    case 'scc': {
      const weights = layer.outChannels * (layer.inChannels / layer.groups);
      return { params: weights, macs: weights * pixels };
    }
    case 'batchnorm':
      return { params: 2 * layer.channels, macs: 0 };
    case 'linear': {
      const weights = layer.inFeatures * layer.outFeatures;
      return { params: weights + (layer.bias ? layer.outFeatures : 0), macs: weights };
    }
    case 'relu':
    case 'maxpool':
    case 'gap':
    case 'shuffle':
    case 'add':
    case 'shortcut_a':
      return { params: 0, macs: 0 };
  }
}

/** What a layer is, in a few characters, for `dsxplore inspect`: "conv 3x3/2 g16", "scc cg2 s8", ... */
export function layerKind(layer: Layer): string {
  switch (layer.op) {
    case 'conv2d': {
      let k = `conv ${layer.kernel}x${layer.kernel}`;
      if (layer.stride !== 1) k += `/${layer.stride}`;
      if (layer.groups === layer.inChannels && layer.groups === layer.outChannels && layer.groups > 1) k += ' dw';
      else if (layer.groups > 1) k += ` g${layer.groups}`;
      if (layer.bias) k += ' +bias';
      return k;
    }
    case 'scc':
      return `scc cg${layer.groups} s${layer.channelStride}`;
    case 'batchnorm':
      return 'bn';
    case 'relu':
      return 'relu';
    case 'maxpool':
      return `maxpool ${layer.kernel}x${layer.kernel}/${layer.stride}`;
    case 'gap':
      return 'avgpool (global)';
    case 'linear':
      return layer.bias ? 'linear +bias' : 'linear';
    case 'shuffle':
      return `shuffle g${layer.groups}`;
    case 'add':
      return 'add';
    case 'shortcut_a':
      return `shortcut A /${layer.stride}`;
  }
}

export function countCost(spec: ModelSpec): ModelCost {
  let params = 0;
  let macs = 0;
  const layers: LayerCost[] = spec.layers.map((layer) => {
    const outputShape = spec.tensors[layer.output]!;
    const c = layerCost(layer, outputShape);
    params += c.params;
    macs += c.macs;
    const row: LayerCost = { name: layer.name, op: layer.op, outputShape, params: c.params, macs: c.macs };
    if (layer.slot !== undefined) row.slot = layer.slot;
    return row;
  });
  return { params, macs, flops: 2 * macs, layers };
}

/** Totals only, without the per-layer rows. */
export function countTotals(spec: ModelSpec): CostTotals {
  let params = 0;
  let macs = 0;
  for (const layer of spec.layers) {
    const c = layerCost(layer, spec.tensors[layer.output]!);
    params += c.params;
    macs += c.macs;
  }
  return { params, macs, flops: 2 * macs };
}
