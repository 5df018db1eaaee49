/**
 * The unfused program (`--no-fuse`: the lowering's graph with no optimizer pass) of tiny models:
 * every node that has a generator (embedding, the elementwise ops with the lowering's broadcast
 * shapes, rmsnorm / layernorm, linear, ...) runs on the adapter against interp of the whole graph.
 * Ops without a generator yet (reduce_sum, softmax, conv1d_causal, linear_recurrence, the attention
 * primitives, ...) are listed, not run.
 */
import { describe, expect, it } from "vitest";
import type { ResolvedModel } from "../../compiler/check/model.ts";
import { hasGenerator } from "../../compiler/codegen/index.ts";
import type { Graph } from "../../compiler/ir/graph.ts";
import { lowerDecode, lowerPrefill, stateSlots } from "../../compiler/lower/index.ts";
import { attention, makeModel, mamba1, mamba2, mlp, randomTokens, randomWeights } from "../ir/fixtures.ts";
import { Rng } from "../ir/prng.ts";
import { runNode } from "./harness.ts";

const MODELS: readonly [string, ResolvedModel][] = [
  ["mamba-1, d_model 16", makeModel({ dModel: 16, layers: [[mamba1(16, { bias: true })]] })],
  ["mamba-2, d_model 16, 2 groups", makeModel({ dModel: 16, layers: [[mamba2(16, { headdim: 8, dState: 16, ngroups: 2 })]] })],
  [
    "jamba-like, d_model 18, layernorm, inner norms, gelu MLP",
    makeModel({
      dModel: 18,
      norm: { kind: "layernorm", eps: 1e-5 },
      tied: false,
      layers: [[mamba1(18, { innerNorms: true }), mlp({ hidden: 20, activation: "gelu", bias: true })], [attention(18, { heads: 3, kvHeads: 1 }), mlp({ hidden: 12 })]],
    }),
  ],
];

function feed(model: ResolvedModel, L: number, pos: number) {
  const rng = new Rng(L * 17 + pos);
  const inputs: Record<string, Float64Array> = { tokens: Float64Array.from(randomTokens(model, L, L)), pos: Float64Array.of(pos) };
  for (const s of stateSlots(model)) inputs[s.name] = rng.array(s.type.shape.reduce<number>((a, d) => a * (d as number), 1), () => 0.5 * rng.normal());
  return { L, inputs, weights: randomWeights(model, 3) };
}

describe.each(MODELS)("%s, unfused", (_, model) => {
  const programs: [string, Graph, number, number][] = [
    ["prefill L = 7", lowerPrefill(model), 7, 0],
    ["prefill L = 67", lowerPrefill(model), 67, 0],
    ["decode", lowerDecode(model), 1, 9],
  ];
  it.each(programs)("%s: every generated kernel matches interp", async (_, g, L, pos) => {
    const f = feed(model, L, pos);
    const nodes = g.nodes.filter((n) => hasGenerator(n.op));
    for (const op of ["embedding", "add", "mul", "silu"]) expect(nodes.map((n) => n.op)).toContain(op);
    for (const n of nodes) {
      const r = await runNode(g, n.id, f);
      r.errors.forEach((e, i) => expect(e, `${r.spec.name} (${n.op}) result ${i}`).toBeLessThanOrEqual(1e-5));
    }
    // Dozens of kernels per program: a cold shader cache compiles them all (17 s measured, alone).
  }, 240_000);
});
