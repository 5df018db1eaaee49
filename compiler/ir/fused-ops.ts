/**
 * The fused ops of the Mamba, norm and linear families (passes/fuse-*.ts create them). Each has
 * an unfused equivalent in the primitive ops, documented in its pass, and an interp kernel
 * written from the equations of reference/semantics.md (interp/mamba.ts, interp/norms.ts).
 * ops.ts spreads this table into OPS, so an entry here is an op like any other.
 *
 * Optional inputs: an op whose attrs switch an input on or off has `arity` as a function of
 * its attrs; the inputs always come in the order listed in its doc, the absent ones skipped.
 */
import type { OpDef } from "./ops.ts";
import {
  expectDim,
  expectFloat,
  expectInt,
  expectMinRank,
  expectPositive,
  expectRank,
  expectSameDtype,
  computed,
  expectShape,
  expectStaticDim,
  fail,
} from "./shape.ts";
import { shapeEq, shapeToString, type Dim, type Shape, type TensorType } from "./types.ts";

/** How a fused SSD op finishes y (after the D skip), per (token, head). */
export type SsdEpilogue =
  /** y */
  | "none"
  /** y * silu(z) */
  | "gate"
  /** rmsnorm(y * silu(z)) * w per group of normGroup channels: norm_before_gate = false (Mamba-2) */
  | "gate_norm"
  /** rmsnorm(y) * w * silu(z): norm_before_gate = true */
  | "norm_gate";

export interface SsdAttrs {
  readonly epilogue: SsdEpilogue;
  /** Channels per norm group (divides headdim: the norm never leaves a head); null without a norm. */
  readonly normGroup: number | null;
  /** Norm epsilon; null without a norm. */
  readonly eps: number | null;
}

export interface FusedOpAttrs {
  /** innerNormEps: Jamba's RMSNorms of dt, B and C done inside the scan (their eps), or null. */
  selective_scan: { readonly innerNormEps: number | null };
  selective_state_update: { readonly innerNormEps: number | null };
  conv1d_silu: { readonly bias: boolean };
  conv1d_silu_update: { readonly bias: boolean };
  /** chunk: the SSD block length (the spec's `chunk`); it does not change the result. */
  ssd: SsdAttrs & { readonly chunk: number };
  ssd_state_update: SsdAttrs;
  rmsnorm_gated: { readonly eps: number; readonly groupSize: number; readonly normBeforeGate: boolean };
  add_rmsnorm: { readonly eps: number; readonly groupSize: number };
  /**
   * weights: how many weight matrices W_1..W_n (n >= 1) read the same normalised row, their
   * outputs side by side along the last axis; eps: the prologue norm's; normGroup: rmsnorm's
   * group size (the whole row for layernorm), both null when prologue is none; bias: one bias
   * per weight; activation: after the biases, before the residual.
   */
  fused_linear: {
    readonly weights: number;
    readonly prologue: "none" | "rmsnorm" | "layernorm";
    readonly eps: number | null;
    readonly normGroup: number | null;
    readonly bias: boolean;
    readonly activation: LinearActivation;
    readonly residual: boolean;
  };
  /**
   * Decode only (one row): a fused_linear without activation or residual whose output columns
   * [convStart, convStart + convWidth) go through the depthwise causal conv step and SiLU of
   * conv1d_silu_update (its state shifted by the new column values) before they are stored.
   * Mamba's in_proj followed by its conv: one kernel, the raw columns never stored.
   */
  linear_conv_update: FusedOpAttrs["fused_linear"] & { readonly convStart: number; readonly convWidth: number; readonly convBias: boolean };
}

/**
 * The activation in a fused_linear's epilogue, applied to z = [z_1 | ... | z_n] (z_i = x W_i^T + b_i):
 * gelu(z) (exact erf), relu(z)^2, or swiglu: silu(z_1) * z_2 over two equal halves (n = 2).
 */
export type LinearActivation = "none" | "gelu" | "relu2" | "swiglu";

/** The output width of a fused_linear whose weights have these out_features. */
function activatedWidth(activation: unknown, outs: readonly number[]): number {
  switch (activation) {
    case "none":
    case "gelu":
    case "relu2":
      return outs.reduce((s, o) => s + o, 0);
    case "swiglu":
      if (outs.length !== 2 || outs[0] !== outs[1]) fail(`swiglu takes two weights with equal out_features, got [${outs.join(", ")}]`);
      return outs[0]!;
    default:
      return fail(`unknown activation ${String(activation)}`);
  }
}

type FusedOp = keyof FusedOpAttrs;

function dims2(t: TensorType, what: string): [Dim, Dim] {
  expectRank(t, 2, what);
  return t.shape as unknown as [Dim, Dim];
}

function dims3(t: TensorType, what: string): [Dim, Dim, Dim] {
  expectRank(t, 3, what);
  return t.shape as unknown as [Dim, Dim, Dim];
}

function channels(t: TensorType, what: string): number {
  expectMinRank(t, 1, what);
  return expectStaticDim(t.shape[t.shape.length - 1], `last dim of ${what}`);
}

function groupOf(c: number, groupSize: unknown): number {
  const g = expectInt(groupSize, 1, "groupSize");
  if (c % g !== 0) fail(`groupSize ${g} does not divide ${c}`);
  return g;
}

function sameAs(x: TensorType, others: readonly (readonly [TensorType | undefined, string])[]): void {
  expectFloat(x, "x");
  for (const [t, what] of others) expectSameDtype(x, t!, what);
}

/** selective_scan's type rule (also its chunk-parallel phases', chunk-ops.ts). */
export function selectiveScanInfer(ins: readonly TensorType[], a: { readonly innerNormEps: number | null }, step: boolean): TensorType[] {
  const [u, dt, W, Alog, B, C, D, z, bias, h0, wdt, wb, wc] = ins;
  sameAs(u!, [[dt, "dt"], [W, "dt_proj_w"], [Alog, "A_log"], [B, "B"], [C, "C"], [D, "D"], [z, "z"], [bias, "delta_bias"], [h0, "h0"]]);
  const [S, di] = dims2(u!, "u");
  const [, n] = dims2(Alog!, "A_log");
  const [, r] = dims2(dt!, "dt");
  if (step) expectDim(S, 1, "selective_state_update sequence length");
  expectShape(dt!, [S, r], "dt");
  expectShape(W!, [di, r], "dt_proj_w");
  expectShape(Alog!, [di, n], "A_log");
  expectShape(z!, [S, di], "z");
  expectShape(B!, [S, n], "B");
  expectShape(C!, [S, n], "C");
  expectShape(D!, [di], "D");
  expectShape(bias!, [di], "delta_bias");
  expectShape(h0!, [di, n], "h0");
  if (a.innerNormEps !== null) {
    expectPositive(a.innerNormEps, "innerNormEps");
    expectShape(wdt!, [r], "dt norm weight");
    expectShape(wb!, [n], "B norm weight");
    expectShape(wc!, [n], "C norm weight");
  }
  return [u!, h0!];
}

/**
 * Mamba-1 scan with dt_proj, A = -exp(A_log) and (optionally) the inner norms folded in.
 * Inputs (u, dt, dt_proj_w, A_log, B, C, D, z, delta_bias, h0 [, dt_norm_w, B_norm_w, C_norm_w]).
 */
function selectiveScan<K extends "selective_scan" | "selective_state_update">(doc: string, step: boolean): OpDef<K> {
  return {
    kind: "sequence",
    arity: (a) => (a.innerNormEps === null ? 10 : 13),
    attrs: ["innerNormEps"],
    doc,
    infer: (ins, a) => selectiveScanInfer(ins, a, step),
  };
}

/** Inputs (x, state, w [, bias]): depthwise causal conv (conv1d_causal) + bias, then SiLU. */
function convSilu<K extends "conv1d_silu" | "conv1d_silu_update">(doc: string, step: boolean): OpDef<K> {
  return {
    kind: "sequence",
    arity: (a) => (a.bias ? 4 : 3),
    attrs: ["bias"],
    doc,
    infer: ([x, state, w, bias], a) => {
      sameAs(x!, [[state, "conv state"], [w, "conv weight"]]);
      const [S, c] = dims2(x!, "x");
      if (step) expectDim(S, 1, "conv1d_silu_update sequence length");
      const width = expectStaticDim(dims2(w!, "weight")[1], "kernel width");
      expectShape(w!, [c, width], "conv weight");
      expectShape(state!, [c, width], "conv state");
      if (a.bias) {
        expectSameDtype(x!, bias!, "conv bias");
        expectShape(bias!, [c], "conv bias");
      }
      return [x!, state!];
    },
  };
}

/** fused_linear's inputs: x, W_1..W_n, the prologue's norm weight (and bias), the biases, the residual. */
function linearArity(a: FusedOpAttrs["fused_linear"]): number {
  return 1 + a.weights + (a.prologue === "rmsnorm" ? 1 : a.prologue === "layernorm" ? 2 : 0) + (a.bias ? a.weights : 0) + (a.residual ? 1 : 0);
}

/** fused_linear's type rule (also linear_conv_update's, over its first inputs). */
function linearInfer(ins: readonly TensorType[], a: FusedOpAttrs["fused_linear"]): TensorType[] {
  const n = expectInt(a.weights, 1, "weights");
  const x = ins[0]!;
  expectFloat(x, "x");
  const inp = channels(x, "x");
  const outs = ins.slice(1, 1 + n).map((W, i) => {
    expectSameDtype(x, W, "linear");
    const o = expectStaticDim(dims2(W, `weight ${i}`)[0], "out_features");
    expectShape(W, [o, inp], `weight ${i}`);
    return o;
  });
  const out: Shape = [...x.shape.slice(0, -1), activatedWidth(a.activation, outs)];
  let k = 1 + n;
  const next = (what: string, shape: Shape): void => {
    const t = ins[k++]!;
    expectSameDtype(x, t, what);
    expectShape(t, shape, what);
  };
  if (a.prologue === "none") {
    if (a.eps !== null || a.normGroup !== null) fail("prologue none takes eps = normGroup = none");
  } else if (a.prologue === "rmsnorm" || a.prologue === "layernorm") {
    expectPositive(a.eps, "eps");
    groupOf(inp, a.normGroup);
    if (a.prologue === "layernorm" && a.normGroup !== inp) fail(`layernorm normalises the whole row: normGroup must be ${inp}`);
    next("norm weight", [inp]);
    if (a.prologue === "layernorm") next("norm bias", [inp]);
  } else fail(`unknown prologue ${String(a.prologue)}`);
  if (a.bias) outs.forEach((o, i) => next(`bias ${i}`, [o]));
  if (a.residual) next("residual", out);
  return [computed(x, out)];
}

/** ssd's type rule (also its chunk-parallel phases', chunk-ops.ts). */
export function ssdInfer(ins: readonly TensorType[], a: SsdAttrs & { readonly chunk?: number }, step: boolean): TensorType[] {
  const [x, dt, Alog, B, C, D, dtBias, h0, z, w] = ins;
  sameAs(x!, [[dt, "dt"], [Alog, "A_log"], [B, "B"], [C, "C"], [D, "D"], [dtBias, "dt_bias"], [h0, "h0"]]);
  const [S, hd, pd] = dims3(x!, "x");
  const H = expectStaticDim(hd, "heads");
  const P = expectStaticDim(pd, "headdim");
  const [, gd, nd] = dims3(B!, "B");
  const G = expectStaticDim(gd, "groups");
  const N = expectStaticDim(nd, "d_state");
  if (G < 1 || H % G !== 0) fail(`groups ${G} do not divide heads ${H}`);
  if (step) expectDim(S, 1, "ssd_state_update sequence length");
  else expectInt((a as { chunk?: unknown }).chunk, 1, "chunk");
  expectShape(dt!, [S, H], "dt");
  expectShape(C!, [S, G, N], "C");
  for (const [t, what] of [[Alog, "A_log"], [D, "D"], [dtBias, "dt_bias"]] as const) expectShape(t!, [H], what);
  expectShape(h0!, [H, P, N], "h0");
  const norm = a.epilogue === "gate_norm" || a.epilogue === "norm_gate";
  if (a.epilogue !== "none" && a.epilogue !== "gate" && !norm) fail(`unknown epilogue ${String(a.epilogue)}`);
  if (a.epilogue !== "none") {
    expectSameDtype(x!, z!, "z");
    expectShape(z!, x!.shape, "z");
  }
  if (norm) {
    expectSameDtype(x!, w!, "norm weight");
    expectShape(w!, [H, P], "norm weight");
    groupOf(P, a.normGroup);
    expectPositive(a.eps, "eps");
  } else if (a.normGroup !== null || a.eps !== null) fail(`epilogue ${a.epilogue} takes normGroup = eps = none`);
  return [x!, h0!];
}

/**
 * Inputs (x, dt, A_log, B, C, D, dt_bias, h0 [, z [, norm_w]]): z with a gate, norm_w [H, P]
 * with a norm. Head h reads group h / (H/G).
 */
function ssd<K extends "ssd" | "ssd_state_update">(doc: string, step: boolean): OpDef<K> {
  return {
    kind: "sequence",
    arity: (a) => 8 + (a.epilogue === "none" ? 0 : a.epilogue === "gate" ? 1 : 2),
    attrs: (step ? ["epilogue", "normGroup", "eps"] : ["chunk", "epilogue", "normGroup", "eps"]) as OpDef<K>["attrs"],
    doc,
    infer: (ins, a) => ssdInfer(ins, a, step),
  };
}

const FUSED_OPS_TABLE = {
  selective_scan: selectiveScan(
    "Mamba-1 scan: delta = softplus(dt_proj_w dt_t + delta_bias) per channel, A = -exp(A_log); " +
      "h_t = exp(delta A) h_{t-1} + (delta u_t) B_t, h_{-1} = h0; y_t = (h_t C_t + D u_t) * silu(z_t); " +
      "with innerNormEps, dt_t, B_t, C_t are RMS-normed first;  u, z [S, Di], dt [S, R], dt_proj_w [Di, R], " +
      "A_log, h0 [Di, N], B, C [S, N], D, delta_bias [Di] -> (y [S, Di], h_{S-1})",
    false,
  ),
  selective_state_update: selectiveScan("one step of selective_scan (S = 1): the Mamba-1 decode update", true),
  conv1d_silu: convSilu(
    "y = silu(conv1d_causal(x, state, w) + bias), state' = the last W inputs (as conv1d_causal);  " +
      "x [S, C], state, w [C, W], bias [C] -> (y [S, C], state' [C, W])",
    false,
  ),
  conv1d_silu_update: convSilu("conv1d_silu of one token (S = 1): shift it into the state, the decode form", true),
  ssd: ssd(
    "Mamba-2 SSD over the sequence (the block form below, by chunks of `chunk` tokens, equals the token-by-token recurrence; " +
      "the kernel's schedule picks either): dt = softplus(dt + dt_bias), a = dt * -exp(A_log), S_t = in-chunk cumsum a; " +
      "y_t = sum_{s<=t in chunk} exp(S_t-S_s) (C_t.B_s) dt_s x_s + exp(S_t) C_t.h_in + D x_t, " +
      "h_out = exp(S_last) h_in + sum_s exp(S_last-S_s) dt_s x_s B_s^T, then the epilogue;  " +
      "x, z [S, H, P], dt [S, H], B, C [S, G, N], A_log, D, dt_bias [H], h0 [H, P, N], norm_w [H, P] -> (y [S, H, P], h [H, P, N])",
    false,
  ),
  ssd_state_update: ssd(
    "one Mamba-2 step (S = 1): h' = exp(dt A) h + dt x B^T, y = h' C + D x, then the epilogue",
    true,
  ),
  rmsnorm_gated: {
    kind: "norm",
    arity: 3,
    attrs: ["eps", "groupSize", "normBeforeGate"],
    doc:
      "gated RMSNorm: normBeforeGate ? rmsnorm(x) * w * silu(z) : rmsnorm(x * silu(z)) * w, per group of groupSize channels;  " +
      "x, z [..., C], w [C]",
    infer: ([x, z, w], a) => {
      sameAs(x!, [[z, "z"], [w, "weight"]]);
      const c = channels(x!, "x");
      expectShape(z!, x!.shape, "z");
      expectShape(w!, [c], "weight");
      expectPositive(a.eps, "eps");
      groupOf(c, a.groupSize);
      if (typeof a.normBeforeGate !== "boolean") fail("normBeforeGate must be a boolean");
      return [x!];
    },
  },
  add_rmsnorm: {
    kind: "norm",
    arity: 3,
    attrs: ["eps", "groupSize"],
    doc: "s = a + b, y = rmsnorm(s) * w (groups of groupSize);  a, b [..., C], w [C] -> (s, y)",
    infer: ([x, y, w], a) => {
      sameAs(x!, [[y, "b"], [w, "weight"]]);
      const c = channels(x!, "a");
      if (!shapeEq(x!.shape, y!.shape)) fail(`add_rmsnorm operands differ: ${shapeToString(x!.shape)} vs ${shapeToString(y!.shape)}`);
      expectShape(w!, [c], "weight");
      expectPositive(a.eps, "eps");
      groupOf(c, a.groupSize);
      return [x!, x!];
    },
  },
  fused_linear: {
    kind: "contraction",
    arity: linearArity,
    attrs: ["weights", "prologue", "eps", "normGroup", "bias", "activation", "residual"],
    doc:
      "y = act([z_1 | ... | z_n]) + residual, z_i = norm(x) W_i^T + bias_i, norm = the prologue (rmsnorm per group of normGroup " +
      "channels, or layernorm over the row, recomputed from the row by the kernel) or none, act = none | gelu | relu2 (relu^2) | " +
      "swiglu (silu(z_1) * z_2, n = 2);  inputs (x [..., in], W_1..W_n [out_i, in] [, norm_w [in] [, norm_b [in]]] " +
      "[, bias_1..bias_n [out_i]] [, residual [..., out]]) -> [..., out], out = sum out_i (swiglu: out_1)",
    infer: linearInfer,
  },
  linear_conv_update: {
    kind: "contraction",
    arity: (a) => linearArity(a) + (a.convBias ? 3 : 2),
    attrs: ["weights", "prologue", "eps", "normGroup", "bias", "activation", "residual", "convStart", "convWidth", "convBias"],
    doc:
      "(y, state') with y = fused_linear(x, ...) {activation = none, residual = false} for one row, except that its columns " +
      "[convStart, convStart + convWidth) hold silu(conv1d_silu_update of them: sum_k w[c, k] * [state[c, 1:] | z[c]][k] + bias[c]) " +
      "and state' = [state[c, 1:] | z[c]];  inputs (fused_linear's inputs, conv state [C, W], conv w [C, W] [, conv bias [C]]) -> (y, state')",
    infer: (ins, a) => {
      if (a.activation !== "none" || a.residual) fail("linear_conv_update takes activation = none and residual = false");
      const n = linearArity(a);
      const [y] = linearInfer(ins.slice(0, n), a);
      const [S, out] = dims2(y!, "y");
      expectDim(S, 1, "linear_conv_update sequence length");
      const C = expectInt(a.convWidth, 1, "convWidth");
      const start = expectInt(a.convStart, 0, "convStart");
      if (start + C > expectStaticDim(out, "output width")) fail(`conv columns [${start}, ${start + C}) do not fit the output width ${String(out)}`);
      const [state, w, bias] = ins.slice(n);
      const width = expectStaticDim(dims2(w!, "conv weight")[1], "kernel width");
      expectShape(w!, [C, width], "conv weight");
      expectShape(state!, [C, width], "conv state");
      expectSameDtype(y!, state!, "conv state");
      expectSameDtype(y!, w!, "conv weight");
      if (a.convBias) {
        expectSameDtype(y!, bias!, "conv bias");
        expectShape(bias!, [C], "conv bias");
      }
      return [y!, state!];
    },
  },
} as const satisfies { readonly [K in FusedOp]: OpDef<K> };

export const FUSED_OPS: { readonly [K in FusedOp]: OpDef<K> } = FUSED_OPS_TABLE;
