/**
 * fuse-norm-prologue: an RMSNorm or LayerNorm read only by projections moves into each of them
 * as a prologue: the linear kernel recomputes the row's statistics (one pass over the row it
 * reads anyway, O(in) next to the O(in * out) product) and normalises as it loads, so the
 * normalised activation is never stored. Every reader gets its own copy of the prologue
 * (q, k and v projections; gate and up; the LM head).
 *
 *   y = rmsnorm(x, w) {groupSize=g};  linear(y, W1), ..., fused_linear(y, Wk, ...)
 *     =>  fused_linear(x, W1, w) {prologue=rmsnorm, normGroup=g}, ..., fused_linear(x, Wk, w, ...) {prologue=rmsnorm, ...}
 *   y = layernorm(x, w, b);  linear(y, W)  =>  fused_linear(x, W, w, b) {prologue=layernorm}
 *
 * Legal when every reader of the norm reads it as the x of a linear / fused_linear without a
 * prologue (not as its weight or residual, not as a graph output). Grouped RMSNorms (Mamba-2's
 * gated norm over norm_group channels, left by fuse-ssd when a group spans several heads) are
 * legal too: a linear reads whole rows, so it sees every group.
 */
import type { Graph, Node, ValueRef } from "../ir/graph.ts";
import { mergeSpans } from "../ir/graph.ts";
import { emitLinear, flatten, linearParts, refill, type LinearParts, type NormPart } from "./linear-parts.ts";
import { type Matcher } from "./match.ts";
import type { Pass } from "./pass.ts";
import { fuseEach, type Fusion } from "./rewrite.ts";

function matchPrologue(m: Matcher, norm: Node): Fusion | null {
  if (norm.op !== "rmsnorm" && norm.op !== "layernorm") return null;
  const y: ValueRef = { node: norm.id, index: 0 };
  const users = [...new Set(m.usersOf(y))];
  if (users.length === 0 || users.some((u) => u < 0)) return null;
  const readers = users.map((u) => m.g.nodes[u]!);
  const parts = readers.map(linearParts);
  const onlyAsX = (n: Node, p: LinearParts | null): boolean =>
    p !== null && p.norm === null && n.inputs.every((r, i) => (i === 0) === (r.node === norm.id && r.index === 0));
  if (!readers.every((n, i) => onlyAsX(n, parts[i]!))) return null;

  const x = norm.inputs[0]!;
  const prologue: NormPart<ValueRef> =
    norm.op === "rmsnorm" ? { kind: "rmsnorm", w: norm.inputs[1]!, eps: norm.attrs.eps, group: norm.attrs.groupSize } : { kind: "layernorm", w: norm.inputs[1]!, b: norm.inputs[2]!, eps: norm.attrs.eps };
  const fused = parts.map((p) => ({ ...p!, x, norm: prologue }));
  return {
    interior: new Set([norm.id, ...users]),
    operands: fused.flatMap(flatten),
    replaces: readers.map((n) => ({ node: n.id, index: 0 })),
    spans: mergeSpans(norm.spans, ...readers.map((n) => n.spans)),
    emit: (b, ops) => {
      const rest = ops.slice();
      return fused.map((p) => emitLinear(b, refill(p, rest)));
    },
  };
}

function run(g: Graph): Graph {
  return fuseEach(g, null, matchPrologue);
}

export const fuseNormPrologue: Pass = {
  name: "fuse-norm-prologue",
  summary: "rmsnorm / layernorm read only by linears -> fused_linear prologue in each",
  fusion: true,
  run,
};
