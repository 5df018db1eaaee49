/**
 * fuse-parallel-linears: projections of the same input through the same prologue become one
 * fused_linear over all their weight matrices (which stay separate checkpoint tensors). The
 * kernel reads and normalises each row once and writes the outputs side by side,
 * [..., out_1 + ... + out_n]; each old result becomes a slice of that, which the buffer plan
 * keeps as a strided view (plan/views.ts), so no copy is added. q, k and v become one kernel.
 *
 *   y_i = fused_linear(x, W_i, w, b_i) {prologue=p}    i = 1..n, n >= 2, in graph order
 *     =>  y = fused_linear(x, W_1, ..., W_n, w, b_1, ..., b_n) {weights=n, prologue=p};  y_i = slice(y, -1, o_i, out_i)
 *
 * Legal for linears / fused_linears reading the same x (the same value) with the same prologue
 * (same kind, norm weights, eps and group), all with or all without biases, and with no
 * activation and no residual: those act on the whole concatenated row or need a residual per
 * part, so a projection that has one keeps its own kernel (SwiGLU's gate and up are already one
 * op: fuse-activation-epilogue runs first). The merged op is emitted after its last operand, so
 * it is placed before every reader of the old results.
 */
import type { Graph, Node } from "../ir/graph.ts";
import { mergeSpans } from "../ir/graph.ts";
import { emitLinear, flatten, linearParts, refill, type LinearParts, type NormPart } from "./linear-parts.ts";
import { Matcher } from "./match.ts";
import type { Pass } from "./pass.ts";
import { applyFusions, placeable, type Fusion } from "./rewrite.ts";

interface Member {
  readonly node: Node;
  readonly parts: LinearParts;
}

const refKey = (r: { node: number; index: number }): string => `${r.node}#${r.index}`;

/** Members with equal keys can share one kernel: same x, same prologue, same bias presence. */
function groupKey(p: LinearParts): string | null {
  if (p.activation !== "none" || p.residual !== null) return null;
  const n: NormPart<{ node: number; index: number }> | null = p.norm;
  const norm = n === null ? "none" : n.kind === "rmsnorm" ? `rms ${refKey(n.w)} ${n.eps} ${n.group}` : `ln ${refKey(n.w)} ${refKey(n.b)} ${n.eps}`;
  return `${refKey(p.x)} | ${norm} | ${p.bias === null ? "no bias" : "bias"}`;
}

function merge(members: readonly Member[]): Fusion {
  const first = members[0]!.parts;
  const parts: LinearParts = {
    ...first,
    W: members.flatMap((m) => m.parts.W),
    bias: first.bias === null ? null : members.flatMap((m) => m.parts.bias!),
  };
  const widths = members.map((m) => m.node.results[0]!.shape.at(-1) as number);
  const axis = members[0]!.node.results[0]!.shape.length - 1; // the output features
  return {
    interior: new Set(members.map((m) => m.node.id)),
    operands: flatten(parts),
    replaces: members.map((m) => ({ node: m.node.id, index: 0 })),
    spans: mergeSpans(...members.map((m) => m.node.spans)),
    emit: (b, ops) => {
      const y = emitLinear(b, refill(parts, ops.slice()));
      let at = 0;
      return widths.map((w) => {
        const s = b.slice(y, axis, at, w);
        at += w;
        return s;
      });
    },
  };
}

function run(g: Graph): Graph {
  const m = new Matcher(g);
  const groups = new Map<string, Member[]>();
  for (const node of g.nodes) {
    const parts = linearParts(node);
    const key = parts && groupKey(parts);
    if (!key) continue;
    groups.set(key, [...(groups.get(key) ?? []), { node, parts: parts! }]);
  }
  const fusions = [...groups.values()].filter((ms) => ms.length >= 2).map(merge).filter((f) => placeable(m, f));
  return applyFusions(g, fusions);
}

export const fuseParallelLinears: Pass = {
  name: "fuse-parallel-linears",
  summary: "linears of the same input and prologue (q, k, v) -> one fused_linear over all their weights, outputs as slices",
  fusion: true,
  run,
};
