/**
 * fuse-linear-conv (decode): the projection that feeds a conv step writes the conv's output
 * itself. In a Mamba decode the in_proj's x (Mamba-1) or xBC (Mamba-2) columns go only through
 * the depthwise conv and SiLU, and a conv step at S = 1 is local to its channel: the channel's
 * state window, the new column value and the channel's weights. So the GEMV that computes a
 * column can finish it: one kernel less per Mamba layer, and the raw columns are never stored.
 *
 *   y = lin(x, ...) [1, out];  (c, st') = conv1d_silu_update(slice(y, 1, s, C), st, w [, b]);  y_i = slice(y, 1, s_i, n_i)
 *     =>  (y', st') = linear_conv_update(x, ..., st, w [, b]) {convStart = s, convWidth = C};
 *         c = slice(y', 1, s, C);  y_i = slice(y', 1, s_i, n_i)
 *
 * `lin` is a linear or a fused_linear without activation or residual, of one row (decode). Legal
 * when the conv's slice is read only by the conv and every other reader of y is a slice of
 * columns outside [s, s + C): y' holds the conv's output in those columns, no reader sees the
 * raw ones. The other slices are re-emitted from y' (they are views: no copy). Windows wider
 * than MAX_TAPS keep their conv kernel: the epilogue unrolls the window for every column it stores.
 */
import type { Graph, NodeOf, ValueRef } from "../ir/graph.ts";
import { mergeSpans } from "../ir/graph.ts";
import { flatten, linearArgs, linearParts, refill } from "./linear-parts.ts";
import type { Matcher } from "./match.ts";
import type { Pass } from "./pass.ts";
import { fuseEach, type Fusion } from "./rewrite.ts";

/** The widest conv window fused (Mamba's d_conv is 4). */
const MAX_TAPS = 16;

function matchConv(m: Matcher, conv: NodeOf<"conv1d_silu_update">): Fusion | null {
  if ((conv.results[1]!.shape[1] as number) > MAX_TAPS) return null;
  const cut = m.sole(conv.inputs[0]!, "slice");
  if (!cut || cut.attrs.axis !== 1) return null;
  const y = cut.inputs[0]!;
  const lin = m.g.nodes[y.node]!;
  const parts = y.index === 0 ? linearParts(lin) : null;
  if (!parts || parts.activation !== "none" || parts.residual !== null) return null;
  if (lin.results[0]!.shape.length !== 2 || lin.results[0]!.shape[0] !== 1) return null;
  const start = cut.attrs.start;
  const width = cut.attrs.size;
  // Every other reader of y: a slice of columns outside the conv's.
  const others: NodeOf<"slice">[] = [];
  for (const u of m.usersOf(y)) {
    if (u === cut.id) continue;
    const s = u < 0 ? null : m.g.nodes[u]!;
    if (s === null || s.op !== "slice") return null;
    const o = s as NodeOf<"slice">;
    if (o.attrs.axis !== 1 || (o.attrs.start < start + width && start < o.attrs.start + o.attrs.size)) return null;
    others.push(o);
  }
  const [, state, w, bias] = conv.inputs as [ValueRef, ValueRef, ValueRef, ValueRef | undefined];
  const ops = flatten(parts);
  const interior = [lin, cut, conv, ...others];
  return {
    interior: new Set(interior.map((n) => n.id)),
    operands: [...ops, state, w, ...(bias ? [bias] : [])],
    replaces: [{ node: conv.id, index: 0 }, { node: conv.id, index: 1 }, ...others.map((o) => ({ node: o.id, index: 0 }))],
    spans: mergeSpans(...interior.map((n) => n.spans)),
    emit: (b, values) => {
      const rest = values.slice();
      const args = linearArgs(refill(parts, rest));
      const [st, cw, cb] = rest;
      const [out, next] = b.linearConvUpdate(args, { state: st!, w: cw!, bias: cb ?? null, start, width });
      return [b.slice(out, 1, start, width), next, ...others.map((o) => b.slice(out, 1, o.attrs.start, o.attrs.size))];
    },
  };
}

function run(g: Graph): Graph {
  return fuseEach(g, "conv1d_silu_update", matchConv);
}

export const fuseLinearConv: Pass = {
  name: "fuse-linear-conv",
  summary: "decode: a projection read by a conv step (Mamba's in_proj) -> linear_conv_update, the conv and SiLU in the projection's epilogue",
  fusion: true,
  run,
};
