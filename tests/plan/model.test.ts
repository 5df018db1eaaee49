// Buffer plans of whole models: the Mamba-130M prefill scratch at L = 2048 has no
// [L, d_inner, d_state] buffer once fused; dispatch counts and bytes per decode token of tiny
// one-layer models, worked out by hand from the lowering (lower/*.ts) under a pinned pass list,
// so that later fusion passes do not move these numbers (optimize() is checked for consistency).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.ts";
import type { Graph } from "../../compiler/ir/index.ts";
import { lowerDecode, lowerPrefill } from "../../compiler/lower/index.ts";
import { dce, fuseAttention, optimize, type Pass } from "../../compiler/passes/index.ts";
import { planGraph } from "../../compiler/plan/index.ts";
import { attention, makeModel, mamba1, mlp } from "../ir/fixtures.ts";

const pipeline = (passes: readonly Pass[]) => (g: Graph) => passes.reduce((x, p) => p.run(x), g);
const F32 = 4;

describe("mamba-130m prefill at L = 2048", () => {
  const m = compile(readFileSync(new URL("../../specs/mamba-130m.hyb", import.meta.url), "utf8")).models[0]!;
  const cfg = m.blocks[0]!.config;
  if (cfg.kind !== "mamba1") throw new Error("expected mamba1");
  const L = 2048;
  const big = L * cfg.dInner * cfg.dState;

  it("has no scratch buffer of L * d_inner * d_state elements after optimize, but --no-fuse has", () => {
    const fused = planGraph(optimize(lowerPrefill(m)), { L });
    const unfused = planGraph(optimize(lowerPrefill(m), { fuse: false }), { L });
    expect(Math.max(...fused.buffers)).toBeLessThan(big * F32);
    expect(Math.max(...unfused.buffers)).toBeGreaterThanOrEqual(big * F32);
    expect(fused.peakScratchBytes).toBeLessThan(unfused.peakScratchBytes / 4);
    expect(fused.dispatches).toBeLessThan(unfused.dispatches);
  });
});

describe("a one-layer Mamba-1 model (d_model 8, d_inner 16, N 4, d_conv 3, dt_rank 2, vocab 16)", () => {
  const model = makeModel({ dModel: 8, vocab: 16, layers: [[mamba1(8, { dState: 4, dConv: 3, dtRank: 2 })]] });
  const decode = planGraph(pipeline([dce])(lowerDecode(model)), { L: 1, pos: 0 });

  it("launches exactly the primitive kernels of the lowering without fusion", () => {
    expect(decode.kernels.map((k) => `${k.name}:${k.op}`)).toEqual([
      "embeddings:embedding",
      "layers.0.norm:rmsnorm",
      "layers.0.mixer.in_proj:linear", // x and z are views of it
      "layers.0.mixer.conv1d:conv1d_causal",
      "layers.0.add:add", // conv bias
      "layers.0.silu:silu",
      "layers.0.mixer.x_proj:linear", // dt, B and C are views of it
      "layers.0.mixer.dt_proj:linear",
      "layers.0.add_2:add", // dt_proj bias
      "layers.0.softplus:softplus",
      "layers.0.mul:mul", // delta * A
      "layers.0.exp:exp", // dA
      "layers.0.mul_2:mul", // delta * x
      "layers.0.mul_3:mul", // dBx
      "layers.0.linear_recurrence:linear_recurrence",
      "layers.0.mul_4:mul", // h * C
      "layers.0.reduce_sum:reduce_sum",
      "layers.0.mul_5:mul", // D * x
      "layers.0.add_3:add",
      "layers.0.silu_2:silu", // silu(z)
      "layers.0.mul_6:mul",
      "layers.0.mixer.out_proj:linear",
      "layers.0.add_4:add", // residual
      "norm_f:rmsnorm",
      "lm_head:linear", // tied: the embedding matrix
    ]);
    expect(decode.constants.map((k) => k.op)).toEqual(["exp", "neg"]); // A = -exp(A_log), once at load
    expect(planGraph(pipeline([dce])(lowerPrefill(model)), { L: 5 }).dispatches).toBe(25);
  });

  it("moves the bytes counted by hand per decode token", () => {
    // weights (elements): E 16x8 (the lookup's row is inside the LM head's full read), norm 8,
    // in_proj 32x8, conv 16x3 + bias 16, x_proj 10x16, dt_proj 16x2 + bias 16, A 16x4 (the
    // constant, instead of A_log), D 16, out_proj 8x16, norm_f 8
    const weights = 128 + 8 + 256 + 48 + 16 + 160 + 32 + 16 + 64 + 16 + 128 + 8;
    // state: conv [16,3] and ssm [16,4], each read and written once
    const state = 2 * (48 + 64);
    // every other access, kernel by kernel (reads + writes, in elements; tokens and logits included)
    const other = [
      1 + 8, 8 + 8, 8 + 32, 16 + 16, 16 + 16, 16 + 16, 16 + 10, 2 + 16, 16 + 16, 16 + 16, //  embedding .. softplus
      16 + 64, 64 + 64, 16 + 16 + 16, 16 + 4 + 64, 64 + 64 + 64, 64 + 4 + 64, 64 + 16, 16 + 16, //  mul .. D * x
      16 + 16 + 16, 16 + 16, 16 + 16 + 16, 16 + 8, 8 + 8 + 8, 8 + 8, 8 + 16, //                       add .. lm_head
    ].reduce((a, b) => a + b, 0);
    expect(decode.traffic).toEqual({ weightBytes: weights * F32, stateBytes: state * F32, movedBytes: (weights + state + other) * F32 });
  });
});

describe("a one-layer attention + SwiGLU model (heads 2, kv_heads 1, head_dim 4, window 3, RoPE)", () => {
  const cfg = attention(8, { heads: 2, kvHeads: 1, headDim: 4, window: 3, rope: { theta: 10_000, fraction: 1 } });
  const model = makeModel({ dModel: 8, vocab: 16, context: 32, layers: [[cfg, mlp({ hidden: 12 })]] });
  const fused = pipeline([dce, fuseAttention]);
  const kernelsOf = (g: Graph) => planGraph(g, { L: 7, pos: 5 }).kernels.map((k) => `${k.name}:${k.op}`);
  const mixer = ["embed_tokens:embedding", "layers.0.input_layernorm:rmsnorm", "layers.0.self_attn.q_proj:linear", "layers.0.self_attn.k_proj:linear", "layers.0.self_attn.v_proj:linear"];
  const ffn = [
    "layers.0.self_attn.o_proj:linear",
    "layers.0.add:add",
    "layers.0.pre_ff_layernorm:rmsnorm",
    "layers.0.feed_forward.gate_proj:linear",
    "layers.0.silu:silu",
    "layers.0.feed_forward.up_proj:linear",
    "layers.0.mul:mul",
    "layers.0.feed_forward.down_proj:linear",
    "layers.0.add_2:add",
    "final_layernorm:rmsnorm",
    "lm_head:linear",
  ];

  it("launches one attention kernel where the primitive form launches eight", () => {
    expect(kernelsOf(fused(lowerDecode(model)))).toEqual([...mixer, "layers.0.attention_decode:attention_decode", ...ffn]);
    expect(kernelsOf(fused(lowerPrefill(model)))).toEqual([...mixer, "layers.0.attention:attention", ...ffn]);
    const primitive = ["rope", "rope_2", "cache_write", "cache_write_2", "attn_scores", "attn_mask", "softmax", "attn_values"];
    expect(kernelsOf(dce.run(lowerDecode(model)))).toEqual([...mixer, ...primitive.map((k) => `layers.0.${k}:${k.replace(/_2$/, "")}`), ...ffn]);
  });

  it("moves the bytes counted by hand per decode token at T = 5", () => {
    const plan = planGraph(fused(lowerDecode(model)), { L: 1, pos: 5 });
    // weights: E 16x8, 2 norms + final 3x8, q 8x8, k 4x8, v 4x8, o 8x8, gate/up 12x8, down 8x12
    const weights = 128 + 24 + 64 + 32 + 32 + 64 + 3 * 96;
    // state: per cache, the window reads its 2 previous rows of 4 (keys 4 and 5's own row
    // from k/v) and writes 1 row
    const state = 2 * (2 * 4 + 4);
    const other = [
      1 + 8, 8 + 8, 8 + 8, 8 + 4, 8 + 4, //                 embedding, norm, q, k, v
      8 + 4 + 4 + 1 + 8, //                                 attention_decode: q, k, v, pos, o
      8 + 8, 8 + 8 + 8, 8 + 8, 8 + 12, 12 + 12, 8 + 12, 12 + 12 + 12, 12 + 8, 8 + 8 + 8, 8 + 8, 8 + 16, // o_proj .. lm_head
    ].reduce((a, b) => a + b, 0);
    expect(plan.traffic).toEqual({ weightBytes: weights * F32, stateBytes: state * F32, movedBytes: (weights + state + other) * F32 });
    // Unfused, scores and values read the whole cache (32 rows) and the writes stay 1 row.
    const unfused = planGraph(dce.run(lowerDecode(model)), { L: 1, pos: 5 });
    expect(unfused.traffic.stateBytes).toBe(2 * (32 * 4 + 4) * F32);
  });
});

describe("optimize()", () => {
  it("never launches more kernels than --no-fuse, on every spec", () => {
    for (const file of ["mamba-130m", "hybrid-3to1", "jamba-style", "samba-style"]) {
      for (const m of compile(readFileSync(new URL(`../../specs/${file}.hyb`, import.meta.url), "utf8")).models) {
        for (const lower of [lowerPrefill, lowerDecode]) {
          const fused = planGraph(optimize(lower(m)), { L: 64, pos: 64 });
          const plain = planGraph(optimize(lower(m), { fuse: false }), { L: 64, pos: 64 });
          expect(fused.dispatches, `${m.name} ${lower.name}`).toBeLessThan(plain.dispatches);
          expect(fused.traffic.movedBytes).toBeLessThanOrEqual(plain.traffic.movedBytes);
          expect(new Set(fused.kernels.map((k) => k.name)).size).toBe(fused.kernels.length); // names are unique
        }
      }
    }
  });
});
