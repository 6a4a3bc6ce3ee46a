// The "latency" objective: a candidate's inference latency depends only on its spec and the
// machine, so it is measured once per spec hash and machine description (our engine, batch
// 1, one thread: the steadiest figure on a shared machine) and cached in the store; a resume,
// another sweep or another worker on the same machine finds it there and measures nothing.
// A latency is timed while this process trains nothing (QuietGate): the queued candidates
// before the lanes start, one that appears later while every lane waits.
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

/** Lanes train under `training`; a latency measurement runs under `quiet`, once the running
 * trainings have ended and before new ones start, so that --jobs N lanes on the CPU do not
 * time one candidate while training others on the same cores. */
export class QuietGate {
  private running = 0;
  private quietHeld = false;
  private quietWaiting = 0;
  private wakers: (() => void)[] = [];

  async training<T>(fn: () => Promise<T>): Promise<T> {
    while (this.quietHeld || this.quietWaiting > 0) await this.wait();
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.wake();
    }
  }

  async quiet<T>(fn: () => Promise<T>): Promise<T> {
    this.quietWaiting++;
    try {
      while (this.quietHeld || this.running > 0) await this.wait();
    } finally {
      this.quietWaiting--;
    }
    this.quietHeld = true;
    try {
      return await fn();
    } finally {
      this.quietHeld = false;
      this.wake();
    }
  }

  private wait(): Promise<void> {
    return new Promise((resolve) => this.wakers.push(resolve));
  }

  private wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const r of w) r();
  }
}

/** Measure every queued candidate of the sweep that has no cached latency on this machine,
 * one after another; returns how many were measured. */
export async function measureQueued(store: SweepStore, sweep: string): Promise<number> {
  const hashes = new Set((await store.trials(sweep)).filter((t) => t.state === 'queued').map((t) => t.candidateHash));
  let measured = 0;
  for (const hash of hashes) {
    const candidate = await store.candidate(hash, sweep);
    if (candidate && (await ensureLatency(store, candidate.spec, hash))) measured++;
  }
  return measured;
}
