/**
 * The whole middle end on random models written as .hyb text: every model the checker accepts
 * lowers, verifies, optimizes and plans, and the fused program computes what the unfused one
 * does (float64 interpreter), prefill and decode. Block arguments are drawn so that every
 * divisibility rule holds, covering the options the canonical specs leave out (layernorm, f16,
 * untied heads, biases, inner norms, ngroups > 1 with small norm groups, norm_before_gate,
 * gated_norm off, partial RoPE, windows, MQA, gelu/relu2, MLP-only layers, the mamba scheme).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile, programs } from "../compiler/index.ts";
import { verify } from "../compiler/ir/index.ts";
import { planGraph } from "../compiler/plan/index.ts";
import { randomTokens, randomWeights, runGraph, zeroState } from "./ir/fixtures.ts";

const D = 16;

const mamba1 = fc
  .record({
    d_state: fc.constantFrom(2, 4, 8),
    expand: fc.constantFrom(1, 2),
    d_conv: fc.constantFrom(1, 2, 4),
    dt_rank: fc.constantFrom(1, 2, 3),
    conv_bias: fc.boolean(),
    bias: fc.boolean(),
    inner_norms: fc.boolean(),
  })
  .map((a) => `mamba1(${Object.entries(a).map(([k, v]) => `${k} = ${v}`).join(", ")})`);

const mamba2 = fc
  .record({
    d_state: fc.constantFrom(2, 4, 8),
    headdim: fc.constantFrom(4, 8),
    ngroups: fc.constantFrom(1, 2),
    chunk: fc.constantFrom(1, 3, 4),
    d_conv: fc.constantFrom(2, 4),
    conv_bias: fc.boolean(),
    gated_norm: fc.boolean(),
    norm_before_gate: fc.boolean(),
    small_groups: fc.boolean(),
  })
  .map(({ small_groups, ...a }) => {
    // d_inner = 32, heads = 32 / headdim; a norm group of 4 straddles no group and no head.
    const args = Object.entries(a).map(([k, v]) => `${k} = ${v}`);
    if (small_groups) args.push("norm_group = 4");
    return `mamba2(${args.join(", ")})`;
  });

const attention = fc
  .record({
    heads: fc.constantFrom(2, 4),
    mqa: fc.boolean(),
    rope: fc.constantFrom("none", "10_000", "rope(theta = 500, fraction = 0.5)"),
    window: fc.constantFrom("none", "1", "3"),
    bias: fc.boolean(),
  })
  .map((a) => `attention(heads = ${a.heads}, kv_heads = ${a.mqa ? 1 : a.heads}, rope = ${a.rope}, window = ${a.window}, bias = ${a.bias})`);

const mlp = fc
  .record({ act: fc.constantFrom("swiglu", "gelu", "relu2"), hidden: fc.constantFrom(8, 24), bias: fc.boolean() })
  .map((a) => `mlp(${a.act}, hidden = ${a.hidden}, bias = ${a.bias})`);

const spec = fc
  .record({
    mixers: fc.array(fc.oneof(mamba1, mamba2, attention), { minLength: 1, maxLength: 3 }),
    ffn: mlp,
    withFfn: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    mlpOnlyLayer: fc.boolean(),
    norm: fc.constantFrom("rmsnorm(eps = 1e-5)", "layernorm(eps = 1e-6)"),
    tied: fc.boolean(),
    dtype: fc.constantFrom("f32", "f16"),
  })
  .map((s) => {
    const blocks = s.mixers.map((m, i) => `  m${i} = ${m}`);
    const layers = s.mixers.map((_, i) => (s.withFfn[i] ? `m${i} + ffn` : `m${i}`));
    if (s.mlpOnlyLayer) layers.push("ffn");
    return [
      "model random {",
      "  vocab = 11",
      `  d_model = ${D}`,
      "  context = 64",
      `  norm = ${s.norm}`,
      `  tied = ${s.tied}`,
      `  dtype = ${s.dtype}`,
      ...blocks,
      `  ffn = ${s.ffn}`,
      `  layers = [${layers.join(", ")}]`,
      "}",
    ].join("\n");
  });

function maxRel(a: Float64Array, b: Float64Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / Math.max(den, 1e-300);
}

describe("every model the checker accepts goes through the middle end", () => {
  it("compiles, lowers, verifies, plans, and fused equals unfused (prefill then decode)", { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(spec, fc.integer({ min: 1, max: 9 }), (text, L) => {
        const result = compile(text);
        expect(result.diagnostics.filter((d) => d.severity === "error").map((d) => d.message), text).toEqual([]);
        const model = result.models[0]!;
        const fused = programs(model);
        const plain = programs(model, { fuse: false });
        for (const g of [fused.prefill, fused.decode, plain.prefill, plain.decode]) verify(g);
        planGraph(fused.prefill, { L, pos: 0 });
        planGraph(fused.decode, { L: 1, pos: L });

        const weights = randomWeights(model, 7);
        const tokens = randomTokens(model, L + 1, 3);
        const a = runGraph(fused.prefill, model, weights, tokens.slice(0, L), 0, zeroState(model));
        const b = runGraph(plain.prefill, model, weights, tokens.slice(0, L), 0, zeroState(model));
        expect(maxRel(a.logits, b.logits), text).toBeLessThanOrEqual(1e-10);
        const a2 = runGraph(fused.decode, model, weights, tokens.slice(L), L, a.state);
        const b2 = runGraph(plain.decode, model, weights, tokens.slice(L), L, b.state);
        expect(maxRel(a2.logits, b2.logits), text).toBeLessThanOrEqual(1e-10);
      }),
      { seed: 20261128, numRuns: 150 },
    );
  });
});
