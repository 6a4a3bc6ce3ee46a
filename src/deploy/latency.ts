// Inference latency of a model spec: eval-mode forwards of one batch, timed after a warm-up,
// summarised by the median and the spread (10th-90th percentile) of the repetitions. Two
// runtimes: our native engine, and ONNX Runtime on the exported graph (onnxruntime-node,
// loaded only when asked for) with the same number of threads. Latency depends on the spec
// and the machine, not on the weights, so both run on the engine's seeded initialisation.
import os from 'node:os';
import { UsageError } from '../errors.js';
import type { ModelSpec } from '../models/spec.js';
import { exportOnnx } from './export.js';

export const RUNTIMES = ['native', 'onnxruntime'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** The key a sweep measures latency under: our engine, one image, one thread. */
export const SWEEP_LATENCY = { runtime: 'native' as Runtime, batch: 1, threads: 1 };

export interface LatencyOptions {
  batch: number;
  threads: number;
  warmup: number;
  reps: number;
}

export interface LatencyResult {
  runtime: Runtime;
  batch: number;
  threads: number;
  reps: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  minMs: number;
  /** images per second at the median */
  imagesPerSecond: number;
}

/** What a latency figure was measured on: CPU model, hardware threads, OS and architecture. */
export function machineDescription(): string {
  const cpus = os.cpus();
  const cpu = cpus[0]?.model.trim().replace(/\s+/g, ' ') ?? 'unknown CPU';
  return `${cpu}, ${cpus.length} hardware threads, ${os.platform()} ${os.arch()}`;
}

function quantile(sorted: readonly number[], q: number): number {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
}

export function summariseTimes(runtime: Runtime, o: LatencyOptions, seconds: readonly number[]): LatencyResult {
  const ms = seconds.map((s) => s * 1000).sort((a, b) => a - b);
  const medianMs = quantile(ms, 0.5);
  return {
    runtime,
    batch: o.batch,
    threads: o.threads,
    reps: ms.length,
    medianMs,
    p10Ms: quantile(ms, 0.1),
    p90Ms: quantile(ms, 0.9),
    minMs: ms[0]!,
    imagesPerSecond: (o.batch * 1000) / medianMs,
  };
}

type Ort = typeof import('onnxruntime-node');

/** onnxruntime-node, or a clear error saying how to get it. */
export async function loadOnnxRuntime(): Promise<Ort> {
  try {
    return (await import('onnxruntime-node')) as Ort;
  } catch (err) {
    throw new UsageError(
      `--runtime onnxruntime needs the npm package onnxruntime-node, which is not installed ` +
        `(${(err as Error).message.split('\n')[0]}); install onnxruntime-node (npm install onnxruntime-node), or use --runtime native`,
    );
  }
}

/** Latency of `spec` on our native engine (CPU). */
export async function nativeLatency(spec: ModelSpec, o: LatencyOptions): Promise<LatencyResult> {
  const engine = await import('../engine/index.js');
  const r = await engine.timeForwards({ spec, device: 'cpu', threads: o.threads, batch: o.batch, warmup: o.warmup, reps: o.reps });
  return summariseTimes('native', o, r.seconds);
}

/** Latency of `spec` exported to ONNX, under ONNX Runtime's CPU provider with `threads`
 * intra-op threads and sequential execution. */
export async function onnxRuntimeLatency(spec: ModelSpec, o: LatencyOptions): Promise<LatencyResult> {
  const ort = await loadOnnxRuntime();
  const engine = await import('../engine/index.js');
  const [c, h, w] = spec.inputShape;
  const init = engine.debugStep({ spec, images: new Float32Array(2 * c * h * w), labels: new Int32Array(2), train: false });
  const bytes = exportOnnx({
    spec,
    state: init.state,
    layout: engine.stateLayout(spec),
    normalisation: { dataset: 'latency', mean: new Array(c).fill(0.5), std: new Array(c).fill(0.25) },
  });
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  try {
    const px = new Float32Array(o.batch * c * h * w);
    for (let i = 0; i < px.length; i++) px[i] = ((i * 2654435761) % 1000) / 1000;
    const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', px, [o.batch, c, h, w]) };
    for (let i = 0; i < o.warmup; i++) await session.run(feeds);
    const seconds: number[] = [];
    for (let i = 0; i < o.reps; i++) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    return summariseTimes('onnxruntime', o, seconds);
  } finally {
    await session.release();
  }
}

export function measureLatency(spec: ModelSpec, runtime: Runtime, o: LatencyOptions): Promise<LatencyResult> {
  return runtime === 'native' ? nativeLatency(spec, o) : onnxRuntimeLatency(spec, o);
}
