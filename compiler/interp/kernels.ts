/**
 * The executable definition of every primitive IR op, in float64: one plain loop nest per op,
 * written for clarity (each is O(work)); fused ops live in fused.ts. Result shapes come from the node's inferred types (`ctx.out`).
 * Layouts are row-major; see compiler/ir/types.ts.
 */
import type { OpAttrs, OpName, UnaryOp } from "../ir/ops.ts";
import { ringPosition, ringRowsNeeded } from "../../runtime/artifact/kv-ring.ts";
import { causalConv } from "./conv.ts";
import { FUSED_KERNELS } from "./fused.ts";
import { unaryFn } from "./scalar.ts";
import { InterpError, broadcastIndex, prod, zipWith, type Tensor } from "./tensor.ts";

export interface KernelCtx {
  /** Concrete result shapes of the node being evaluated. */
  readonly out: readonly (readonly number[])[];
  /** Data fed for a graph input or weight, by name (checked against `out[0]` by the caller). */
  readonly feed: (name: string, kind: "input" | "weight") => Float64Array;
}

export type Kernel<K extends OpName> = (ins: readonly Tensor[], attrs: OpAttrs[K], ctx: KernelCtx) => readonly Tensor[];

const unary =
  <K extends UnaryOp>(op: K): Kernel<K> =>
  ([x]) => {
    const f = unaryFn(op);
    return [{ shape: x!.shape, data: x!.data.map(f) }];
  };

/** Integer value of a scalar i32 tensor. */
function scalarInt(t: Tensor, what: string): number {
  const v = t.data[0]!;
  if (t.data.length !== 1 || !Number.isInteger(v)) throw new InterpError(`${what} must be one integer, got [${t.data.join(",")}]`);
  return v;
}

export const KERNELS = {
  input: (_, a, ctx) => [{ shape: ctx.out[0]!, data: ctx.feed(a.name, "input") }],
  weight: (_, a, ctx) => [{ shape: ctx.out[0]!, data: ctx.feed(a.name, "weight") }],

  reshape: ([x], _, ctx) => [{ shape: ctx.out[0]!, data: x!.data }],

  slice: ([x], a, ctx) => {
    const outer = prod(x!.shape, 0, a.axis);
    const inner = prod(x!.shape, a.axis + 1);
    const dim = x!.shape[a.axis]!;
    const y = new Float64Array(outer * a.size * inner);
    for (let o = 0; o < outer; o++) {
      const src = (o * dim + a.start) * inner;
      y.set(x!.data.subarray(src, src + a.size * inner), o * a.size * inner);
    }
    return [{ shape: ctx.out[0]!, data: y }];
  },

  broadcast_to: ([x], _, ctx) => {
    const idx = broadcastIndex(x!.shape, ctx.out[0]!);
    return [{ shape: ctx.out[0]!, data: Float64Array.from(idx, (i) => x!.data[i]!) }];
  },

  embedding: ([table, ids], _, ctx) => {
    const [V, D] = table!.shape as [number, number];
    const y = new Float64Array(ids!.data.length * D);
    ids!.data.forEach((id, s) => {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new InterpError(`token id ${id} outside [0, ${V})`);
      y.set(table!.data.subarray(id * D, (id + 1) * D), s * D);
    });
    return [{ shape: ctx.out[0]!, data: y }];
  },

  add: ([a, b], _, ctx) => [zipWith(a!, b!, ctx.out[0]!, (x, y) => x + y)],
  mul: ([a, b], _, ctx) => [zipWith(a!, b!, ctx.out[0]!, (x, y) => x * y)],
  neg: unary("neg"),
  exp: unary("exp"),
  sigmoid: unary("sigmoid"),
  silu: unary("silu"),
  softplus: unary("softplus"),
  relu: unary("relu"),
  gelu: unary("gelu"),

  reduce_sum: ([x], a, ctx) => {
    const outer = prod(x!.shape, 0, a.axis);
    const n = x!.shape[a.axis]!;
    const inner = prod(x!.shape, a.axis + 1);
    const y = new Float64Array(outer * inner);
    for (let o = 0; o < outer; o++)
      for (let k = 0; k < n; k++)
        for (let i = 0; i < inner; i++) y[o * inner + i]! += x!.data[(o * n + k) * inner + i]!;
    return [{ shape: ctx.out[0]!, data: y }];
  },

  softmax: ([x]) => {
    const n = x!.shape[x!.shape.length - 1]!;
    const y = new Float64Array(x!.data.length);
    for (let r = 0; r < y.length; r += n) {
      let max = -Infinity;
      for (let i = 0; i < n; i++) max = Math.max(max, x!.data[r + i]!);
      let sum = 0;
      for (let i = 0; i < n; i++) sum += y[r + i] = Math.exp(x!.data[r + i]! - max);
      for (let i = 0; i < n; i++) y[r + i]! /= sum;
    }
    return [{ shape: x!.shape, data: y }];
  },

  linear: ([x, w], _, ctx) => {
    const [out, inp] = w!.shape as [number, number];
    const rows = x!.data.length / inp;
    const y = new Float64Array(rows * out);
    for (let r = 0; r < rows; r++)
      for (let o = 0; o < out; o++) {
        let acc = 0;
        for (let i = 0; i < inp; i++) acc += x!.data[r * inp + i]! * w!.data[o * inp + i]!;
        y[r * out + o] = acc;
      }
    return [{ shape: ctx.out[0]!, data: y }];
  },

  rmsnorm: ([x, w], a) => {
    const g = a.groupSize;
    const c = w!.data.length;
    const y = new Float64Array(x!.data.length);
    for (let s = 0; s < y.length; s += g) {
      let ss = 0;
      for (let i = 0; i < g; i++) ss += x!.data[s + i]! ** 2;
      const inv = 1 / Math.sqrt(ss / g + a.eps);
      for (let i = 0; i < g; i++) y[s + i] = x!.data[s + i]! * inv * w!.data[(s + i) % c]!;
    }
    return [{ shape: x!.shape, data: y }];
  },

  layernorm: ([x, w, b], a) => {
    const c = w!.data.length;
    const y = new Float64Array(x!.data.length);
    for (let r = 0; r < y.length; r += c) {
      let mean = 0;
      for (let i = 0; i < c; i++) mean += x!.data[r + i]!;
      mean /= c;
      let v = 0;
      for (let i = 0; i < c; i++) v += (x!.data[r + i]! - mean) ** 2;
      const inv = 1 / Math.sqrt(v / c + a.eps);
      for (let i = 0; i < c; i++) y[r + i] = (x!.data[r + i]! - mean) * inv * w!.data[i]! + b!.data[i]!;
    }
    return [{ shape: x!.shape, data: y }];
  },

  // xe = cat(state, x) along time: xe[c, j] = state[c, j] for j < W, x[j - W, c] after.
  // y[t, c] = sum_k w[c, k] * xe[c, t + 1 + k]: the last W columns ending at token t, so
  // w[c, W-1] multiplies x[t]. state'[c, j] = xe[c, S + j].
  conv1d_causal: ([x, state, w]) => causalConv(x!, state!, w!, (acc) => acc),

  linear_recurrence: ([a, b, h0]) => {
    const n = h0!.data.length;
    const S = a!.shape[0]!;
    const h = Float64Array.from(h0!.data);
    const out = new Float64Array(S * n);
    for (let t = 0; t < S; t++)
      for (let i = 0; i < n; i++) out[t * n + i] = h[i] = a!.data[t * n + i]! * h[i]! + b!.data[t * n + i]!;
    return [
      { shape: a!.shape, data: out },
      { shape: h0!.shape, data: h },
    ];
  },

  rope: ([x, posT], a) => {
    const [S, H, D] = x!.shape as [number, number, number];
    const pos = scalarInt(posT!, "pos");
    const half = a.rotaryDim / 2;
    const y = Float64Array.from(x!.data);
    for (let s = 0; s < S; s++)
      for (let i = 0; i < half; i++) {
        const angle = (pos + s) * Math.pow(a.theta, (-2 * i) / a.rotaryDim);
        const cos = Math.cos(angle);
        const sin = Math.sin(angle);
        for (let h = 0; h < H; h++) {
          const base = (s * H + h) * D;
          const u = x!.data[base + i]!;
          const v = x!.data[base + i + half]!;
          y[base + i] = u * cos - v * sin;
          y[base + i + half] = v * cos + u * sin;
        }
      }
    return [{ shape: x!.shape, data: y }];
  },

  cache_write: ([cache, x, posT]) => {
    const T = cache!.shape[0]!;
    const row = prod(cache!.shape, 1);
    const S = x!.shape[0]!;
    const pos = scalarInt(posT!, "pos");
    if (pos < 0 || S > T) throw new InterpError(`cache_write of ${S} rows at ${pos} into a ring of ${T}`);
    const y = Float64Array.from(cache!.data);
    for (let s = 0; s < S; s++) y.set(x!.data.subarray(s * row, (s + 1) * row), ((pos + s) % T) * row);
    return [{ shape: cache!.shape, data: y }];
  },

  attn_scores: ([q, k], a, ctx) => {
    const [S, H, D] = q!.shape as [number, number, number];
    const [T, Hkv] = k!.shape as [number, number];
    const group = H / Hkv;
    const y = new Float64Array(S * H * T);
    for (let s = 0; s < S; s++)
      for (let h = 0; h < H; h++)
        for (let t = 0; t < T; t++) {
          let acc = 0;
          const qb = (s * H + h) * D;
          const kb = (t * Hkv + Math.floor(h / group)) * D;
          for (let d = 0; d < D; d++) acc += q!.data[qb + d]! * k!.data[kb + d]!;
          y[(s * H + h) * T + t] = acc * a.scale;
        }
    return [{ shape: ctx.out[0]!, data: y }];
  },

  attn_mask: ([sc, posT], a) => {
    const [S, H, T] = sc!.shape as [number, number, number];
    const pos = scalarInt(posT!, "pos");
    const y = Float64Array.from(sc!.data);
    // The keys the queries see must all still be in the ring (the fused attention's rule too).
    if (ringRowsNeeded(pos, S, a.window) > T) {
      throw new InterpError(`attention of ${S} tokens at ${pos}${a.window === null ? "" : ` with a window of ${a.window}`} needs ${ringRowsNeeded(pos, S, a.window)} rows of a cache of ${T}`);
    }
    const last = pos + S - 1;
    for (let s = 0; s < S; s++) {
      const qpos = pos + s;
      for (let t = 0; t < T; t++) {
        const at = ringPosition(t, last, T);
        const allowed = at >= 0 && at <= qpos && (a.window === null || at > qpos - a.window);
        if (!allowed) for (let h = 0; h < H; h++) y[(s * H + h) * T + t] = -Infinity;
      }
    }
    return [{ shape: sc!.shape, data: y }];
  },

  attn_values: ([p, v], _, ctx) => {
    const [S, H, T] = p!.shape as [number, number, number];
    const [, Hkv, D] = v!.shape as [number, number, number];
    const group = H / Hkv;
    const y = new Float64Array(S * H * D);
    for (let s = 0; s < S; s++)
      for (let h = 0; h < H; h++)
        for (let t = 0; t < T; t++) {
          const w = p!.data[(s * H + h) * T + t]!;
          const vb = (t * Hkv + Math.floor(h / group)) * D;
          for (let d = 0; d < D; d++) y[(s * H + h) * D + d]! += w * v!.data[vb + d]!;
        }
    return [{ shape: ctx.out[0]!, data: y }];
  },

  ...FUSED_KERNELS,
} satisfies { readonly [K in OpName]: Kernel<K> };
