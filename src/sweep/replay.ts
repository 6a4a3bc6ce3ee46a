// Tabular replay (`dsxplore sweep --replay TABLE.db`): a sweep that trains nothing. Each
// trial the search queues is looked up by its spec identity (candidate hash) and epochs
// among TABLE.db's finished trials, and one of the recorded seeds, chosen with the
// sweep's seed, is recorded as the trial's result, its epochs counted as spent budget. A
// rung of successive halving looks up its own epoch count (a trial trained for exactly
// that many epochs, else the accuracy after that epoch of a longer recorded training).
// Replays make strategies comparable on real results in seconds (`npm run bench --
// search`) and let a search be tried on a table before paying for trainings.
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { SweepConfig } from '../config/sweep.js';
import { createRng } from '../space/index.js';
import type { Candidate } from '../domain/candidate.js';
import type { EpochMetrics } from '../domain/metrics.js';
import type { TrialRow } from '../domain/rows.js';
import type { ClaimedTrial, SweepStore, TrialOutcome } from '../store/store.js';
import { SWEEP_LATENCY } from '../deploy/latency.js';
import { rungEpochs } from './identity.js';

export interface ReplayHit {
  source: TrialRow;
  /** the accuracy recorded for the asked epochs */
  accuracy: number;
  /** per-epoch metrics up to the asked epochs */
  metrics: EpochMetrics[];
  /** "trial" when a training of exactly these epochs was recorded, "curve" when read off a
   * longer one after that epoch */
  from: 'trial' | 'curve';
}

/** A table of finished trials, indexed by candidate hash. */
export class ReplayTable {
  private constructor(
    readonly path: string,
    private readonly store: SweepStore,
    private readonly byHash: Map<string, TrialRow[]>,
  ) {}

  static async open(store: SweepStore, path: string): Promise<ReplayTable> {
    const byHash = new Map<string, TrialRow[]>();
    for (const s of await store.listSweeps()) {
      for (const t of await store.trials(s.name)) {
        if (t.state !== 'done' && t.state !== 'diverged') continue;
        const list = byHash.get(t.candidateHash) ?? [];
        list.push(t);
        byHash.set(t.candidateHash, list);
      }
    }
    if (byHash.size === 0) throw new UsageError(`--replay ${path}: the table has no finished trials to replay`);
    return new ReplayTable(path, store, byHash);
  }

  get designs(): number {
    return this.byHash.size;
  }

  /** Whether `epochs` of the candidate can be replayed without reading metrics: a trial of
   * exactly those epochs, or a longer one (whose curve is checked at lookup). */
  covers(hash: string, epochs: number): boolean {
    return (this.byHash.get(hash) ?? []).some((t) => t.epochs >= epochs);
  }

  /** The recorded seeds that can answer `epochs` of the candidate, sorted, one trial each
   * (exact epochs preferred). */
  private sources(hash: string, epochs: number): TrialRow[] {
    const rows = this.byHash.get(hash) ?? [];
    const exact = rows.filter((t) => t.epochs === epochs);
    const pool = exact.length ? exact : rows.filter((t) => t.epochs > epochs).sort((a, b) => a.epochs - b.epochs || a.id - b.id);
    const bySeed = new Map<number, TrialRow>();
    for (const t of pool) if (!bySeed.has(t.seed)) bySeed.set(t.seed, t);
    return [...bySeed.values()].sort((a, b) => a.seed - b.seed);
  }

  /** One recorded result of the candidate at `epochs`: the seed is picked by `choice` (a
   * number in [0, 1)) among those recorded, `offset` places (mod their count) further, so
   * that a sweep's several seeds take different recorded ones. */
  async lookup(hash: string, epochs: number, choice: number, offset: number): Promise<ReplayHit | undefined> {
    const sources = this.sources(hash, epochs);
    if (sources.length === 0) return undefined;
    const source = sources[(Math.floor(choice * sources.length) + offset) % sources.length]!;
    const metrics = (await this.store.epochMetrics(source.id)).filter((m) => m.epoch <= epochs);
    if (source.epochs === epochs) {
      return { source, accuracy: source.state === 'done' ? (source.accuracy ?? 0) : NaN, metrics, from: 'trial' };
    }
    const at = metrics.find((m) => m.epoch === epochs);
    if (at?.testAccuracy === undefined) return undefined;
    return { source, accuracy: at.testAccuracy, metrics, from: 'curve' };
  }

  /** The latency the table measured for a spec, if any. */
  latencyOf(hash: string): TrialRow | undefined {
    return (this.byHash.get(hash) ?? []).find((t) => typeof t.latencyMs === 'number');
  }

  async copyLatency(to: SweepStore, hash: string): Promise<void> {
    const t = this.latencyOf(hash);
    if (!t || !t.latencyMachine) return;
    const row = await this.store.latency({ specHash: hash, machine: t.latencyMachine, ...SWEEP_LATENCY });
    if (row) await to.recordLatency(row);
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/** The one-line name of a candidate for messages. */
function named(c: Pick<Candidate, 'label' | 'hash'>): string {
  return `${c.label} (spec ${c.hash.slice(0, 12)})`;
}

/** Refuse, before anything is recorded, a sweep whose candidates the table lacks: the
 * first round and the baselines, and for searches with later rounds every candidate they
 * may propose (`others`, when the space is small enough to list), at every rung's epochs. */
export function checkCoverage(table: ReplayTable, config: SweepConfig, known: readonly Candidate[], others: readonly Candidate[] = []): void {
  const rungs = rungEpochs(config);
  for (const c of [...known, ...others]) {
    for (const e of rungs) {
      if (!table.covers(c.hash, e)) {
        const have = table.designs;
        throw new UsageError(
          `--replay ${table.path}: the table has no finished trial of ${named(c)} at ${e} epoch(s) ` +
            `(it holds ${have} design(s)); replay a space the table covers, or train that design into the table`,
        );
      }
    }
  }
}

/** The seed choice of a trial: a pure function of the sweep's search seed, the candidate
 * and the epochs, so a replay repeats exactly and another search seed draws other seeds. */
function seedChoice(config: SweepConfig, hash: string, epochs: number): number {
  const searchSeed = 'seed' in config.search ? config.search.seed : 0;
  return createRng(searchSeed, parseInt(hash.slice(0, 8), 16), epochs).next();
}

/** Record a claimed trial's result from the table (instead of training it). A candidate
 * the table cannot answer (possible only in spaces too large to check up front) puts the
 * trial back in the queue and stops the sweep with a usage error naming it. */
export async function replayTrial(
  table: ReplayTable,
  store: SweepStore,
  config: SweepConfig,
  workerId: string,
  c: ClaimedTrial,
): Promise<TrialRow> {
  const { trial } = c;
  const choice = seedChoice(config, trial.candidateHash, trial.epochs);
  // a sweep's several seeds take different recorded ones
  const offset = Math.max(0, config.seeds.indexOf(trial.seed));
  const hit = await table.lookup(trial.candidateHash, trial.epochs, choice, offset);
  if (!hit) {
    await store.releaseTrial(trial.id, workerId);
    throw new UsageError(
      `--replay ${table.path}: the table has no finished trial of ${named({ label: trial.label, hash: trial.candidateHash })} ` +
        `at ${trial.epochs} epoch(s); nothing was recorded for it`,
    );
  }
  if (config.objectives.includes('latency')) await table.copyLatency(store, trial.candidateHash);
  const s = hit.source;
  const seconds = hit.from === 'trial' ? (s.seconds ?? 0) : hit.metrics.reduce((sum, m) => sum + m.seconds, 0);
  const outcome: TrialOutcome = {
    state: Number.isFinite(hit.accuracy) ? 'done' : 'diverged',
    accuracy: Number.isFinite(hit.accuracy) ? hit.accuracy : null,
    testLoss: hit.from === 'trial' ? (s.testLoss ?? null) : (hit.metrics.at(-1)?.testLoss ?? null),
    trainLoss: hit.from === 'trial' ? s.trainLoss : (hit.metrics.at(-1)?.trainLoss ?? null),
    trainAccuracy: hit.from === 'trial' ? (s.trainAccuracy ?? null) : (hit.metrics.at(-1)?.trainAccuracy ?? null),
    seconds,
    imagesPerSecond: s.imagesPerSecond ?? null,
    device: s.device ?? 'replay',
    ...(Number.isFinite(hit.accuracy) ? {} : { message: `replayed: ${s.error ?? 'diverged'}` }),
    epochs: hit.metrics,
    provenance: {
      replayedFrom: resolve(table.path),
      replay: `replayed from ${table.path}`,
      sourceTrial: s.id,
      sourceSweep: s.sweep,
      sourceSeed: s.seed,
      sourceEpochs: s.epochs,
      lookup: hit.from,
      sweep: config.name,
      seed: trial.seed,
      specHash: trial.candidateHash,
      worker: workerId,
    },
  };
  return store.finishTrial(trial.id, workerId, outcome);
}
