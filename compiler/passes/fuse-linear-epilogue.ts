/**
 * fuse-linear-epilogue: a bias add and a residual add after a projection run in the linear
 * kernel's epilogue (each output element gets `+ bias[o] + residual[r, o]` as it is written),
 * so `out_proj(y) + h` is one kernel and the projection's output is never stored alone.
 *
 *   add(linear(x, W), bias [out])              =>  fused_linear(x, W, bias) {bias=true}
 *   add(linear(x, W), r [..., out])            =>  fused_linear(x, W, r) {residual=true}
 *   add(fused_linear(...), bias | r)           =>  the same fused_linear with the part added
 *
 * Legal when the linear's result is read only by the add (otherwise the plain product is still
 * needed and the add stays: fuse-add-norm may take it). A bias is folded only before any
 * residual and activation, and only into a one-weight linear, so the kernel adds in the
 * primitive order (act(x W^T + bias) + r). Runs to a fixpoint,
 * so `add(add(linear, bias), h)` becomes one op in one run of the pass.
 */
import type { Graph, Node, ValueRef } from "../ir/graph.ts";
import { mergeSpans } from "../ir/graph.ts";
import { shapeEq, type TensorType } from "../ir/types.ts";
import { emitLinear, flatten, linearParts, refill, type LinearParts } from "./linear-parts.ts";
import { commuted, type Matcher } from "./match.ts";
import type { Pass } from "./pass.ts";
import { fuseEach, type Fusion } from "./rewrite.ts";

function matchEpilogue(m: Matcher, add: Node): Fusion | null {
  const type = (r: ValueRef): TensorType => m.g.nodes[r.node]!.results[r.index]!;
  const sum = type({ node: add.id, index: 0 });
  const hit = commuted(add, (y, r) => {
    if (m.usersOf(y).length !== 1 || y.index !== 0) return null;
    const lin = m.g.nodes[y.node]!;
    const parts = linearParts(lin);
    if (parts === null || parts.residual !== null || !shapeEq(type(y).shape, sum.shape)) return null;
    const out = type(y).shape.at(-1)!;
    const plain = parts.bias === null && parts.W.length === 1 && parts.activation === "none"; // a bias goes before the activation
    if (plain && shapeEq(type(r).shape, [out])) return { lin, parts: { ...parts, bias: [r] } };
    if (shapeEq(type(r).shape, sum.shape)) return { lin, parts: { ...parts, residual: r } };
    return null;
  });
  if (!hit) return null;
  const parts: LinearParts = hit.parts;
  return {
    interior: new Set([hit.lin.id, add.id]),
    operands: flatten(parts),
    replaces: [{ node: add.id, index: 0 }],
    spans: mergeSpans(hit.lin.spans, add.spans),
    emit: (b, ops) => [emitLinear(b, refill(parts, ops.slice()))],
  };
}

function once(g: Graph): Graph {
  return fuseEach(g, "add", matchEpilogue);
}

function run(g: Graph): Graph {
  for (;;) {
    const next = once(g);
    if (next === g) return g;
    g = next;
  }
}

export const fuseLinearEpilogue: Pass = {
  name: "fuse-linear-epilogue",
  summary: "bias and residual adds after a linear -> fused_linear epilogue",
  fusion: true,
  run,
};
