// A trained model spec as an ONNX graph of standard operators (opset 17): pixels in [0,1] at
// the training resolution come in (NCHW float32, dynamic batch), the dataset normalisation
// is the first node, logits [batch, classes] go out.
//
// SCC is lowered with exactly its MACs, not as a masked dense conv: output channels whose
// cyclic windows start at the same input channel share one gathered window, the distinct
// windows are gathered once on the channel axis (Gather), one grouped 1x1 Conv computes
// every output channel from its D window channels, and a Gather puts the channels back in
// output order when the groups interleave them. BN is folded into the conv or SCC that alone
// feeds it (unless foldBn is false). Pure: the state layout comes from the caller (the
// engine's stateLayout).
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Layer, ModelSpec, SccLayer } from '../models/spec.js';
import { version as dsxVersion } from '../version.js';
import { OnnxGraph } from './onnx.js';

/** The engine's BN epsilon (native/src/net/net.cc kBnEps). */
const BN_EPS = 1e-5;

export interface StateBlock {
  layer: string;
  kind: 'weight' | 'bias' | 'gamma' | 'beta' | 'running_mean' | 'running_var';
  offset: number;
  size: number;
}

export interface ExportInput {
  spec: ModelSpec;
  state: Float32Array;
  layout: { entries: StateBlock[] };
  /** the dataset normalisation the weights expect (per channel, in pixel/255 units) */
  normalisation: { dataset: string; mean: number[]; std: number[] };
  /** fold BN into the conv or SCC before it (default true) */
  foldBn?: boolean;
  /** provenance written into the model's metadata */
  metadata?: Record<string, string>;
}

/** The channel windows of an SCC layer as a grouped 1x1 conv over gathered channels. */
export interface SccLowering {
  /** input channels to gather, in order (empty: the input as it is) */
  gather: number[];
  groups: number;
  /** rowOf[q] = the SCC output channel that conv output q computes */
  rowOf: number[];
  /** indices putting conv outputs back in SCC output order (empty: already in order) */
  reorder: number[];
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** How one SCC layer is lowered (see the header). */
export function lowerScc(l: Pick<SccLayer, 'inChannels' | 'outChannels' | 'groups' | 'channelStride'>): SccLowering {
  const cin = l.inChannels;
  const cout = l.outChannels;
  const d = cin / l.groups;
  const s = l.channelStride;
  const start = (c: number) => (c * s) % cin;
  // windows repeat with period P: output channels c and c + P read the same window
  const period = cin / gcd(s % cin, cin);
  let windows: number; // distinct windows gathered, one conv group each
  let rowOf: number[];
  if (cout <= period || cout % period !== 0) {
    // each output channel its own window (when cout is not a multiple of the period the
    // groups would be unequal, so the shared windows are gathered once per reader)
    windows = cout;
    rowOf = Array.from({ length: cout }, (_, c) => c);
  } else {
    windows = period;
    const m = cout / period;
    rowOf = [];
    for (let u = 0; u < period; u++) for (let j = 0; j < m; j++) rowOf.push(u + j * period);
  }
  const gather: number[] = [];
  for (let u = 0; u < windows; u++) for (let k = 0; k < d; k++) gather.push((start(u) + k) % cin);
  const identity = (a: number[], n: number) => a.length === n && a.every((v, i) => v === i);
  const pos = new Array<number>(cout);
  rowOf.forEach((c, q) => (pos[c] = q));
  return {
    gather: identity(gather, cin) ? [] : gather,
    groups: windows,
    rowOf,
    reorder: identity(pos, cout) ? [] : pos,
  };
}

/** The ONNX bytes of a trained spec. */
export function exportOnnx(input: ExportInput): Uint8Array {
  const { spec, state } = input;
  const foldBn = input.foldBn ?? true;
  const blocks = new Map<string, StateBlock>();
  for (const e of input.layout.entries) blocks.set(`${e.layer}/${e.kind}`, e);
  const block = (layer: string, kind: StateBlock['kind']): Float32Array => {
    const e = blocks.get(`${layer}/${kind}`);
    if (!e) throw new Error(`internal: no ${kind} for layer ${layer} in the state layout`);
    return state.subarray(e.offset, e.offset + e.size);
  };
  const total = input.layout.entries.reduce((n, e) => Math.max(n, e.offset + e.size), 0);
  if (total !== state.length) {
    throw new UsageError(`the weights hold ${state.length} values but ${spec.model}'s layout needs ${total} (saved from a different model?)`);
  }

  const g = new OnnxGraph();
  const readers = new Map<number, Layer[]>();
  for (const l of spec.layers) for (const t of l.inputs) readers.set(t, [...(readers.get(t) ?? []), l]);
  /** the BN that alone reads a tensor, when folding */
  const foldable = (t: number): Layer | undefined => {
    const r = readers.get(t) ?? [];
    return foldBn && r.length === 1 && r[0]!.op === 'batchnorm' ? r[0] : undefined;
  };
  const bnAffine = (name: string) => {
    const gamma = block(name, 'gamma');
    const beta = block(name, 'beta');
    const mean = block(name, 'running_mean');
    const v = block(name, 'running_var');
    const scale = Array.from(gamma, (gm, c) => gm / Math.sqrt(v[c]! + BN_EPS));
    const shift = Array.from(beta, (b, c) => b - mean[c]! * scale[c]!);
    return { scale, shift };
  };

  const [C, H, W] = spec.inputShape;
  const pixels = g.fresh('pixels');
  const { mean, std } = input.normalisation;
  if (mean.length !== C || std.length !== C) throw new Error(`internal: normalisation has ${mean.length} channels, the model ${C}`);
  // the first node: the dataset normalisation the weights were trained with
  let x = g.node('Sub', [pixels, g.float('mean', [1, C, 1, 1], mean)], {}, 'centred');
  x = g.node('Div', [x, g.float('std', [1, C, 1, 1], std)], {}, 'normalised');
  const value = new Map<number, string>([[0, x]]);
  const folded = new Set<string>();

  /** A conv over `src` with weight rows `w` ([cout, rowSize]), rescaled and biased by a
   * following BN when it folds; returns the output name. */
  const conv = (
    name: string,
    src: string,
    w: Float32Array,
    dims: number[],
    attrs: Record<string, number | number[]>,
    out: number,
    bias: Float32Array | undefined,
    rowOf: (q: number) => number = (q) => q,
  ): string => {
    const cout = dims[0]!;
    const rowSize = w.length / cout;
    const bn = foldable(out);
    let weight: Float32Array;
    let b: Float32Array | undefined;
    if (bn) {
      const { scale, shift } = bnAffine(bn.name);
      weight = new Float32Array(w.length);
      b = new Float32Array(cout);
      for (let q = 0; q < cout; q++) {
        const c = rowOf(q);
        for (let k = 0; k < rowSize; k++) weight[q * rowSize + k] = w[c * rowSize + k]! * scale[c]!;
        b[q] = shift[c]! + (bias ? bias[c]! * scale[c]! : 0);
      }
      folded.add(bn.name);
    } else {
      weight = new Float32Array(w.length);
      for (let q = 0; q < cout; q++) weight.set(w.subarray(rowOf(q) * rowSize, (rowOf(q) + 1) * rowSize), q * rowSize);
      b = bias && Float32Array.from({ length: cout }, (_, q) => bias[rowOf(q)]!);
    }
    const inputs = [src, g.float(`${name}.weight`, dims, weight)];
    if (b) inputs.push(g.float(`${name}.bias`, [cout], b));
    const y = g.node('Conv', inputs, attrs, name);
    if (bn) value.set(bn.output, y);
    return y;
  };

  for (const l of spec.layers) {
    if (folded.has(l.name)) continue;
    const a = value.get(l.inputs[0]!);
    if (a === undefined) throw new Error(`internal: layer ${l.name} reads tensor ${l.inputs[0]} before it is written`);
    let y: string;
    switch (l.op) {
      case 'conv2d': {
        const k = l.kernel;
        y = conv(
          l.name,
          a,
          block(l.name, 'weight'),
          [l.outChannels, l.inChannels / l.groups, k, k],
          { kernel_shape: [k, k], strides: [l.stride, l.stride], pads: [l.padding, l.padding, l.padding, l.padding], group: l.groups },
          l.output,
          l.bias ? block(l.name, 'bias') : undefined,
        );
        break;
      }
      case 'scc': {
        const low = lowerScc(l);
        const d = l.inChannels / l.groups;
        const src = low.gather.length
          ? g.node('Gather', [a, g.int64(`${l.name}.windows`, [low.gather.length], low.gather)], { axis: 1 }, `${l.name}.gathered`)
          : a;
        y = conv(l.name, src, block(l.name, 'weight'), [l.outChannels, d, 1, 1], { kernel_shape: [1, 1], group: low.groups }, l.output, undefined, (q) => low.rowOf[q]!);
        if (low.reorder.length) {
          y = g.node('Gather', [y, g.int64(`${l.name}.order`, [low.reorder.length], low.reorder)], { axis: 1 }, `${l.name}.ordered`);
        }
        // a folded BN's output is this layer's final output
        const bn = foldable(l.output);
        if (bn) value.set(bn.output, y);
        break;
      }
      case 'batchnorm':
        y = g.node(
          'BatchNormalization',
          [
            a,
            g.float(`${l.name}.gamma`, [l.channels], block(l.name, 'gamma')),
            g.float(`${l.name}.beta`, [l.channels], block(l.name, 'beta')),
            g.float(`${l.name}.running_mean`, [l.channels], block(l.name, 'running_mean')),
            g.float(`${l.name}.running_var`, [l.channels], block(l.name, 'running_var')),
          ],
          { epsilon: { float: BN_EPS } },
          l.name,
        );
        break;
      case 'relu':
        y = g.node('Relu', [a], {}, l.name);
        break;
      case 'maxpool':
        y = g.node('MaxPool', [a], { kernel_shape: [l.kernel, l.kernel], strides: [l.stride, l.stride], pads: [l.padding, l.padding, l.padding, l.padding] }, l.name);
        break;
      case 'gap':
        y = g.node('GlobalAveragePool', [a], {}, l.name);
        break;
      case 'linear': {
        const flat = g.node('Flatten', [a], { axis: 1 }, `${l.name}.flat`);
        const inputs = [flat, g.float(`${l.name}.weight`, [l.outFeatures, l.inFeatures], block(l.name, 'weight'))];
        if (l.bias) inputs.push(g.float(`${l.name}.bias`, [l.outFeatures], block(l.name, 'bias')));
        y = g.node('Gemm', inputs, { transB: 1 }, l.name);
        break;
      }
      case 'shuffle': {
        const c = spec.tensors[l.output]![0];
        const cpg = c / l.groups;
        // shuffled channel o holds channel (o % groups) * cpg + o / groups (native cpu_shuffle)
        const perm = Array.from({ length: c }, (_, o) => (o % l.groups) * cpg + Math.floor(o / l.groups));
        y = g.node('Gather', [a, g.int64(`${l.name}.perm`, [c], perm)], { axis: 1 }, l.name);
        break;
      }
      case 'add':
        y = g.node('Add', [a, value.get(l.inputs[1]!)!], {}, l.name);
        break;
      case 'shortcut_a': {
        const [cin] = spec.tensors[l.inputs[0]!]!;
        const big = Number.MAX_SAFE_INTEGER;
        const sub = g.node(
          'Slice',
          [a, g.int64(`${l.name}.starts`, [2], [0, 0]), g.int64(`${l.name}.ends`, [2], [big, big]), g.int64(`${l.name}.axes`, [2], [2, 3]), g.int64(`${l.name}.steps`, [2], [l.stride, l.stride])],
          {},
          `${l.name}.sub`,
        );
        const after = l.outChannels - cin - l.padFront;
        y = g.node('Pad', [sub, g.int64(`${l.name}.pads`, [8], [0, l.padFront, 0, 0, 0, after, 0, 0])], { mode: 'constant' }, l.name);
        break;
      }
    }
    if (!value.has(l.output)) value.set(l.output, y);
  }

  const last = spec.layers[spec.layers.length - 1]!;
  let logits = value.get(last.output)!;
  if (last.op !== 'linear') logits = g.node('Flatten', [logits], { axis: 1 }, 'logits_flat');
  const out = g.node('Identity', [logits], {}, 'logits');
  return g.encode({
    input: { name: pixels, shape: [C, H, W] },
    output: { name: out, shape: [spec.classes] },
    producer: 'dsxplore',
    producerVersion: dsxVersion,
    docString: `${spec.model} from dsxplore: input pixels in [0,1] (${C}x${H}x${W}), normalised in-graph for ${input.normalisation.dataset}`,
    metadata: {
      model: spec.model,
      dataset: input.normalisation.dataset,
      mean: JSON.stringify(mean),
      std: JSON.stringify(std),
      bnFolded: String(foldBn),
      ...input.metadata,
    },
  });
}

/** Write `bytes` to `path` through a temporary file in the same directory and a rename, so
 * that a failed write leaves nothing behind. */
export function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(
      e.code === 'ENOENT' ? `cannot write ${path}: the directory ${dirname(path)} does not exist` : `cannot write ${path}: ${e.message}`,
    );
  }
}
