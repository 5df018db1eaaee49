/**
 * Every node of an optimized tiny model that has a generator, run on the adapter against
 * interp of the whole graph: the operands are the real views of the optimizer's output
 * (in_proj's x|z, x_proj's dt|B|C, reshaped conv weights, in-place state slots).
 */
import { describe, expect, it } from "vitest";
import type { ResolvedModel } from "../../compiler/check/model.ts";
import { hasGenerator } from "../../compiler/codegen/index.ts";
import type { Graph } from "../../compiler/ir/graph.ts";
import { lowerDecode, lowerPrefill, stateSlots } from "../../compiler/lower/index.ts";
import { optimize } from "../../compiler/passes/index.ts";
import { attention, makeModel, mamba1, mlp, randomTokens, randomWeights } from "../ir/fixtures.ts";
import { Rng } from "../ir/prng.ts";
import { runNode } from "./harness.ts";

const MODELS: readonly [string, ResolvedModel][] = [
  ["mamba-1, d_model 16 (aligned)", makeModel({ dModel: 16, layers: [[mamba1(16, { bias: true })], [mamba1(16, { convBias: false })]] })],
  [
    "jamba-like, d_model 18, layernorm (unaligned K, inner norms, d_state 64, swiglu MLP)",
    makeModel({
      dModel: 18,
      norm: { kind: "layernorm", eps: 1e-5 },
      tied: false,
      layers: [
        [mamba1(18, { dState: 64, innerNorms: true }), mlp({ hidden: 20 })],
        [attention(18, { heads: 3, kvHeads: 1 }), mlp({ hidden: 12, activation: "gelu", bias: true })],
      ],
    }),
  ],
  ["gpt-like, relu^2 MLP", makeModel({ dModel: 16, layers: [[attention(16, { heads: 2 }), mlp({ hidden: 24, activation: "relu2" })]] })],
];

function feed(model: ResolvedModel, L: number, pos: number) {
  const rng = new Rng(L * 31 + pos);
  const inputs: Record<string, Float64Array> = { tokens: Float64Array.from(randomTokens(model, L, L)), pos: Float64Array.of(pos) };
  for (const s of stateSlots(model)) inputs[s.name] = rng.array(s.type.shape.reduce<number>((a, d) => a * (d as number), 1), () => 0.5 * rng.normal());
  return { L, inputs, weights: randomWeights(model, 5) };
}

describe.each(MODELS)("%s", (_, model) => {
  const mamba = model.blocks.some((b) => b.config.kind === "mamba1");
  const prefill = optimize(lowerPrefill(model));
  const programs: [string, Graph, number, number, readonly string[]][] = [
    ["prefill L = 7", prefill, 7, 0, mamba ? ["conv1d_silu", "fused_linear", "linear", "selective_scan"] : ["fused_linear"]],
    ["prefill L = 67", prefill, 67, 0, []],
    ["decode", optimize(lowerDecode(model)), 1, 9, mamba ? ["linear_conv_update", "fused_linear", "linear", "selective_state_update"] : ["fused_linear"]],
  ];
  it.each(programs)("%s: every generated kernel matches interp", async (_, g, L, pos, ops) => {
    const f = feed(model, L, pos);
    const nodes = g.nodes.filter((n) => hasGenerator(n.op));
    for (const op of ops) expect(nodes.map((n) => n.op)).toContain(op);
    for (const n of nodes) {
      const r = await runNode(g, n.id, f);
      const tol = n.op === "selective_scan" || n.op === "selective_state_update" ? 1e-4 : 1e-5;
      r.errors.forEach((e, i) => expect(e, `${r.spec.name} result ${i}`).toBeLessThanOrEqual(tol));
    }
  });
});
