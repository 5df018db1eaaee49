/**
 * A `linear` or `fused_linear` node taken apart into its roles (x, the weights, prologue norm,
 * biases, activation, residual), flattened into a fusion's operand list and put back together,
 * so the linear fusions (fuse-linear-epilogue, fuse-norm-prologue, fuse-activation-epilogue,
 * fuse-parallel-linears) add one part at a time to either op.
 */
import type { FusedLinearArgs, GraphBuilder } from "../ir/builder.ts";
import type { LinearActivation } from "../ir/fused-ops.ts";
import type { Node, NodeOf, ValueRef } from "../ir/graph.ts";
import { sameRef } from "./pass.ts";

export type NormPart<R> = { readonly kind: "rmsnorm"; readonly w: R; readonly eps: number; readonly group: number } | { readonly kind: "layernorm"; readonly w: R; readonly b: R; readonly eps: number };

export interface LinearParts<R = ValueRef> {
  readonly x: R;
  /** W_1..W_n, their outputs side by side (one for a plain projection). */
  readonly W: readonly R[];
  readonly norm: NormPart<R> | null;
  /** One per weight, or null. */
  readonly bias: readonly R[] | null;
  readonly activation: LinearActivation;
  readonly residual: R | null;
}

/** The parts of a linear or fused_linear node; null for any other node. */
export function linearParts(n: Node): LinearParts | null {
  if (n.op === "linear") return { x: n.inputs[0]!, W: [n.inputs[1]!], norm: null, bias: null, activation: "none", residual: null };
  if (n.op !== "fused_linear") return null;
  const f = n as NodeOf<"fused_linear">;
  const ins = f.inputs;
  const w = f.attrs.weights;
  let k = 1 + w;
  let norm: NormPart<ValueRef> | null = null;
  if (f.attrs.prologue === "rmsnorm") norm = { kind: "rmsnorm", w: ins[k++]!, eps: f.attrs.eps!, group: f.attrs.normGroup! };
  else if (f.attrs.prologue === "layernorm") norm = { kind: "layernorm", w: ins[k++]!, b: ins[k++]!, eps: f.attrs.eps! };
  const bias = f.attrs.bias ? ins.slice(k, (k += w)) : null;
  const residual = f.attrs.residual ? ins[k++]! : null;
  return { x: ins[0]!, W: ins.slice(1, 1 + w), norm, bias, activation: f.attrs.activation, residual };
}

/** Whether two prologues normalise identically (same kind, the same weight values, eps and group). */
export function sameNorm(a: NormPart<ValueRef> | null, b: NormPart<ValueRef> | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.kind === "rmsnorm") return b.kind === "rmsnorm" && sameRef(a.w, b.w) && a.eps === b.eps && a.group === b.group;
  return b.kind === "layernorm" && sameRef(a.w, b.w) && sameRef(a.b, b.b) && a.eps === b.eps;
}

/** Operands in a fixed order: x, the weights, norm weight(s), biases, residual (absent parts skipped). */
export function flatten<R>(p: LinearParts<R>): R[] {
  const out = [p.x, ...p.W];
  if (p.norm !== null) out.push(...(p.norm.kind === "layernorm" ? [p.norm.w, p.norm.b] : [p.norm.w]));
  if (p.bias !== null) out.push(...p.bias);
  if (p.residual !== null) out.push(p.residual);
  return out;
}

/** `p` with its operands replaced, in `flatten` order, by `values` (consumed from the front). */
export function refill<R, S>(p: LinearParts<R>, values: S[]): LinearParts<S> {
  const next = (): S => values.shift()!;
  const x = next();
  const W = p.W.map(next);
  const norm: NormPart<S> | null =
    p.norm === null ? null : p.norm.kind === "layernorm" ? { ...p.norm, w: next(), b: next() } : { ...p.norm, w: next() };
  const bias = p.bias === null ? null : p.bias.map(next);
  const residual = p.residual === null ? null : next();
  return { x, W, norm, bias, activation: p.activation, residual };
}

/** Emits `p` as a fused_linear (a plain linear when it has one weight and no part to fuse). */
export function emitLinear(b: GraphBuilder, p: LinearParts): ValueRef {
  if (p.W.length === 1 && p.norm === null && p.bias === null && p.activation === "none" && p.residual === null) return b.linear(p.x, p.W[0]!);
  return b.fusedLinear(linearArgs(p));
}

/** `p` as the builder's fused_linear arguments. */
export function linearArgs(p: LinearParts): FusedLinearArgs {
  return {
    x: p.x,
    W: p.W,
    ...(p.norm === null ? {} : { norm: p.norm }),
    ...(p.bias === null ? {} : { bias: p.bias }),
    activation: p.activation,
    ...(p.residual === null ? {} : { residual: p.residual }),
  };
}
