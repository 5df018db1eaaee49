/**
 * The fused norm and linear kernels (rmsnorm_gated, add_rmsnorm, fused_linear), in float64,
 * written from the equations of reference/semantics.md (rmsnorm, rmsnorm_gated, Linear).
 */
import type { Kernel } from "./kernels.ts";
import { silu } from "./scalar.ts";

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
 * fused_linear: per row, the prologue norm of x (recomputed from the row), then y = x W^T,
 * then + bias, then + residual (the primitive chain's order).
 */
const fusedLinear: Kernel<"fused_linear"> = (ins, a, ctx) => {
  const [x, W] = ins;
  let k = 2;
  const normW = a.prologue === "none" ? null : ins[k++]!.data;
  const normB = a.prologue === "layernorm" ? ins[k++]!.data : null;
  const bias = a.bias ? ins[k++]!.data : null;
  const residual = a.residual ? ins[k++]!.data : null;
  const [out, inp] = W!.shape as [number, number];
  const rows = x!.data.length / inp;
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    const row = x!.data.slice(r * inp, (r + 1) * inp);
    if (a.prologue === "rmsnorm") rmsnormInPlace(row, normW!, a.eps!, a.normGroup!);
    else if (a.prologue === "layernorm") layernormInPlace(row, normW!, normB!, a.eps!);
    for (let o = 0; o < out; o++) {
      let acc = 0;
      for (let i = 0; i < inp; i++) acc += row[i]! * W!.data[o * inp + i]!;
      if (bias !== null) acc += bias[o]!;
      if (residual !== null) acc += residual[r * out + o]!;
      y[r * out + o] = acc;
    }
  }
  return [{ shape: ctx.out[0]!, data: y }];
};

export const NORM_KERNELS = {
  rmsnorm_gated: rmsnormGated,
  add_rmsnorm: addRmsnorm,
  fused_linear: fusedLinear,
} satisfies { readonly [K in "rmsnorm_gated" | "add_rmsnorm" | "fused_linear"]: Kernel<K> };
