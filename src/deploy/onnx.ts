// A small ONNX graph builder over the ONNX protobuf schema (the onnx-proto package, generated
// by protobufjs from onnx.proto): named float/int64 initializers, nodes with typed
// attributes, one dynamic batch axis, and the encoded ModelProto bytes. It knows nothing of
// dsxplore's models; export.ts maps a model spec onto it.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Opset of the default domain the exporter targets (ONNX 1.12, IR version 8). */
export const OPSET = 17;
const IR_VERSION = 8;

export type AttrValue = number | number[] | string | { float: number };

export interface OnnxTensor {
  name: string;
  dims: number[];
  /** float32 or int64 values */
  data: Float32Array | BigInt64Array;
}

export class OnnxGraph {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inits: onnxProto.onnx.ITensorProto[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  /** A fresh value name starting with `base`. */
  fresh(base: string): string {
    let name = base;
    while (this.names.has(name)) name = `${base}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  /** A float32 initializer (a weight or a constant); returns its name. */
  float(base: string, dims: number[], data: Float32Array | number[]): string {
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    if (values.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`internal: ${base} has ${values.length} values for dims ${dims}`);
    const name = this.fresh(base);
    this.inits.push({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)),
    });
    return name;
  }

  /** An int64 initializer (indices, shapes, slice bounds); returns its name. */
  int64(base: string, dims: number[], data: number[]): string {
    const name = this.fresh(base);
    const values = BigInt64Array.from(data.map((v) => BigInt(v)));
    this.inits.push({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: new Uint8Array(values.buffer),
    });
    return name;
  }

  /** Append a node of the default domain; returns its (first) output name. */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outBase = op.toLowerCase()): string {
    const out = this.fresh(outBase);
    this.nodes.push({
      opType: op,
      name: this.fresh(`${op}_node`),
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([name, v]) => attribute(name, v)),
    });
    return out;
  }

  /** The encoded model: one float32 input and one float32 output, the first axis of each
   * named "batch" (dynamic). */
  encode(o: {
    input: { name: string; shape: number[] };
    output: { name: string; shape: number[] };
    producer: string;
    producerVersion: string;
    docString?: string;
    metadata?: Record<string, string>;
  }): Uint8Array {
    const valueInfo = (name: string, shape: number[]): onnxProto.onnx.IValueInfoProto => ({
      name,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: [{ dimParam: 'batch' }, ...shape.map((d) => ({ dimValue: d }))] },
        },
      },
    });
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: o.producer,
      producerVersion: o.producerVersion,
      docString: o.docString ?? '',
      metadataProps: Object.entries(o.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: 'dsxplore',
        node: this.nodes,
        initializer: this.inits,
        input: [valueInfo(o.input.name, o.input.shape)],
        output: [valueInfo(o.output.name, o.output.shape)],
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  return { name, type: T.FLOAT, f: v.float };
}

/** Decode ONNX bytes (tests and tools that walk a graph). */
export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
