// Naive float64 reference ops for the op tests: written straight from the definitions (for
// SCC, sccForward below is the definition), sharing no code or tiling idea with the native
// kernels.
// Arrays are NCHW Float64Arrays (or anything indexable); results are Float64Arrays.
import assert from 'node:assert/strict';

export type Arr = ArrayLike<number>;

/** Deterministic pseudo-random values in [-1, 1) (LCG), so failures reproduce. */
export function randomArray(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = (seed * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32) * 2 - 1;
  }
  return a;
}

/**
 * |actual - expected| <= atol + rtol * |expected| elementwise; the message names the first
 * offending index. The tolerance is the caller's, stated at the call site.
 */
export function assertClose(actual: Arr, expected: Arr, tol: { atol: number; rtol: number }, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} != ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${label}: index ${worst}: got ${actual[worst]}, expected ${expected[worst]} ` +
        `(atol ${tol.atol}, rtol ${tol.rtol})`,
    );
  }
}

export interface ConvShape {
  N: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  K: number;
  stride: number;
  pad: number;
  groups: number;
}
export const convOut = (s: ConvShape) => ({
  Ho: Math.floor((s.H + 2 * s.pad - s.K) / s.stride) + 1,
  Wo: Math.floor((s.W + 2 * s.pad - s.K) / s.stride) + 1,
});

/** Visits every (n, co, oh, ow, ci, kh, kw) term of a convolution that reads a real input. */
function convTerms(
  s: ConvShape,
  f: (yi: number, xi: number, wi: number, co: number) => void,
): void {
  const { Ho, Wo } = convOut(s);
  const cig = s.Cin / s.groups;
  const cog = s.Cout / s.groups;
  for (let n = 0; n < s.N; n++)
    for (let co = 0; co < s.Cout; co++) {
      const g = Math.floor(co / cog);
      for (let oh = 0; oh < Ho; oh++)
        for (let ow = 0; ow < Wo; ow++) {
          const yi = ((n * s.Cout + co) * Ho + oh) * Wo + ow;
          for (let j = 0; j < cig; j++) {
            const ci = g * cig + j;
            for (let kh = 0; kh < s.K; kh++) {
              const ih = oh * s.stride - s.pad + kh;
              if (ih < 0 || ih >= s.H) continue;
              for (let kw = 0; kw < s.K; kw++) {
                const iw = ow * s.stride - s.pad + kw;
                if (iw < 0 || iw >= s.W) continue;
                f(yi, ((n * s.Cin + ci) * s.H + ih) * s.W + iw, ((co * cig + j) * s.K + kh) * s.K + kw, co);
              }
            }
          }
        }
    }
}

export function conv2dForward(s: ConvShape, x: Arr, w: Arr, bias?: Arr): Float64Array {
  const { Ho, Wo } = convOut(s);
  const y = new Float64Array(s.N * s.Cout * Ho * Wo);
  if (bias) for (let i = 0; i < y.length; i++) y[i] = bias[Math.floor(i / (Ho * Wo)) % s.Cout]!;
  convTerms(s, (yi, xi, wi) => {
    y[yi]! += w[wi]! * x[xi]!;
  });
  return y;
}

export function conv2dBackward(s: ConvShape, x: Arr, w: Arr, dy: Arr) {
  const { Ho, Wo } = convOut(s);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const dbias = new Float64Array(s.Cout);
  for (let i = 0; i < dy.length; i++) dbias[Math.floor(i / (Ho * Wo)) % s.Cout]! += dy[i]!;
  convTerms(s, (yi, xi, wi) => {
    dx[xi]! += w[wi]! * dy[yi]!;
    dw[wi]! += x[xi]! * dy[yi]!;
  });
  return { dx, dw, dbias };
}

export interface SccRefShape {
  N: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  groups: number;
  stride: number;
}

/** SCC, by definition: Y[n,c,p] = sum_{k<D} W[c,k] * X[n, (c*s + k) mod Cin, p], D = Cin/cg. */
export function sccForward(s: SccRefShape, x: Arr, w: Arr): Float64Array {
  const D = s.Cin / s.groups;
  const P = s.H * s.W;
  const y = new Float64Array(s.N * s.Cout * P);
  for (let n = 0; n < s.N; n++)
    for (let c = 0; c < s.Cout; c++)
      for (let k = 0; k < D; k++) {
        const i = (c * s.stride + k) % s.Cin;
        for (let p = 0; p < P; p++) y[(n * s.Cout + c) * P + p]! += w[c * D + k]! * x[(n * s.Cin + i) * P + p]!;
      }
  return y;
}

export function sccBackward(s: SccRefShape, x: Arr, w: Arr, dy: Arr) {
  const D = s.Cin / s.groups;
  const P = s.H * s.W;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  for (let n = 0; n < s.N; n++)
    for (let c = 0; c < s.Cout; c++)
      for (let k = 0; k < D; k++) {
        const i = (c * s.stride + k) % s.Cin;
        for (let p = 0; p < P; p++) {
          const g = dy[(n * s.Cout + c) * P + p]!;
          dx[(n * s.Cin + i) * P + p]! += w[c * D + k]! * g;
          dw[c * D + k]! += x[(n * s.Cin + i) * P + p]! * g;
        }
      }
  return { dx, dw };
}

/** The dense [Cout, Cin] weight of the 1x1 conv equal to an SCC: its banded circulant expansion. */
export function sccDenseWeight(s: SccRefShape, w: Arr): Float32Array {
  const D = s.Cin / s.groups;
  const dense = new Float32Array(s.Cout * s.Cin);
  for (let c = 0; c < s.Cout; c++)
    for (let k = 0; k < D; k++) dense[c * s.Cin + ((c * s.stride + k) % s.Cin)] = w[c * D + k]!;
  return dense;
}

/** The SCC weight gradient read back out of a dense [Cout, Cin] gradient's band. */
export function sccBandOf(s: SccRefShape, dense: Arr): Float64Array {
  const D = s.Cin / s.groups;
  const w = new Float64Array(s.Cout * D);
  for (let c = 0; c < s.Cout; c++)
    for (let k = 0; k < D; k++) w[c * D + k] = dense[c * s.Cin + ((c * s.stride + k) % s.Cin)]!;
  return w;
}

export function sgemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Arr,
  B: Arr,
  beta: number,
  C: Arr,
): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[transA ? k * M + i : i * K + k]! * B[transB ? j * K + k : k * N + j]!;
      out[i * N + j] = alpha * s + beta * C[i * N + j]!;
    }
  return out;
}

export function batchnormTrain(N: number, C: number, HW: number, x: Arr, gamma: Arr, beta: Arr, eps: number) {
  const M = N * HW;
  const mean = new Float64Array(C);
  const varBiased = new Float64Array(C);
  const y = new Float64Array(x.length);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let p = 0; p < HW; p++) s += x[(n * C + c) * HW + p]!;
    mean[c] = s / M;
    let v = 0;
    for (let n = 0; n < N; n++) for (let p = 0; p < HW; p++) v += (x[(n * C + c) * HW + p]! - mean[c]!) ** 2;
    varBiased[c] = v / M;
    const inv = 1 / Math.sqrt(varBiased[c]! + eps);
    for (let n = 0; n < N; n++)
      for (let p = 0; p < HW; p++) {
        const i = (n * C + c) * HW + p;
        y[i] = gamma[c]! * (x[i]! - mean[c]!) * inv + beta[c]!;
      }
  }
  const invstd = varBiased.map((v) => 1 / Math.sqrt(v + eps));
  const varUnbiased = varBiased.map((v) => (v * M) / (M - 1));
  return { y, mean, invstd, varUnbiased };
}

export function batchnormEval(N: number, C: number, HW: number, x: Arr, gamma: Arr, beta: Arr, rm: Arr, rv: Arr, eps: number) {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / HW) % C;
    y[i] = (gamma[c]! * (x[i]! - rm[c]!)) / Math.sqrt(rv[c]! + eps) + beta[c]!;
  }
  return y;
}

/** Gradient of y = gamma * (x - mean(x)) / sqrt(var(x) + eps) + beta, batch statistics. */
export function batchnormBackward(N: number, C: number, HW: number, x: Arr, gamma: Arr, dy: Arr, eps: number) {
  const { mean, invstd } = batchnormTrain(N, C, HW, x, gamma, new Float64Array(C), eps);
  const M = N * HW;
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(C);
  const dbeta = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let sdy = 0;
    let sdyxh = 0;
    const idx: number[] = [];
    for (let n = 0; n < N; n++) for (let p = 0; p < HW; p++) idx.push((n * C + c) * HW + p);
    for (const i of idx) {
      const xh = (x[i]! - mean[c]!) * invstd[c]!;
      sdy += dy[i]!;
      sdyxh += dy[i]! * xh;
    }
    dgamma[c] = sdyxh;
    dbeta[c] = sdy;
    for (const i of idx) {
      const xh = (x[i]! - mean[c]!) * invstd[c]!;
      dx[i] = (gamma[c]! * invstd[c]! * (M * dy[i]! - sdy - xh * sdyxh)) / M;
    }
  }
  return { dx, dgamma, dbeta, mean, invstd };
}

export interface PoolRefShape {
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  stride: number;
  pad: number;
}

/** Max pool; the gradient goes to the first maximum in row-major window order. */
export function maxpool(s: PoolRefShape, x: Arr, dy?: Arr) {
  const Ho = Math.floor((s.H + 2 * s.pad - s.K) / s.stride) + 1;
  const Wo = Math.floor((s.W + 2 * s.pad - s.K) / s.stride) + 1;
  const y = new Float64Array(s.N * s.C * Ho * Wo);
  const dx = new Float64Array(x.length);
  for (let nc = 0; nc < s.N * s.C; nc++)
    for (let oh = 0; oh < Ho; oh++)
      for (let ow = 0; ow < Wo; ow++) {
        let best = -Infinity;
        let arg = -1;
        for (let kh = 0; kh < s.K; kh++)
          for (let kw = 0; kw < s.K; kw++) {
            const ih = oh * s.stride - s.pad + kh;
            const iw = ow * s.stride - s.pad + kw;
            if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
            const i = (nc * s.H + ih) * s.W + iw;
            if (arg < 0 || x[i]! > best) {
              best = x[i]!;
              arg = i;
            }
          }
        const o = (nc * Ho + oh) * Wo + ow;
        y[o] = best;
        if (dy) dx[arg]! += dy[o]!;
      }
  return { y, dx, Ho, Wo };
}

export function linearForward(N: number, In: number, Out: number, x: Arr, w: Arr, bias?: Arr): Float64Array {
  const y = new Float64Array(N * Out);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < Out; o++) {
      let s = bias ? bias[o]! : 0;
      for (let i = 0; i < In; i++) s += x[n * In + i]! * w[o * In + i]!;
      y[n * Out + o] = s;
    }
  return y;
}

export function linearBackward(N: number, In: number, Out: number, x: Arr, w: Arr, dy: Arr) {
  const dx = new Float64Array(N * In);
  const dw = new Float64Array(Out * In);
  const dbias = new Float64Array(Out);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < Out; o++) {
      const g = dy[n * Out + o]!;
      dbias[o]! += g;
      for (let i = 0; i < In; i++) {
        dx[n * In + i]! += g * w[o * In + i]!;
        dw[o * In + i]! += g * x[n * In + i]!;
      }
    }
  return { dx, dw, dbias };
}

/** ShuffleNet channel shuffle: view C as [groups, C/groups] and transpose it. */
export function shuffle(N: number, C: number, HW: number, groups: number, x: Arr): Float64Array {
  const cpg = C / groups;
  const y = new Float64Array(x.length);
  for (let n = 0; n < N; n++)
    for (let g = 0; g < groups; g++)
      for (let j = 0; j < cpg; j++)
        for (let p = 0; p < HW; p++) y[(n * C + j * groups + g) * HW + p] = x[(n * C + g * cpg + j) * HW + p]!;
  return y;
}

/** He et al. option-A shortcut: subsample by `stride`, zero-pad channels (padFront first). */
export function shortcutA(N: number, Cin: number, H: number, W: number, stride: number, Cout: number, padFront: number, x: Arr) {
  const Ho = Math.ceil(H / stride);
  const Wo = Math.ceil(W / stride);
  const y = new Float64Array(N * Cout * Ho * Wo);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < Cin; c++)
      for (let h = 0; h < Ho; h++)
        for (let w = 0; w < Wo; w++)
          y[((n * Cout + c + padFront) * Ho + h) * Wo + w] = x[((n * Cin + c) * H + h * stride) * W + w * stride]!;
  return y;
}

/** Summed softmax cross-entropy, argmax hits, and (softmax - onehot) * scale. */
export function softmaxXent(N: number, K: number, z: Arr, labels: Arr, scale: number) {
  let loss = 0;
  let correct = 0;
  const d = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    const row = Array.from({ length: K }, (_, k) => z[n * K + k]!);
    const m = Math.max(...row);
    const sum = row.reduce((a, v) => a + Math.exp(v - m), 0);
    loss += Math.log(sum) + m - row[labels[n]!]!;
    if (row.indexOf(m) === labels[n]) correct++;
    for (let k = 0; k < K; k++) d[n * K + k] = (Math.exp(row[k]! - m) / sum - (k === labels[n] ? 1 : 0)) * scale;
  }
  return { loss, correct, d };
}

/** g' = g + wd*p; m = mu*m + g'; p -= lr * (nesterov ? g' + mu*m : m). */
export function sgdStep(p: Arr, g: Arr, m: Arr, lr: number, mu: number, wd: number, nesterov: boolean) {
  const np = new Float64Array(p.length);
  const nm = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]! + wd * p[i]!;
    nm[i] = mu * m[i]! + gi;
    np[i] = p[i]! - lr * (nesterov ? gi + mu * nm[i]! : nm[i]!);
  }
  return { p: np, m: nm };
}
