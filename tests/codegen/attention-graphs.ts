/**
 * A tiny graph around one `attention` / `attention_decode` node: q, k, v are column windows of
 * one fused q|k|v projection row (as the optimized graph has them), the caches are state slots
 * updated in place, filled with random rows (a "filled cache"), and `pos` is the graph input.
 */
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import type { Graph } from "../../compiler/ir/graph.ts";
import { Rng } from "../ir/prng.ts";
import { OP_SPAN, type TestGraph } from "./graphs.ts";

const VOCAB = 13;

export interface AttentionCase {
  /** "L" for prefill, 1 for the decode op. */
  readonly S: "L" | 1;
  readonly H: number;
  readonly Hkv: number;
  readonly D: number;
  /** Cache rows. */
  readonly T: number;
  readonly window?: number | null;
  /** rotaryDim (theta 10000), or null for no RoPE. */
  readonly rotary?: number | null;
  /** q, k, v as separate activations instead of windows of one row. */
  readonly separate?: boolean;
  /** Graph output names for the caches that are not the state slots' (not in place). */
  readonly outOfPlace?: boolean;
}

export interface AttentionTestGraph extends TestGraph {
  feedAt(L: number, pos: number, seed: number): { L: number; inputs: Record<string, Float64Array>; weights: Record<string, Float64Array> };
}

export function attentionGraph(c: AttentionCase): AttentionTestGraph {
  const b = new GraphBuilder("test.codegen.attention");
  const { H, Hkv, D, T } = c;
  const weights = new Map<string, number>();
  const weight = (name: string, shape: number[]) => {
    weights.set(name, shape.reduce((x, y) => x * y, 1));
    return b.weight({ name, local: name, layer: 0, sublayer: 0, type: { dtype: "f32", shape } });
  };
  const tokens = b.input("tokens", "tokens", { dtype: "i32", shape: [c.S] });
  const pos = b.input("pos", "pos", { dtype: "i32", shape: [] });
  const kCache = b.input("layers.0.k", "state", { dtype: "f32", shape: [T, Hkv, D] });
  const vCache = b.input("layers.0.v", "state", { dtype: "f32", shape: [T, Hkv, D] });
  const rows = (name: string, width: number) => b.embedding(weight(`${name}.table`, [VOCAB, width]), tokens);
  let q, k, v;
  if (c.separate) {
    q = rows("q", H * D);
    k = rows("k", Hkv * D);
    v = rows("v", Hkv * D);
  } else {
    const qkv = rows("qkv", (H + 2 * Hkv) * D);
    q = b.slice(qkv, 1, 0, H * D);
    k = b.slice(qkv, 1, H * D, Hkv * D);
    v = b.slice(qkv, 1, (H + Hkv) * D, Hkv * D);
  }
  b.at([OP_SPAN]);
  const rotary = c.rotary ?? null;
  const [o, kc, vc] = b.attention(
    c.S === 1 ? "attention_decode" : "attention",
    { q, k, v, kCache, vCache, pos },
    { scale: 1 / Math.sqrt(D), window: c.window ?? null, theta: rotary === null ? null : 10000, rotaryDim: rotary },
  );
  const graph = b.finish([
    { name: "o", value: o },
    { name: c.outOfPlace ? "k_new" : "layers.0.k", value: kc },
    { name: c.outOfPlace ? "v_new" : "layers.0.v", value: vc },
  ]);
  const feedAt = (L: number, p: number, seed: number) => {
    const rng = new Rng(seed);
    const w: Record<string, Float64Array> = {};
    for (const [name, n] of weights) w[name] = rng.array(n, () => rng.normal());
    const inputs: Record<string, Float64Array> = {
      tokens: rng.array(c.S === "L" ? L : 1, () => rng.int(VOCAB)),
      pos: Float64Array.of(p),
      "layers.0.k": rng.array(T * Hkv * D, () => rng.normal()),
      "layers.0.v": rng.array(T * Hkv * D, () => rng.normal()),
    };
    return { L, inputs, weights: w };
  };
  return { graph, node: o.node, feed: (L, seed) => feedAt(L, 0, seed), feedAt };
}
