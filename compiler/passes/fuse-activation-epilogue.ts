/**
 * fuse-activation-epilogue: the MLP activation after a projection runs in that projection's
 * epilogue, so the pre-activation values are never stored. For SwiGLU the gate and up
 * projections become one kernel over both weights that writes hidden values, not 2 * hidden:
 * out[:, j] = silu(gate_j) * up_j.
 *
 *   mul(silu(lin(x, Wg, ..., bg)), lin(x, Wu, ..., bu))   =>  fused_linear(x, Wg, Wu, ..., bg, bu) {weights=2, activation=swiglu}
 *   gelu(lin(x, W, ...))                                  =>  fused_linear(x, W, ...) {activation=gelu}
 *   mul(r, r),  r = relu(lin(x, W, ...))                  =>  fused_linear(x, W, ...) {activation=relu2}
 *
 * `lin` is a linear or a fused_linear with no activation and no residual (those come after the
 * activation in the kernel's order), whose result is read only by the pattern, as is every
 * intermediate. For SwiGLU the two projections are one-weight, distinct, read the same x through
 * the same prologue (same norm weights, eps, group), both or neither have a bias, and have equal
 * widths. Biases stay before the activation: fuse-linear-epilogue has folded them already.
 */
import type { Graph, Node, ValueRef } from "../ir/graph.ts";
import { mergeSpans } from "../ir/graph.ts";
import type { LinearActivation } from "../ir/fused-ops.ts";
import { typeEq, type TensorType } from "../ir/types.ts";
import { emitLinear, flatten, linearParts, refill, sameNorm, type LinearParts } from "./linear-parts.ts";
import { commuted, type Matcher } from "./match.ts";
import { sameRef, type Pass } from "./pass.ts";
import { fuseEach, type Fusion } from "./rewrite.ts";

interface Lin {
  readonly node: Node;
  readonly parts: LinearParts;
}

/** The linear producing `r` when it is its result 0, read only once, with no activation or residual yet. */
function linOf(m: Matcher, r: ValueRef): Lin | null {
  if (r.index !== 0 || m.usersOf(r).length !== 1) return null;
  const node = m.g.nodes[r.node]!;
  const parts = linearParts(node);
  return parts !== null && parts.activation === "none" && parts.residual === null ? { node, parts } : null;
}

/** silu(gate) * up with gate and up two compatible one-weight projections of the same row. */
function swiglu(m: Matcher, mul: Node): { interior: Node[]; parts: LinearParts } | null {
  return commuted(mul, (s, u) => {
    const silu = m.sole(s, "silu");
    const gate = silu && linOf(m, silu.inputs[0]!);
    const up = linOf(m, u);
    if (!silu || !gate || !up || gate.node.id === up.node.id) return null;
    const [g, p] = [gate.parts, up.parts];
    if (g.W.length !== 1 || p.W.length !== 1 || !sameRef(g.x, p.x) || !sameNorm(g.norm, p.norm) || (g.bias === null) !== (p.bias === null)) return null;
    const type = (n: Node): TensorType => n.results[0]!;
    if (!typeEq(type(gate.node), type(up.node)) || !typeEq(type(gate.node), type(mul))) return null;
    const bias = g.bias === null ? null : [...g.bias, ...p.bias!];
    return { interior: [gate.node, silu, up.node], parts: { ...g, W: [...g.W, ...p.W], bias, activation: "swiglu" as const } };
  });
}

/** act(lin(...)) for a one-operand activation: gelu(lin), or relu(lin) squared as mul(r, r). */
function unaryAct(m: Matcher, n: Node): { interior: Node[]; parts: LinearParts } | null {
  const one = (act: LinearActivation, r: ValueRef, inner: Node[]) => {
    const lin = linOf(m, r);
    return lin && { interior: [lin.node, ...inner], parts: { ...lin.parts, activation: act } };
  };
  if (n.op === "gelu") return one("gelu", n.inputs[0]!, []);
  if (n.op !== "mul" || !sameRef(n.inputs[0]!, n.inputs[1]!)) return null;
  const r = n.inputs[0]!;
  const relu = m.producer(r, "relu");
  if (!relu || m.usersOf(r).length !== 2) return null; // both reads are this mul's
  return one("relu2", relu.inputs[0]!, [relu]);
}

function matchActivation(m: Matcher, n: Node): Fusion | null {
  const hit = n.op === "mul" ? (swiglu(m, n) ?? unaryAct(m, n)) : n.op === "gelu" ? unaryAct(m, n) : null;
  if (!hit) return null;
  const interior = [...hit.interior, n];
  const parts = hit.parts;
  return {
    interior: new Set(interior.map((k) => k.id)),
    operands: flatten(parts),
    replaces: [{ node: n.id, index: 0 }],
    spans: mergeSpans(...interior.map((k) => k.spans)),
    emit: (b, ops) => [emitLinear(b, refill(parts, ops.slice()))],
  };
}

function run(g: Graph): Graph {
  return fuseEach(g, null, matchActivation);
}

export const fuseActivationEpilogue: Pass = {
  name: "fuse-activation-epilogue",
  summary: "silu(gate) * up, gelu, relu^2 after linears -> fused_linear activation epilogue (SwiGLU: one kernel over gate and up)",
  fusion: true,
  run,
};
