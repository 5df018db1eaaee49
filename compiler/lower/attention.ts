/**
 * Attention as primitive ops, x: [S, d_model], H query heads, Hkv kv heads, D = head_dim.
 *
 *   q, k, v = q_proj(x), k_proj(x), v_proj(x) viewed [S, H|Hkv, D]
 *   q, k = rope(q, pos), rope(k, pos)       NeoX half-split on the first rotaryDim dims, positions pos+s
 *   kc, vc = cache_write(k, v at rows pos..pos+S-1)   caches [context, Hkv, D], k after RoPE
 *   p = softmax(mask(q kc^T / sqrt(D)))      query head h reads kv head h / (H/Hkv); key t is allowed
 *                                            iff t <= pos+s and (no window or t > pos+s-window)
 *   out = o_proj(p vc)
 */
import type { AttentionConfig } from "../check/model.ts";
import type { ValueRef } from "../ir/graph.ts";
import { proj, type BlockResult, type SublayerCtx } from "./context.ts";

export function lowerAttention(s: SublayerCtx, cfg: AttentionConfig, x: ValueRef): BlockResult {
  const { b, seq: S, pos } = s;
  const { heads: H, kvHeads: Hkv, headDim: D } = cfg;

  let q = b.reshape(proj(s, x, "q_proj", cfg.bias), [S, H, D]);
  let k = b.reshape(proj(s, x, "k_proj", cfg.bias), [S, Hkv, D]);
  const v = b.reshape(proj(s, x, "v_proj", cfg.bias), [S, Hkv, D]);
  if (cfg.rope !== null) {
    q = b.rope(q, pos, cfg.rope.theta, cfg.rope.rotaryDim);
    k = b.rope(k, pos, cfg.rope.theta, cfg.rope.rotaryDim);
  }
  const kc = b.cacheWrite(s.state("k"), k, pos);
  const vc = b.cacheWrite(s.state("v"), v, pos);

  const scores = b.attnMask(b.attnScores(q, kc, 1 / Math.sqrt(D)), pos, cfg.window);
  const o = b.attnValues(b.softmax(scores), vc);
  return { out: proj(s, b.reshape(o, [S, H * D]), "o_proj", cfg.bias), state: { k: kc, v: vc } };
}
