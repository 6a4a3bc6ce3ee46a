// The accuracy model of the model-based sampler (bayes.ts): kernel ridge regression over
// designs with a categorical kernel, and a seeded bootstrap ensemble of it for uncertainty.
//
// The kernel counts what two designs share: the units with the same option (a Hamming
// similarity), the pairs of units with the same pair of options (interactions between
// stages), and linear terms in log-MACs, log-params and log-epochs. The cost terms are
// exact and free (the analytic cost model), so accuracy's trend with cost is known before
// the first result; the epochs term lets results of lower successive-halving rungs inform
// the prediction at the last rung. Written here rather than taken from a package: the
// model is a few dozen lines of linear algebra on at most a few hundred results, and no
// npm package offers a Gaussian process or ensemble over categorical inputs that is kept
// up and deterministic under a seed.
import { createRng } from './rng.js';

/** A design as the model sees it. */
export interface Design {
  /** one option index per unit */
  genome: readonly number[];
  logMacs: number;
  logParams: number;
  logEpochs: number;
}

export interface Observation extends Design {
  accuracy: number;
}

interface Scale {
  mean: number;
  sd: number;
}

const scaleOf = (xs: readonly number[]): Scale => {
  const mean = xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  const v = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, xs.length);
  return { mean, sd: Math.sqrt(v) > 1e-12 ? Math.sqrt(v) : 1 };
};

/** The kernel's parts, normalised so each kind of term weighs about one. */
export class DesignKernel {
  private readonly pairs: boolean;
  constructor(
    readonly units: number,
    private readonly scales: { macs: Scale; params: Scale; epochs: Scale },
    /** leave out unit pairs when there are many units (tie = slot): the pool is scored
     * against every result, and pairs grow with the square of the units */
    pairs = units <= 8,
  ) {
    this.pairs = pairs && units > 1;
  }

  static fit(designs: readonly Design[], units: number): DesignKernel {
    return new DesignKernel(units, {
      macs: scaleOf(designs.map((d) => d.logMacs)),
      params: scaleOf(designs.map((d) => d.logParams)),
      epochs: scaleOf(designs.map((d) => d.logEpochs)),
    });
  }

  k(a: Design, b: Design): number {
    const U = this.units;
    let same = 0;
    for (let u = 0; u < U; u++) if (a.genome[u] === b.genome[u]) same++;
    let s = 1 + same / U;
    if (this.pairs) {
      let pair = 0;
      for (let u = 0; u < U; u++) {
        if (a.genome[u] !== b.genome[u]) continue;
        for (let v = u + 1; v < U; v++) if (a.genome[v] === b.genome[v]) pair++;
      }
      s += (0.5 * pair) / ((U * (U - 1)) / 2);
    }
    const { macs, params, epochs } = this.scales;
    s += (0.5 * ((a.logMacs - macs.mean) * (b.logMacs - macs.mean))) / (macs.sd * macs.sd);
    s += (0.25 * ((a.logParams - params.mean) * (b.logParams - params.mean))) / (params.sd * params.sd);
    s += ((a.logEpochs - epochs.mean) * (b.logEpochs - epochs.mean)) / (epochs.sd * epochs.sd);
    return s;
  }
}

/** The kernel between every pair of `data` (n x n, row-major). */
function gram(kernel: DesignKernel, data: readonly Design[]): Float64Array {
  const n = data.length;
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = kernel.k(data[i], data[j]);
      g[i * n + j] = v;
      g[j * n + i] = v;
    }
  }
  return g;
}

/** Cholesky factor L of a symmetric positive definite n x n matrix (row-major); in place. */
function cholesky(a: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= a[j * n + k] ** 2;
    if (!(d > 0)) d = 1e-10;
    const l = Math.sqrt(d);
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / l;
    }
    for (let k = j + 1; k < n; k++) a[j * n + k] = 0;
  }
  return a;
}

function cholSolve(l: Float64Array, n: number, b: Float64Array): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * y[k];
    y[i] = s / l[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * x[k];
    x[i] = s / l[i * n + i];
  }
  return x;
}

/** Kernel ridge on data[idx[j]], j < idx.length, from the data's Gram matrix `g`: solves
 * (K + lambda I) alpha = y - mean. */
function ridgeFit(g: Float64Array, n0: number, y0: readonly number[], idx: readonly number[], lambda: number) {
  const n = idx.length;
  const mean = idx.reduce((s, i) => s + y0[i], 0) / Math.max(1, n);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const row = idx[i] * n0;
    for (let j = 0; j < n; j++) a[i * n + j] = g[row + idx[j]];
    a[i * n + i] += lambda;
  }
  const y = Float64Array.from(idx, (i) => y0[i] - mean);
  const alpha = n ? cholSolve(cholesky(a, n), n, y) : new Float64Array(0);
  return { idx, alpha, mean };
}

/** Leave-one-out squared error of kernel ridge at `lambda`, in closed form
 * (e_i = alpha_i / (K + lambda I)^-1_ii), from the Gram matrix `g`. */
export function looError(g: Float64Array, y0: readonly number[], lambda: number): number {
  const n = y0.length;
  if (n < 3) return 0;
  const mean = y0.reduce((s, v) => s + v, 0) / n;
  const a = Float64Array.from(g);
  for (let i = 0; i < n; i++) a[i * n + i] += lambda;
  const l = cholesky(a, n);
  const alpha = cholSolve(l, n, Float64Array.from(y0, (v) => v - mean));
  // diag of (K + lambda I)^-1 = column sums of squares of L^-1
  const linv = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    for (let i = c; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= l[i * n + k] * linv[k * n + c];
      linv[i * n + c] = s / l[i * n + i];
    }
  }
  let sse = 0;
  for (let i = 0; i < n; i++) {
    let d = 0;
    for (let k = i; k < n; k++) d += linv[k * n + i] ** 2;
    sse += (alpha[i] / d) ** 2;
  }
  return sse / n;
}

export const LAMBDAS = [0.003, 0.03, 0.3, 3] as const;

/** An ensemble of kernel ridge fits on seeded bootstrap resamples of the data (the first
 * member on the data itself), with the ridge strength chosen by leave-one-out error. */
export class Ensemble {
  private constructor(
    private readonly kernel: DesignKernel,
    private readonly data: readonly Observation[],
    private readonly members: { idx: readonly number[]; alpha: Float64Array; mean: number }[],
  ) {}

  static fit(data: readonly Observation[], units: number, size: number, seed: number, round: number): Ensemble {
    const kernel = DesignKernel.fit(data, units);
    const g = gram(kernel, data);
    const y = data.map((d) => d.accuracy);
    let lambda: number = LAMBDAS[1];
    if (data.length >= 6) {
      let best = Infinity;
      for (const l of LAMBDAS) {
        const e = looError(g, y, l);
        if (e < best - 1e-15) {
          best = e;
          lambda = l;
        }
      }
    }
    const all = data.map((_, i) => i);
    const members = [ridgeFit(g, data.length, y, all, lambda)];
    const rng = createRng(seed, 11, round);
    for (let m = 1; m < size; m++) {
      const boot = all.map(() => rng.int(data.length));
      members.push(ridgeFit(g, data.length, y, boot, lambda));
    }
    return new Ensemble(kernel, data, members);
  }

  get size(): number {
    return this.members.length;
  }

  /** One prediction per member (the kernel against each result is computed once). */
  predict(d: Design): number[] {
    const kv = this.data.map((x) => this.kernel.k(d, x));
    return this.members.map((m) => {
      let s = m.mean;
      for (let j = 0; j < m.idx.length; j++) s += m.alpha[j] * kv[m.idx[j]];
      return s;
    });
  }
}
