/**
 * Test graphs for the row-wise families (embedding, norms, elementwise), built with graphs.ts's
 * Maker: activations are embedding rows of random tables, optionally windows of wider rows.
 */
import type { UnaryOp } from "../../compiler/ir/ops.ts";
import type { ValueRef } from "../../compiler/ir/graph.ts";
import type { Dim } from "../../compiler/ir/types.ts";
import { Maker, OP_SPAN, type TestGraph } from "./graphs.ts";

export interface EmbeddingCase {
  readonly S: Dim;
  readonly D: number;
}

/** The embedding node itself is the node under test. */
export function embeddingGraph(c: EmbeddingCase): TestGraph {
  const m = new Maker(c.S);
  m.b.at([OP_SPAN]);
  const y = m.activation("E", c.D);
  return m.finish(y.node, [{ name: "y", value: y }]);
}

export interface NormCase {
  readonly S: Dim;
  readonly C: number;
  readonly op: "add_rmsnorm" | "rmsnorm_gated" | "rmsnorm" | "layernorm";
  readonly group?: number;
  readonly normBeforeGate?: boolean;
  /** The first operand is the unaligned window [C + 1, 2C + 1) of rows 2C + 1 wide. */
  readonly sliced?: boolean;
}

export function normGraph(c: NormCase): TestGraph {
  const m = new Maker(c.S);
  const x = c.sliced ? m.activation("x", 2 * c.C + 1, { offset: c.C + 1, size: c.C }) : m.activation("x", c.C, undefined, (r) => (c.op === "layernorm" ? 3 : 0) + r.normal());
  const w = m.weight("norm.w", [c.C], (r) => 1 + 0.1 * r.normal());
  const group = c.group ?? c.C;
  if (c.op === "add_rmsnorm") {
    const res = m.activation("res", c.C);
    m.b.at([OP_SPAN]);
    const [s, y] = m.b.addRmsnorm(res, x, w, 1e-5, group);
    return m.finish(s.node, [
      { name: "s", value: s },
      { name: "y", value: y },
    ]);
  }
  if (c.op === "rmsnorm_gated") {
    const z = m.activation("z", c.C);
    m.b.at([OP_SPAN]);
    const y = m.b.rmsnormGated(x, z, w, { eps: 1e-5, groupSize: group, normBeforeGate: c.normBeforeGate ?? false });
    return m.finish(y.node, [{ name: "y", value: y }]);
  }
  if (c.op === "rmsnorm") {
    m.b.at([OP_SPAN]);
    const y = m.b.rmsnorm(x, w, 1e-5, group);
    return m.finish(y.node, [{ name: "y", value: y }]);
  }
  const bias = m.weight("norm.b", [c.C], (r) => 0.1 * r.normal());
  m.b.at([OP_SPAN]);
  const y = m.b.layernorm(x, w, bias, 1e-5);
  return m.finish(y.node, [{ name: "y", value: y }]);
}

/** An operand of an elementwise case: an [S, C] activation reshaped to `shape` (S*C = numel), or a weight of `shape`. */
export type EwOperand = { readonly kind: "act"; readonly C: number; readonly shape?: readonly Dim[]; readonly window?: number } | { readonly kind: "weight"; readonly shape: readonly number[] };

export interface ElementwiseCase {
  readonly S: Dim;
  readonly op: UnaryOp | "add" | "mul";
  readonly a: EwOperand;
  /** The second operand; "a" for the first one again (mul(r, r)). */
  readonly b?: EwOperand | "a";
  /** Scale of the activations (softplus and exp want both tails). */
  readonly scale?: number;
}

export function elementwiseGraph(c: ElementwiseCase): TestGraph {
  const m = new Maker(c.S);
  const scale = c.scale ?? 1;
  const operand = (o: EwOperand, name: string): ValueRef => {
    if (o.kind === "weight") return m.weight(name, [...o.shape], (r) => r.normal());
    const width = o.window === undefined ? o.C : o.C + o.window + 3;
    const v = m.activation(name, width, o.window === undefined ? undefined : { offset: o.window, size: o.C }, (r) => scale * r.normal());
    // "L" in a reshape target stands for the case's S.
    return o.shape ? m.b.reshape(v, o.shape.map((d) => (d === "L" ? c.S : d))) : v;
  };
  const a = operand(c.a, "a");
  const b = c.b === "a" ? a : c.b ? operand(c.b, "b") : null;
  m.b.at([OP_SPAN]);
  const y = c.op === "add" ? m.b.add(a, b!) : c.op === "mul" ? m.b.mul(a, b!) : m.b.unary(c.op, a);
  return m.finish(y.node, [{ name: "y", value: y }]);
}

export interface ReduceCase {
  readonly S: Dim;
  /** The activation's row width and its reshape (with "L" for S). */
  readonly C: number;
  readonly shape: readonly Dim[];
  readonly axis: number;
  readonly window?: number;
}

export function reduceGraph(c: ReduceCase): TestGraph {
  const m = new Maker(c.S);
  const v = m.activation("x", c.window === undefined ? c.C : c.C + c.window + 1, c.window === undefined ? undefined : { offset: c.window, size: c.C });
  const x = m.b.reshape(v, c.shape.map((d) => (d === "L" ? c.S : d)));
  m.b.at([OP_SPAN]);
  const y = m.b.reduceSum(x, c.axis);
  return m.finish(y.node, [{ name: "y", value: y }]);
}
