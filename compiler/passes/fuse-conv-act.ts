/**
 * fuse-conv-act: the depthwise causal conv, its bias and the SiLU after it become one op, so
 * the pre-activation [S, C] tensor is never stored. Prefill gets `conv1d_silu`; a graph whose
 * sequence dim is 1 (decode) gets `conv1d_silu_update` (shift the token into the state, as
 * causal_conv1d_update), like selective_scan / selective_state_update.
 *
 *   (y, st) = conv1d_causal(x, state, w);  silu(add(y, bias))   =>  conv1d_silu(x, state, w, bias) {bias=true}
 *   (y, st) = conv1d_causal(x, state, w);  silu(y)              =>  conv1d_silu(x, state, w) {bias=false}
 *
 * The conv output (and the bias sum) must be read only by the pattern; bias is a [C] vector,
 * in either operand order. The new state keeps its users (the state output).
 */
import type { Graph, Node, NodeOf, ValueRef } from "../ir/graph.ts";
import { mergeSpans } from "../ir/graph.ts";
import { shapeEq } from "../ir/types.ts";
import { commuted, type Matcher } from "./match.ts";
import type { Pass } from "./pass.ts";
import { fuseEach, type Fusion } from "./rewrite.ts";

function matchConv(m: Matcher, conv: NodeOf<"conv1d_causal">): Fusion | null {
  const type = (r: ValueRef) => m.g.nodes[r.node]!.results[r.index]!;
  const y: ValueRef = { node: conv.id, index: 0 };
  const interior: Node[] = [conv];
  let bias: ValueRef | null = null;
  let pre = y;
  const add = m.soleUser(y, "add");
  if (add) {
    const c = type(y).shape[1]!;
    bias = commuted(add, (a, b) => (a.node === y.node && a.index === 0 && shapeEq(type(b).shape, [c]) ? b : null));
    if (!bias || !shapeEq(type({ node: add.id, index: 0 }).shape, type(y).shape)) return null;
    interior.push(add);
    pre = { node: add.id, index: 0 };
  }
  const silu = m.soleUser(pre, "silu");
  if (!silu) return null;
  interior.push(silu);
  const [x, state, w] = conv.inputs as [ValueRef, ValueRef, ValueRef];
  const op = type(x).shape[0] === 1 ? "conv1d_silu_update" : "conv1d_silu";
  return {
    interior: new Set(interior.map((n) => n.id)),
    operands: bias ? [x, state, w, bias] : [x, state, w],
    replaces: [{ node: silu.id, index: 0 }, { node: conv.id, index: 1 }],
    spans: mergeSpans(...interior.map((n) => n.spans)),
    emit: (b, [x, state, w, bias]) => b.conv1dSilu(op, x!, state!, w!, bias ?? null),
  };
}

function run(g: Graph): Graph {
  return fuseEach(g, "conv1d_causal", matchConv);
}

export const fuseConvAct: Pass = {
  name: "fuse-conv-act",
  summary: "conv1d_causal + bias + silu -> conv1d_silu / conv1d_silu_update",
  fusion: true,
  run,
};
