/**
 * fuse-add-norm: a residual add followed by an RMSNorm of the sum becomes one op with two
 * results, the new residual stream and its normalised value, so the sum is read back from
 * registers instead of from memory (mamba_ssm's fused add + norm, Block's residual_in_fp32 path).
 *
 *   s = add(a, b);  y = rmsnorm(s, w)     =>  (s, y) = add_rmsnorm(a, b, w)
 *
 * a and b have the sum's shape (no broadcasting: a bias add is not a residual add). The sum may
 * have other readers; they read result 0. In the pipeline this runs after fuse-linear-epilogue,
 * so it only sees the adds that could not go into a linear's epilogue.
 */
import type { Graph, Node, NodeOf, ValueRef } from "../ir/graph.ts";
import { mergeSpans } from "../ir/graph.ts";
import { shapeEq } from "../ir/types.ts";
import { type Matcher } from "./match.ts";
import type { Pass } from "./pass.ts";
import { fuseEach, type Fusion } from "./rewrite.ts";

function matchAddNorm(m: Matcher, add: Node): Fusion | null {
  const type = (r: ValueRef) => m.g.nodes[r.node]!.results[r.index]!;
  const s: ValueRef = { node: add.id, index: 0 };
  const [a, b] = add.inputs as [ValueRef, ValueRef];
  if (!shapeEq(type(a).shape, type(s).shape) || !shapeEq(type(b).shape, type(s).shape)) return null;
  const norm = m
    .usersOf(s)
    .map((u) => (u < 0 ? null : m.g.nodes[u]!))
    .find((n): n is NodeOf<"rmsnorm"> => n?.op === "rmsnorm" && n.inputs[0]!.node === add.id);
  if (norm === undefined) return null;
  const { eps, groupSize } = norm.attrs;
  return {
    interior: new Set([add.id, norm.id]),
    operands: [a, b, norm.inputs[1]!],
    replaces: [s, { node: norm.id, index: 0 }],
    spans: mergeSpans(add.spans, norm.spans),
    emit: (bld, [a, b, w]) => bld.addRmsnorm(a!, b!, w!, eps, groupSize),
  };
}

function run(g: Graph): Graph {
  return fuseEach(g, "add", matchAddNorm);
}

export const fuseAddNorm: Pass = {
  name: "fuse-add-norm",
  summary: "residual add + rmsnorm -> add_rmsnorm (sum and normed value)",
  fusion: true,
  run,
};
