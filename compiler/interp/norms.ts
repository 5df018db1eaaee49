/**
 * The fused norm and linear kernels (rmsnorm_gated, add_rmsnorm, fused_linear, linear_conv_update), in float64,
 * written from the equations of reference/semantics.md (rmsnorm, rmsnorm_gated, Linear).
 */
import { assertNever } from "../diag/diagnostic.ts";
import type { LinearActivation } from "../ir/fused-ops.ts";
import type { Kernel } from "./kernels.ts";
import { gelu, silu } from "./scalar.ts";

/** v <- v / sqrt(mean(v^2) + eps) * w per consecutive group of `group` values; w aligned with v. */
export function rmsnormInPlace(v: Float64Array, w: ArrayLike<number>, eps: number, group: number): void {
  for (let s = 0; s < v.length; s += group) {
    let ss = 0;
    for (let i = 0; i < group; i++) ss += v[s + i]! * v[s + i]!;
    const inv = 1 / Math.sqrt(ss / group + eps);
    for (let i = 0; i < group; i++) v[s + i] = v[s + i]! * inv * w[s + i]!;
  }
}

/** v <- (v - mean) / sqrt(var + eps) * w + b over the whole row (biased variance). */
function layernormInPlace(v: Float64Array, w: ArrayLike<number>, b: ArrayLike<number>, eps: number): void {
  const c = v.length;
  let mean = 0;
  for (let i = 0; i < c; i++) mean += v[i]!;
  mean /= c;
  let varSum = 0;
  for (let i = 0; i < c; i++) varSum += (v[i]! - mean) ** 2;
  const inv = 1 / Math.sqrt(varSum / c + eps);
  for (let i = 0; i < c; i++) v[i] = (v[i]! - mean) * inv * w[i]! + b[i]!;
}

/**
 * rmsnorm_gated (semantics.md): normBeforeGate = false: x <- x silu(z), then normalise each group
 * and multiply by w; true: normalise, multiply by w, then by silu(z).
 */
const rmsnormGated: Kernel<"rmsnorm_gated"> = ([x, z, w], a) => {
  const c = w!.data.length;
  const y = Float64Array.from(x!.data);
  for (let r = 0; r < y.length; r += c) {
    const row = y.subarray(r, r + c);
    if (!a.normBeforeGate) for (let i = 0; i < c; i++) row[i] = row[i]! * silu(z!.data[r + i]!);
    rmsnormInPlace(row, w!.data, a.eps, a.groupSize);
    if (a.normBeforeGate) for (let i = 0; i < c; i++) row[i] = row[i]! * silu(z!.data[r + i]!);
  }
  return [{ shape: x!.shape, data: y }];
};

/** add_rmsnorm: s = a + b (the new residual stream), y = rmsnorm(s) * w. Returns (s, y). */
const addRmsnorm: Kernel<"add_rmsnorm"> = ([p, q, w], a) => {
  const c = w!.data.length;
  const s = p!.data.map((v, i) => v + q!.data[i]!);
  const y = Float64Array.from(s);
  for (let r = 0; r < y.length; r += c) rmsnormInPlace(y.subarray(r, r + c), w!.data, a.eps, a.groupSize);
  return [
    { shape: p!.shape, data: s },
    { shape: p!.shape, data: y },
  ];
};

/**
 * fused_linear over weights W_1..W_n, per row r: x̂ = the prologue norm of x[r] (recomputed from
 * the row); z = [z_1 | ... | z_n] with z_i = x̂ W_i^T + bias_i; a = act(z):
 *   none   a = z                      gelu   a_j = gelu(z_j) (exact erf)
 *   relu2  a_j = relu(z_j)^2          swiglu a_j = silu(z_1[j]) * z_2[j]  (SwiGLU: gate, up)
 * then y[r] = a + residual[r] (the primitive chain's order: bias, activation, residual).
 */
const fusedLinear: Kernel<"fused_linear"> = (ins, a, ctx) => {
  const n = a.weights;
  const x = ins[0]!;
  const Ws = ins.slice(1, 1 + n);
  let k = 1 + n;
  const normW = a.prologue === "none" ? null : ins[k++]!.data;
  const normB = a.prologue === "layernorm" ? ins[k++]!.data : null;
  const biases = a.bias ? ins.slice(k, (k += n)).map((t) => t.data) : null;
  const residual = a.residual ? ins[k++]!.data : null;
  const inp = Ws[0]!.shape[1]!;
  const outs = Ws.map((W) => W.shape[0]!);
  const width = outs.reduce((s, o) => s + o, 0);
  const out = ctx.out[0]!.at(-1)!;
  const rows = x.data.length / inp;
  const y = new Float64Array(rows * out);
  const z = new Float64Array(width);
  for (let r = 0; r < rows; r++) {
    const row = x.data.slice(r * inp, (r + 1) * inp);
    if (a.prologue === "rmsnorm") rmsnormInPlace(row, normW!, a.eps!, a.normGroup!);
    else if (a.prologue === "layernorm") layernormInPlace(row, normW!, normB!, a.eps!);
    let col = 0;
    Ws.forEach((W, w) => {
      for (let o = 0; o < outs[w]!; o++) {
        let acc = 0;
        for (let i = 0; i < inp; i++) acc += row[i]! * W.data[o * inp + i]!;
        z[col++] = biases === null ? acc : acc + biases[w]![o]!;
      }
    });
    const yr = y.subarray(r * out, (r + 1) * out);
    activate(a.activation, z, yr);
    if (residual !== null) for (let o = 0; o < out; o++) yr[o] = yr[o]! + residual[r * out + o]!;
  }
  return [{ shape: ctx.out[0]!, data: y }];
};

/**
 * linear_conv_update, one row: y = fused_linear(x, ...) (no activation, no residual); then for
 * each conv channel c = 0..C-1, z = y[convStart + c] and the kernel width W:
 *   y[convStart + c] = silu(sum_{k < W-1} w[c, k] * state[c, k + 1] + w[c, W-1] * z + bias[c])
 *   state'[c, :]     = [state[c, 1], ..., state[c, W-1], z]
 * (conv1d_silu_update at S = 1: the window ending at the new token.)
 */
const linearConvUpdate: Kernel<"linear_conv_update"> = (ins, a, ctx) => {
  const n = ins.length - (a.convBias ? 3 : 2);
  const [y] = fusedLinear(ins.slice(0, n), { ...a, activation: "none", residual: false }, ctx);
  const state = ins[n]!;
  const w = ins[n + 1]!.data;
  const bias = a.convBias ? ins[n + 2]!.data : null;
  const W = state.shape[1]!;
  const out = Float64Array.from(y!.data);
  const next = new Float64Array(state.data.length);
  for (let c = 0; c < a.convWidth; c++) {
    const z = y!.data[a.convStart + c]!;
    let acc = bias === null ? 0 : bias[c]!;
    for (let k = 0; k < W - 1; k++) {
      acc += w[c * W + k]! * state.data[c * W + k + 1]!;
      next[c * W + k] = state.data[c * W + k + 1]!;
    }
    acc += w[c * W + W - 1]! * z;
    next[c * W + W - 1] = z;
    out[a.convStart + c] = silu(acc);
  }
  return [
    { shape: ctx.out[0]!, data: out },
    { shape: ctx.out[1]!, data: next },
  ];
};

/** y = act(z); for swiglu z holds the gate then the up half, each y.length wide. */
function activate(act: LinearActivation, z: Float64Array, y: Float64Array): void {
  switch (act) {
    case "none":
      y.set(z);
      return;
    case "gelu":
      for (let j = 0; j < y.length; j++) y[j] = gelu(z[j]!);
      return;
    case "relu2":
      for (let j = 0; j < y.length; j++) {
        const r = Math.max(z[j]!, 0);
        y[j] = r * r;
      }
      return;
    case "swiglu":
      for (let j = 0; j < y.length; j++) y[j] = silu(z[j]!) * z[y.length + j]!;
      return;
    default:
      return assertNever(act, "fused_linear activation");
  }
}

export const NORM_KERNELS = {
  rmsnorm_gated: rmsnormGated,
  add_rmsnorm: addRmsnorm,
  fused_linear: fusedLinear,
  linear_conv_update: linearConvUpdate,
} satisfies { readonly [K in "rmsnorm_gated" | "add_rmsnorm" | "fused_linear" | "linear_conv_update"]: Kernel<K> };
