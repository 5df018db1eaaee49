/**
 * fuse-attention: RoPE, the cache writes, scores, mask, softmax and the weighted sum become one
 * flash-style op, so no [S, H, T] score tensor is materialised and only the valid cache rows
 * inside the window are read. Prefill gets `attention`; a graph whose sequence dim is 1
 * (decode) gets `attention_decode`.
 *
 *   q3 = rope?(reshape(q, [S,H,D]), pos);  k3 = rope?(reshape(k, [S,Hkv,D]), pos)
 *   kc = cache_write(kcache, k3, pos);  vc = cache_write(vcache, reshape(v, [S,Hkv,D]), pos)
 *   o = reshape(attn_values(softmax(attn_mask(attn_scores(q3, kc), pos)), vc), [S, H*D])
 *     =>  (o, kc, vc) = attention(q, k, v, kcache, vcache, pos)
 *
 * RoPE is on both q and k with the same attributes, or on neither. Every intermediate except
 * the two updated caches must be read only inside the pattern, and all four uses of pos must be
 * the same value; otherwise the match is left alone.
 */
import type { Span } from "../diag/source.ts";
import type { GraphBuilder } from "../ir/builder.ts";
import type { Graph, Node, NodeOf, ValueRef } from "../ir/graph.ts";
import { mergeSpans } from "../ir/graph.ts";
import { InferError, OPS, type AttentionAttrs } from "../ir/ops.ts";
import { shapeEq, typeEq, type TensorType } from "../ir/types.ts";
import { type Matcher } from "./match.ts";
import { sameRef, type Pass } from "./pass.ts";
import { fuseEach, type Fusion } from "./rewrite.ts";

const out0 = (n: Node): ValueRef => ({ node: n.id, index: 0 });

/** A reshape from [S, heads*D] to [S, heads, D] read only by the pattern; its 2-D operand. */
function headsView(m: Matcher, r: ValueRef, take: (n: Node) => void): ValueRef | null {
  const rs = m.sole(r, "reshape");
  if (!rs) return null;
  const from = m.g.nodes[rs.inputs[0]!.node]!.results[rs.inputs[0]!.index]!.shape;
  const [S, heads, D] = rs.attrs.shape;
  if (rs.attrs.shape.length !== 3 || typeof heads !== "number" || typeof D !== "number" || !shapeEq(from, [S!, heads * D])) return null;
  take(rs);
  return rs.inputs[0]!;
}

interface Rope {
  readonly theta: number;
  readonly rotaryDim: number;
}

/** `x` through an optional rope at `pos`: the pre-rope value and the rope attrs (or null). */
function unrope(m: Matcher, x: ValueRef, pos: ValueRef, take: (n: Node) => void): { pre: ValueRef; rope: Rope | null } | null {
  const rope = m.sole(x, "rope");
  if (!rope) return { pre: x, rope: null };
  if (!sameRef(rope.inputs[1]!, pos)) return null;
  take(rope);
  return { pre: rope.inputs[0]!, rope: rope.attrs };
}

function matchAttention(m: Matcher, av: NodeOf<"attn_values">): Fusion | null {
  const g = m.g;
  const type = (r: ValueRef): TensorType => g.nodes[r.node]!.results[r.index]!;
  const interior: Node[] = [av];
  const take = (n: Node): void => void interior.push(n);

  // o = reshape(attn_values(softmax(attn_mask(attn_scores(q3, kc), pos)), vc), [S, H*D])
  const root = m.soleUser(out0(av), "reshape");
  const sm = m.sole(av.inputs[0]!, "softmax");
  const mask = sm && m.sole(sm.inputs[0]!, "attn_mask");
  const sc = mask && m.sole(mask.inputs[0]!, "attn_scores");
  if (!root || !sm || !mask || !sc) return null;
  const [S, H, D] = type(out0(av)).shape;
  if (!shapeEq(root.attrs.shape, [S!, (H as number) * (D as number)])) return null;
  [root, sm, mask, sc].forEach(take);
  const pos = mask.inputs[1]!;

  // kc, vc = cache_write(cache, rows, pos): the new caches stay visible (graph outputs)
  const kw = m.producer(sc.inputs[1]!, "cache_write");
  const vw = m.producer(av.inputs[1]!, "cache_write");
  if (!kw || !vw || kw.id === vw.id || !sameRef(kw.inputs[2]!, pos) || !sameRef(vw.inputs[2]!, pos)) return null;
  const kcUsers = m.usersOf(out0(kw)).filter((u) => u !== sc.id);
  const vcUsers = m.usersOf(out0(vw)).filter((u) => u !== av.id);
  if (kcUsers.includes(av.id) || vcUsers.includes(sc.id)) return null;
  take(kw);
  take(vw);

  const q3 = unrope(m, sc.inputs[0]!, pos, take);
  const k3 = unrope(m, kw.inputs[1]!, pos, take);
  if (!q3 || !k3) return null;
  if ((q3.rope === null) !== (k3.rope === null)) return null;
  if (q3.rope && k3.rope && (q3.rope.theta !== k3.rope.theta || q3.rope.rotaryDim !== k3.rope.rotaryDim)) return null;
  const q = headsView(m, q3.pre, take);
  const k = headsView(m, k3.pre, take);
  const v = headsView(m, vw.inputs[1]!, take);
  if (!q || !k || !v) return null;

  const attrs: AttentionAttrs = {
    scale: sc.attrs.scale,
    window: mask.attrs.window,
    theta: q3.rope?.theta ?? null,
    rotaryDim: q3.rope?.rotaryDim ?? null,
  };
  const operands = [q, k, v, kw.inputs[0]!, vw.inputs[0]!, pos];
  const op = type(q).shape[0] === 1 ? "attention_decode" : "attention";
  // The fused op's type rule decides whether the operand shapes mean what the pattern assumed.
  let results: readonly TensorType[];
  try {
    results = OPS[op].infer(operands.map(type), attrs);
  } catch (e) {
    if (e instanceof InferError) return null;
    throw e;
  }
  const replaces = [out0(root), out0(kw), out0(vw)];
  if (results.some((t, i) => !typeEq(t, type(replaces[i]!)))) return null;
  return {
    interior: new Set(interior.map((n) => n.id)),
    operands,
    replaces,
    spans: mergeSpans(...interior.map((n): readonly Span[] => n.spans)),
    emit: (b: GraphBuilder, [q, k, v, kCache, vCache, pos]) => b.attention(op, { q: q!, k: k!, v: v!, kCache: kCache!, vCache: vCache!, pos: pos! }, attrs),
  };
}

function run(g: Graph): Graph {
  return fuseEach(g, "attn_values", matchAttention);
}

export const fuseAttention: Pass = {
  name: "fuse-attention",
  summary: "rope + cache writes + scores + mask + softmax + weighted sum -> attention / attention_decode (flash, online softmax)",
  fusion: true,
  run,
};
