/**
 * A `linear` or `fused_linear` node taken apart into its roles (x, W, prologue norm, bias,
 * residual), flattened into a fusion's operand list and put back together, so the linear
 * fusions (fuse-linear-epilogue, fuse-norm-prologue) add one part at a time to either op.
 */
import type { GraphBuilder } from "../ir/builder.ts";
import type { Node, NodeOf, ValueRef } from "../ir/graph.ts";

export type NormPart<R> = { readonly kind: "rmsnorm"; readonly w: R; readonly eps: number; readonly group: number } | { readonly kind: "layernorm"; readonly w: R; readonly b: R; readonly eps: number };

export interface LinearParts<R = ValueRef> {
  readonly x: R;
  readonly W: R;
  readonly norm: NormPart<R> | null;
  readonly bias: R | null;
  readonly residual: R | null;
}

/** The parts of a linear or fused_linear node; null for any other node. */
export function linearParts(n: Node): LinearParts | null {
  if (n.op === "linear") return { x: n.inputs[0]!, W: n.inputs[1]!, norm: null, bias: null, residual: null };
  if (n.op !== "fused_linear") return null;
  const f = n as NodeOf<"fused_linear">;
  const ins = f.inputs;
  let k = 2;
  let norm: NormPart<ValueRef> | null = null;
  if (f.attrs.prologue === "rmsnorm") norm = { kind: "rmsnorm", w: ins[k++]!, eps: f.attrs.eps!, group: f.attrs.normGroup! };
  else if (f.attrs.prologue === "layernorm") norm = { kind: "layernorm", w: ins[k++]!, b: ins[k++]!, eps: f.attrs.eps! };
  const bias = f.attrs.bias ? ins[k++]! : null;
  const residual = f.attrs.residual ? ins[k++]! : null;
  return { x: ins[0]!, W: ins[1]!, norm, bias, residual };
}

/** Operands in a fixed order: x, W, norm weight(s), bias, residual (absent parts skipped). */
export function flatten<R>(p: LinearParts<R>): R[] {
  const out = [p.x, p.W];
  if (p.norm !== null) out.push(...(p.norm.kind === "layernorm" ? [p.norm.w, p.norm.b] : [p.norm.w]));
  if (p.bias !== null) out.push(p.bias);
  if (p.residual !== null) out.push(p.residual);
  return out;
}

/** `p` with its operands replaced, in `flatten` order, by `values` (consumed from the front). */
export function refill<R, S>(p: LinearParts<R>, values: S[]): LinearParts<S> {
  const next = (): S => values.shift()!;
  const x = next();
  const W = next();
  const norm: NormPart<S> | null =
    p.norm === null ? null : p.norm.kind === "layernorm" ? { ...p.norm, w: next(), b: next() } : { ...p.norm, w: next() };
  const bias = p.bias === null ? null : next();
  const residual = p.residual === null ? null : next();
  return { x, W, norm, bias, residual };
}

/** Emits `p` as a fused_linear (a plain linear when it has no part to fuse). */
export function emitLinear(b: GraphBuilder, p: LinearParts): ValueRef {
  if (p.norm === null && p.bias === null && p.residual === null) return b.linear(p.x, p.W);
  return b.fusedLinear({
    x: p.x,
    W: p.W,
    ...(p.norm === null ? {} : { norm: p.norm }),
    ...(p.bias === null ? {} : { bias: p.bias }),
    ...(p.residual === null ? {} : { residual: p.residual }),
  });
}
