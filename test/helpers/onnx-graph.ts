// Walks an exported ONNX graph on its own terms (shapes propagated node by node from the
// graph's input), counting parameters and MACs the way `inspect` does: conv and Gemm
// weights and biases and BN scale/bias are parameters; conv and Gemm multiply-accumulates
// are MACs; gathers, slices, pads and the normalisation constants are neither.
import { decodeModel } from '../../src/deploy/onnx.js';

type Dims = number[];

export interface GraphCount {
  params: number;
  macs: number;
  ops: Record<string, number>;
  opset: number;
  inputDims: (number | string)[];
  outputDims: (number | string)[];
}

const prod = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

export function countGraph(bytes: Uint8Array): GraphCount {
  const m = decodeModel(bytes);
  const g = m.graph!;
  const init = new Map<string, { dims: number[]; ints?: number[] }>();
  for (const t of g.initializer ?? []) {
    const dims = (t.dims ?? []).map(Number);
    const e: { dims: number[]; ints?: number[] } = { dims };
    if (t.dataType === 7 && t.rawData) e.ints = Array.from(new BigInt64Array(new Uint8Array(t.rawData).slice().buffer), Number);
    init.set(t.name!, e);
  }
  const dimsOf = (vi: NonNullable<typeof g.input>[number]) =>
    vi.type!.tensorType!.shape!.dim!.map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
  const inputDims = dimsOf(g.input![0]!);
  const shape = new Map<string, Dims>();
  shape.set(g.input![0]!.name!, [1, ...(inputDims.slice(1) as number[])]);
  let params = 0;
  let macs = 0;
  const ops: Record<string, number> = {};
  const attr = (n: NonNullable<typeof g.node>[number], name: string) => n.attribute!.find((a) => a.name === name);
  const ints = (n: NonNullable<typeof g.node>[number], name: string, dflt: number[]) => attr(n, name)?.ints?.map(Number) ?? dflt;
  for (const n of g.node ?? []) {
    ops[n.opType!] = (ops[n.opType!] ?? 0) + 1;
    const x = shape.get(n.input![0]!) ?? init.get(n.input![0]!)?.dims;
    if (!x) throw new Error(`node ${n.name} reads ${n.input![0]} before it is defined`);
    let y: Dims;
    switch (n.opType) {
      case 'Sub':
      case 'Div':
      case 'Add':
      case 'Relu':
      case 'Identity':
        y = x;
        break;
      case 'BatchNormalization':
        params += prod(init.get(n.input![1]!)!.dims) + prod(init.get(n.input![2]!)!.dims);
        y = x;
        break;
      case 'Conv': {
        const w = init.get(n.input![1]!)!.dims;
        const group = Number(attr(n, 'group')?.i ?? 1);
        const [kh, kw] = [w[2]!, w[3]!];
        const s = ints(n, 'strides', [1, 1]);
        const p = ints(n, 'pads', [0, 0, 0, 0]);
        if (w[1]! * group !== x[1]) throw new Error(`Conv ${n.name}: weight ${w} with group ${group} on input ${x}`);
        const ho = Math.floor((x[2]! + p[0]! + p[2]! - kh) / s[0]!) + 1;
        const wo = Math.floor((x[3]! + p[1]! + p[3]! - kw) / s[1]!) + 1;
        y = [x[0]!, w[0]!, ho, wo];
        params += prod(w) + (n.input![2] ? prod(init.get(n.input![2]!)!.dims) : 0);
        macs += prod(w) * ho * wo;
        break;
      }
      case 'Gather': {
        const idx = init.get(n.input![1]!)!;
        if (Number(attr(n, 'axis')?.i) !== 1) throw new Error('Gather off the channel axis');
        if (idx.ints!.some((i) => i < 0 || i >= x[1]!)) throw new Error(`Gather ${n.name}: index out of range`);
        y = [x[0]!, idx.dims[0]!, x[2]!, x[3]!];
        break;
      }
      case 'MaxPool': {
        const k = ints(n, 'kernel_shape', []);
        const s = ints(n, 'strides', [1, 1]);
        const p = ints(n, 'pads', [0, 0, 0, 0]);
        y = [x[0]!, x[1]!, Math.floor((x[2]! + p[0]! + p[2]! - k[0]!) / s[0]!) + 1, Math.floor((x[3]! + p[1]! + p[3]! - k[1]!) / s[1]!) + 1];
        break;
      }
      case 'GlobalAveragePool':
        y = [x[0]!, x[1]!, 1, 1];
        break;
      case 'Flatten':
        y = [x[0]!, prod(x.slice(1))];
        break;
      case 'Gemm': {
        const w = init.get(n.input![1]!)!.dims;
        if (w[1] !== x[1]) throw new Error(`Gemm ${n.name}: weight ${w} on input ${x}`);
        y = [x[0]!, w[0]!];
        params += prod(w) + (n.input![2] ? prod(init.get(n.input![2]!)!.dims) : 0);
        macs += prod(w);
        break;
      }
      case 'Slice': {
        const axes = init.get(n.input![3]!)!.ints!;
        const steps = init.get(n.input![4]!)!.ints!;
        y = [...x];
        axes.forEach((a, i) => (y[a] = Math.ceil(x[a]! / steps[i]!)));
        break;
      }
      case 'Pad': {
        const p = init.get(n.input![1]!)!.ints!;
        y = x.map((d, i) => d + p[i]! + p[i + x.length]!);
        break;
      }
      default:
        throw new Error(`unexpected op ${n.opType}`);
    }
    shape.set(n.output![0]!, y);
  }
  return {
    params,
    macs,
    ops,
    opset: Number(m.opsetImport![0]!.version),
    inputDims,
    outputDims: dimsOf(g.output![0]!),
  };
}
