// Database rows <-> the plain rows the program uses. One mapping for every dialect.
import type { Candidate } from '../domain/candidate.js';
import type { EpochMetrics } from '../domain/metrics.js';
import type { ListedTrialRow, SweepRow, TrialRow } from '../domain/rows.js';
import type { TrialState } from '../domain/trial-states.js';
import type { ModelSpec, Variant } from '../models/spec.js';
import type { TrialOutcome } from './store.js';

export const TRIAL_COLUMNS = `
  t.id, s.name AS sweep, t.candidate_hash, c.label, t.baseline, c.variants, c.macs, c.flops,
  c.params, t.state, t.epochs, t.rung, t.round, t.seed, t.recipe_hash, t.accuracy, t.test_loss,
  t.train_loss, t.train_accuracy, t.seconds, t.images_per_second, t.device, t.error,
  t.worker_id, t.heartbeat_at, t.queued_at, t.started_at, t.finished_at, t.reused_from, t.attempts, t.provenance,
  (SELECT l.median_ms FROM latencies l WHERE l.spec_hash = t.candidate_hash AND l.runtime = 'native'
     AND l.batch = 1 AND l.threads = 1 ORDER BY l.measured_at, l.machine LIMIT 1) AS latency_ms,
  (SELECT l.machine FROM latencies l WHERE l.spec_hash = t.candidate_hash AND l.runtime = 'native'
     AND l.batch = 1 AND l.threads = 1 ORDER BY l.measured_at, l.machine LIMIT 1) AS latency_machine`;
export const TRIAL_FROM = `FROM trials t JOIN sweeps s ON s.id = t.sweep_id JOIN candidates c ON c.hash = t.candidate_hash`;

export interface TrialDbRow {
  id: number;
  sweep: string;
  candidate_hash: string;
  label: string;
  baseline: number;
  variants: string;
  macs: number;
  flops: number;
  params: number;
  state: TrialState;
  epochs: number;
  rung: number;
  round: number;
  seed: number;
  recipe_hash: string;
  accuracy: number | null;
  test_loss: number | null;
  train_loss: number | null;
  train_accuracy: number | null;
  seconds: number | null;
  images_per_second: number | null;
  device: string | null;
  error: string | null;
  worker_id: string | null;
  heartbeat_at: number | null;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  reused_from: number | null;
  attempts: number;
  provenance: string | null;
  latency_ms: number | null;
  latency_machine: string | null;
}

export function toTrialRow(r: TrialDbRow): TrialRow {
  const latency = r.latency_ms == null ? undefined : { median_ms: r.latency_ms, machine: r.latency_machine ?? '' };
  return {
    ...toListedTrialRow(LISTED.map((k) => r[k]) as unknown as ListingDbTuple, r, r.sweep, latency),
    variants: JSON.parse(r.variants) as Variant[],
    recipeHash: r.recipe_hash,
    testLoss: r.test_loss,
    trainAccuracy: r.train_accuracy,
    imagesPerSecond: r.images_per_second,
    workerId: r.worker_id,
    heartbeatAt: r.heartbeat_at,
    provenance: r.provenance === null ? null : (JSON.parse(r.provenance) as Record<string, unknown>),
  };
}

// A sweep's trials as a listing (the dashboard's table, front and progress): every column
// but provenance, variants and the losses, worker and recipe fields. Three plain queries,
// none per row: the sweep's trials in id order (an index walk), its candidates' short fields
// (each read once, however many trials share it; neither spec nor variants) and the
// latencies of its measured specs, first measurement first (as TRIAL_COLUMNS picks), all
// read as arrays (Executor.rows), not as an object per row. A join with per-row latency
// subqueries, parsed provenance and variants took 0.6-2 s for 10,000 trials.

/** The trial columns of a listing, in the order `Executor.rows` reads them (ListingDbTuple). */
const LISTED = [
  'id', 'candidate_hash', 'baseline', 'state', 'epochs', 'rung', 'round', 'seed', 'accuracy', 'train_loss',
  'seconds', 'device', 'error', 'attempts', 'queued_at', 'started_at', 'finished_at', 'reused_from',
] as const satisfies readonly (keyof TrialDbRow)[];
export const LISTING_COLUMNS = LISTED.map((c) => `t.${c}`).join(', ');
export const LISTING_FROM = `FROM trials t WHERE t.sweep_id = ? ORDER BY t.id`;
/** [hash, label, macs, flops, params] */
export const LISTING_CANDIDATES = `
  SELECT c.hash, c.label, c.macs, c.flops, c.params FROM candidates c
  WHERE c.hash IN (SELECT candidate_hash FROM trials WHERE sweep_id = ?)`;
/** [spec_hash, machine, median_ms] */
export const LISTING_LATENCIES = `
  SELECT l.spec_hash, l.machine, l.median_ms FROM latencies l
  WHERE l.runtime = 'native' AND l.batch = 1 AND l.threads = 1
    AND l.spec_hash IN (SELECT candidate_hash FROM trials WHERE sweep_id = ?)
  ORDER BY l.measured_at, l.machine`;

/** A listing row as `Executor.rows` reads LISTING_COLUMNS: TrialDbRow's values, in LISTED order. */
export type ListingDbTuple = ColumnValues<typeof LISTED>;
type ColumnValues<K extends readonly (keyof TrialDbRow)[]> = { -readonly [I in keyof K]: TrialDbRow[K[I] & keyof TrialDbRow] };
export type ListedCandidateDbTuple = [hash: string, label: string, macs: number, flops: number, params: number];
export type ListedLatencyDbTuple = [specHash: string, machine: string, medianMs: number];

/** What a listed trial takes from its candidate (one object, shared by its trials). */
export type ListedCandidate = Pick<TrialRow, 'label' | 'macs' | 'flops' | 'params'>;

/** A listed trial (a TrialRow without variants, provenance and the fields the listing
 * leaves out); toTrialRow adds those to it. */
export function toListedTrialRow(
  r: ListingDbTuple,
  c: ListedCandidate,
  sweep: string,
  latency: { median_ms: number; machine: string } | undefined,
): ListedTrialRow {
  // positions as in LISTED
  return {
    id: r[0],
    sweep,
    candidateHash: r[1],
    label: c.label,
    baseline: r[2] === 1,
    macs: c.macs,
    flops: c.flops,
    params: c.params,
    state: r[3],
    epochs: r[4],
    rung: r[5],
    round: r[6],
    seed: r[7],
    accuracy: r[8],
    trainLoss: r[9],
    seconds: r[10],
    device: r[11],
    error: r[12],
    attempts: r[13],
    queuedAt: r[14],
    startedAt: r[15],
    finishedAt: r[16],
    reusedFrom: r[17],
    latencyMs: latency?.median_ms ?? null,
    latencyMachine: latency?.machine ?? null,
  };
}

export interface SweepDbRow {
  id: number;
  name: string;
  config: string;
  config_hash: string;
  status: SweepRow['status'];
  created_at: string;
}

export function toSweepRow(r: SweepDbRow): SweepRow {
  return { id: r.id, name: r.name, config: JSON.parse(r.config), createdAt: r.created_at, status: r.status };
}

export type EpochDbRow = Record<'epoch' | 'lr' | 'train_loss' | 'train_accuracy' | 'test_accuracy' | 'test_loss' | 'seconds', number | null>;

export function toEpochMetrics(r: EpochDbRow): EpochMetrics {
  const m: EpochMetrics = {
    epoch: r.epoch!,
    lr: r.lr ?? 0,
    trainLoss: r.train_loss ?? NaN,
    trainAccuracy: r.train_accuracy ?? NaN,
    seconds: r.seconds ?? 0,
  };
  if (r.test_accuracy !== null) m.testAccuracy = r.test_accuracy;
  if (r.test_loss !== null) m.testLoss = r.test_loss;
  return m;
}

export const EPOCH_COLUMNS = 'epoch, lr, train_loss, train_accuracy, test_accuracy, test_loss, seconds';

export function epochValues(m: EpochMetrics): Array<number | null> {
  return [m.epoch, finite(m.lr), finite(m.trainLoss), finite(m.trainAccuracy), finite(m.testAccuracy), finite(m.testLoss), finite(m.seconds)];
}

export type CandidateDbRow = Record<'hash' | 'label' | 'variants' | 'spec', string> & Record<'macs' | 'flops' | 'params', number>;

export function toCandidate(c: CandidateDbRow, baseline: boolean): Candidate {
  return {
    hash: c.hash,
    variants: JSON.parse(c.variants) as Variant[],
    label: c.label,
    baseline,
    spec: JSON.parse(c.spec) as ModelSpec,
    macs: c.macs,
    flops: c.flops,
    params: c.params,
  };
}

/** A candidate's row in `candidates` (its spec goes to `candidate_specs`: specValues). */
export const candidateValues = (c: Candidate, createdAt: string): unknown[] => [
  c.hash,
  c.spec.model,
  c.label,
  JSON.stringify(c.variants),
  int(c.macs),
  int(c.flops),
  int(c.params),
  createdAt,
];

export const specValues = (c: Candidate): unknown[] => [c.hash, JSON.stringify(c.spec)];

export const now = () => new Date().toISOString();
/** Both databases store 64-bit integers exactly; MACs fit, but make sure they are integers. */
export const int = (n: number) => Math.round(n);

export function finite(x: number | null | undefined): number | null {
  return x === undefined || x === null || !Number.isFinite(x) ? null : x;
}

/** Provenance of a finished trial: what the runner recorded plus the trial's own timings. */
export function finishedProvenance(before: TrialDbRow, provenance: Record<string, unknown> = {}): string {
  const timings = { queuedAt: before.queued_at, startedAt: before.started_at, finishedAt: now(), attempts: before.attempts };
  return JSON.stringify({ ...provenance, ...timings });
}

/** The values `finishTrial` writes, in the order of FINISH_COLUMNS. */
export function finishedValues(o: TrialOutcome, before: TrialDbRow): unknown[] {
  return [
    o.state,
    now(),
    finite(o.accuracy),
    finite(o.testLoss),
    finite(o.trainLoss),
    finite(o.trainAccuracy),
    finite(o.seconds),
    finite(o.imagesPerSecond),
    o.device,
    o.state === 'diverged' ? (o.message ?? 'training diverged') : null,
    finishedProvenance(before, o.provenance),
    Date.now(),
  ];
}

export const FINISH_COLUMNS = [
  'state',
  'finished_at',
  'accuracy',
  'test_loss',
  'train_loss',
  'train_accuracy',
  'seconds',
  'images_per_second',
  'device',
  'error',
  'provenance',
  'heartbeat_at',
] as const;
