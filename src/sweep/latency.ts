// The "latency" objective: a candidate's inference latency depends only on its spec and the
// machine, so it is measured once per spec hash and machine description (our engine, batch
// 1, one thread: the steadiest figure on a shared machine) and cached in the store; a resume,
// another sweep or another worker on the same machine finds it there and measures nothing.
import type { ModelSpec } from '../models/spec.js';
import type { SweepStore } from '../store/store.js';
import { machineDescription, measureLatency, SWEEP_LATENCY } from '../deploy/latency.js';

const WARMUP = 10;
const REPS = 30;

/** Measure and cache the spec's latency on this machine unless the store has it; true when
 * a measurement was taken. */
export async function ensureLatency(store: SweepStore, spec: ModelSpec, specHash: string): Promise<boolean> {
  const key = { specHash, machine: machineDescription(), ...SWEEP_LATENCY };
  if (await store.latency(key)) return false;
  const r = await measureLatency(spec, key.runtime, { batch: key.batch, threads: key.threads, warmup: WARMUP, reps: REPS });
  await store.recordLatency({ ...key, medianMs: r.medianMs, p10Ms: r.p10Ms, p90Ms: r.p90Ms, reps: r.reps });
  return true;
}
