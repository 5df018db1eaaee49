// Attention + MLP layers through the whole optimizer:
//  - optimize(g) computes what optimize(g, {fuse: false}) computes on random attention / Mamba + MLP
//    models (prefill and decode), and optimized prefill continues into optimized decode;
//  - kernels per layer (harness.ts `launches`, cross-checked with plan/kernels.ts): a pre-norm
//    attention + SwiGLU layer with RoPE is 5 in prefill and decode (norm + qkv, attention,
//    o_proj + residual, norm + gate/up + SwiGLU, down + residual); Mamba-1 + MLP is 7 and
//    Mamba-2 + MLP is 6; every layer kind of the canonical specs is pinned.
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { BlockConfig, ResolvedModel } from "../../compiler/check/model.ts";
import { compile } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { printGraph, verify, type Graph, type NodeOf } from "../../compiler/ir/index.ts";
import { lowerDecode, lowerPrefill } from "../../compiler/lower/index.ts";
import { optimize } from "../../compiler/passes/index.ts";
import { kernels } from "../../compiler/plan/kernels.ts";
import { attention, makeModel, mamba1, mamba2, mlp, randomTokens, randomWeights, runDecode, runGraph, zeroState } from "../ir/fixtures.ts";
import { caseArb } from "./attention-models.ts";
import { layerLaunches, launches, lower, record, report, sameValues, TOL } from "./harness.ts";

afterAll(() => report("attention + MLP layers, optimize"));

describe("optimize on attention + MLP models", () => {
  it("equals optimize(g, {fuse: false}) on random models, and is idempotent", () => {
    fc.assert(
      fc.property(caseArb, ({ D, layers, norm, tied, L, seed, decode }) => {
        const model = makeModel({ dModel: D, vocab: 16, context: 32, norm, tied, layers });
        const g = lower(model, decode);
        const fused = optimize(g);
        verify(fused);
        expect(printGraph(optimize(fused)), "optimize is idempotent").toBe(printGraph(fused));
        record(`optimize ${decode ? "decode" : "prefill"}`, sameValues(optimize(g, { fuse: false }), fused, model, seed, decode ? 1 : L));
      }),
      { numRuns: 60, seed: 99 },
    );
  });

  it.each([
    ["swiglu, GQA 4:2, half RoPE, rmsnorm", [attention(16, { heads: 4, kvHeads: 2, rope: { theta: 1e4, fraction: 0.5 } }), mlp({ hidden: 24 })], "rmsnorm"],
    ["gelu, biases, window 5, layernorm", [attention(16, { heads: 2, kvHeads: 1, window: 5, bias: true, rope: { theta: 100, fraction: 1 } }), mlp({ activation: "gelu", hidden: 20, bias: true })], "layernorm"],
    ["relu2, MQA, no RoPE", [attention(16, { heads: 4, kvHeads: 1 }), mlp({ activation: "relu2", hidden: 12 })], "rmsnorm"],
  ] as [string, BlockConfig[], "rmsnorm" | "layernorm"][])("optimized prefill then optimized decode equals the unfused programs (%s)", (_, layer, kind) => {
    const model = makeModel({ dModel: 16, vocab: 32, context: 64, norm: { kind, eps: 1e-5 }, layers: [layer, layer] });
    const w = randomWeights(model, 8);
    const prompt = randomTokens(model, 23, 9);
    const more = randomTokens(model, 5, 10);
    const refPre = runGraph(lowerPrefill(model), model, w, prompt, 0, zeroState(model));
    const refDec = runDecode(lowerDecode(model), model, w, more, 23, refPre.state);
    const pre = runGraph(optimize(lowerPrefill(model)), model, w, prompt, 0, zeroState(model));
    const dec = runDecode(optimize(lowerDecode(model)), model, w, more, 23, pre.state);
    const errs = [relError(pre.logits, refPre.logits), relError(dec.logits, refDec.logits), ...Object.keys(refDec.state).map((k) => relError(dec.state[k]!, refDec.state[k]!))];
    record("optimized prefill + decode", Math.max(...errs));
    for (const e of errs) expect(e).toBeLessThanOrEqual(TOL);
  });
});

/** Layer 0's launching nodes in a one-layer model, prefill and decode, checked against plan/kernels.ts. */
function layerKernels(layer: BlockConfig[]): { prefill: string[]; decode: string[]; fused: Graph } {
  const model = makeModel({ dModel: 16, vocab: 16, context: 16, layers: [layer] });
  const ops = (g: Graph): string[] => {
    const ns = layerLaunches(g, 0);
    expect(kernels(g).filter((k) => k.name.startsWith("layers.0.")).map((k) => k.node)).toEqual(ns.map((n) => n.id));
    expect(launches(g).length - ns.length).toBe(2); // the embedding and the LM head (with the final norm)
    return ns.map((n) => n.op);
  };
  const fused = optimize(lowerPrefill(model));
  return { prefill: ops(fused), decode: ops(optimize(lowerDecode(model))), fused };
}

const ATTN = ["fused_linear", "attention", "fused_linear", "fused_linear", "fused_linear"];
const ATTN_DECODE = ["fused_linear", "attention_decode", "fused_linear", "fused_linear", "fused_linear"];
const linAttrs = (g: Graph) =>
  layerLaunches(g, 0)
    .filter((n): n is NodeOf<"fused_linear"> => n.op === "fused_linear")
    .map((n) => `${n.attrs.prologue}/${n.attrs.weights}/${n.attrs.activation}${n.attrs.residual ? "+r" : ""}`);

describe("kernels per layer", () => {
  it("attention (pre-norm, RoPE) + SwiGLU MLP: 5 in prefill and in decode", () => {
    const k = layerKernels([attention(16, { heads: 4, kvHeads: 2, rope: { theta: 1e4, fraction: 1 } }), mlp({ hidden: 24 })]);
    expect([k.prefill, k.decode]).toEqual([ATTN, ATTN_DECODE]);
    // norm + q/k/v; o_proj + residual; norm + gate/up + SwiGLU; down + residual
    expect(linAttrs(k.fused)).toEqual(["rmsnorm/3/none", "none/1/none+r", "rmsnorm/2/swiglu", "none/1/none+r"]);
  });

  it.each([
    ["GELU, biases, window", [attention(16, { heads: 2, window: 4, bias: true }), mlp({ activation: "gelu", hidden: 24, bias: true })], "gelu"],
    ["ReLU^2, MQA", [attention(16, { heads: 4, kvHeads: 1, rope: { theta: 1e4, fraction: 0.5 } }), mlp({ activation: "relu2", hidden: 24 })], "relu2"],
  ] as [string, BlockConfig[], string][])("attention + %s MLP: 5", (_, layer, act) => {
    const k = layerKernels(layer);
    expect([k.prefill, k.decode]).toEqual([ATTN, ATTN_DECODE]);
    expect(linAttrs(k.fused)).toEqual(["rmsnorm/3/none", "none/1/none+r", `rmsnorm/1/${act}`, "none/1/none+r"]);
  });

  it("Mamba-2 + SwiGLU MLP: exactly 6 (norm + in_proj, conv + SiLU, SSD, out_proj + residual, gate/up, down), 5 in decode (the conv in in_proj's epilogue)", () => {
    const k = layerKernels([mamba2(16, { dState: 16, headdim: 8, chunk: 4 }), mlp({ hidden: 24 })]);
    expect(k.prefill).toEqual(["fused_linear", "conv1d_silu", "ssd", "fused_linear", "fused_linear", "fused_linear"]);
    expect(k.decode).toEqual(["linear_conv_update", "ssd_state_update", "fused_linear", "fused_linear", "fused_linear"]);
  });

  it("Mamba-1 + SwiGLU MLP: exactly 7 (norm + in_proj, conv + SiLU, x_proj, scan, out_proj + residual, gate/up, down), 6 in decode", () => {
    const k = layerKernels([mamba1(16, { dState: 16 }), mlp({ hidden: 24 })]);
    expect(k.prefill).toEqual(["fused_linear", "conv1d_silu", "linear", "selective_scan", "fused_linear", "fused_linear", "fused_linear"]);
    expect(k.decode).toEqual(["linear_conv_update", "linear", "selective_state_update", "fused_linear", "fused_linear", "fused_linear"]);
  });
});

const SPECS = new URL("../../specs/", import.meta.url);
const load = (file: string): ResolvedModel => compile(readFileSync(new URL(file, SPECS), "utf8"), { path: file }).models[0]!;
const kindOf = (m: ResolvedModel, i: number): string => m.layers[i]!.sublayers.map((s) => s.block.config.kind).join("+");

/**
 * Kernels per layer by layer kind, [prefill, decode] (was, before fuse-activation-epilogue and
 * fuse-parallel-linears: attention+mlp 10, mamba1+mlp 10). Decode attention is one more: every
 * canonical spec's cache is longer than a key block, so split-decode-attention adds the merge.
 * Decode Mamba is one fewer: fuse-linear-conv puts the conv step into in_proj's epilogue.
 */
const SPEC_COUNTS: Record<string, Record<string, readonly [number, number]>> = {
  "hybrid-130m.hyb": { mamba2: [4, 3], "attention+mlp": [5, 6] },
  "hybrid-3to1.hyb": { mamba2: [4, 3], "attention+mlp": [5, 6] },
  "jamba-style.hyb": { "mamba1+mlp": [7, 6], "attention+mlp": [5, 6] },
  "mamba-130m.hyb": { mamba1: [5, 4] },
  "mamba-byte.hyb": { mamba1: [5, 4] },
  "samba-style.hyb": { "mamba1+mlp": [7, 6], "attention+mlp": [5, 6] },
  // The trained model: no MLP; its attention window (256) is two key blocks, so decode splits.
  "kjv-byte.hyb": { mamba2: [4, 3], attention: [3, 4] },
};

describe("canonical specs", () => {
  it("pins every spec", () => {
    expect(readdirSync(SPECS).filter((f) => f.endsWith(".hyb")).sort()).toEqual(Object.keys(SPEC_COUNTS).sort());
  });

  it.each(Object.entries(SPEC_COUNTS))("%s: kernels per layer by kind, prefill and decode, agree with plan/kernels.ts", (file, want) => {
    const model = load(file);
    [lowerPrefill(model), lowerDecode(model)].forEach((g, call) => {
      const o = optimize(g);
      const planned = kernels(o);
      model.layers.forEach((_, i) => {
        const n = layerLaunches(o, i).length;
        expect(n, `${g.name} layer ${i} (${kindOf(model, i)})`).toBe(want[kindOf(model, i)]![call]);
        expect(planned.filter((k) => k.name.startsWith(`layers.${i}.`)).length, `plan/kernels.ts, layer ${i}`).toBe(n);
      });
    });
  });
});
