/**
 * The unfused program (`--no-fuse`: the lowering's graph with no optimizer pass) of tiny models:
 * EVERY kernel node (everything but graph inputs, weights and views, load-time constants
 * included) must have a generator, and each runs on the adapter against interp of the whole graph.
 * The models cover Mamba-1 (plain and with inner norms), Mamba-2 with 1 and 2 groups, and
 * attention as GQA (partial RoPE, window 5) and MQA (no RoPE, no window); programs are prefill at L = 1, 7 and 67 (a prime above the conv and scan tiles) at
 * nonzero start positions, and decode.
 *
 * Tolerances (norm-wise, max|gpu - ref| / max|ref|): 1e-5 for pointwise ops, norms, rope,
 * cache_write and the mask; 1e-4 for the contractions and sequences (linear, reductions,
 * linear_recurrence, softmax, attention scores and values). A masked score is -inf in interp and
 * MASKED (-FLT_MAX, wgsl/softmax.ts) on the GPU: those positions must match exactly.
 */
import { describe, expect, it } from "vitest";
import type { ResolvedModel } from "../../compiler/check/model.ts";
import { hasGenerator } from "../../compiler/codegen/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import type { Graph } from "../../compiler/ir/graph.ts";
import type { OpName } from "../../compiler/ir/ops.ts";
import { lowerDecode, lowerPrefill, stateSlots } from "../../compiler/lower/index.ts";
import { isView, layouts } from "../../compiler/plan/views.ts";
import { attention, makeModel, mamba1, mamba2, mlp, randomTokens, randomWeights } from "../ir/fixtures.ts";
import { Rng } from "../ir/prng.ts";
import { runNode } from "./harness.ts";

const MODELS: readonly [string, ResolvedModel][] = [
  ["mamba-1, d_model 16", makeModel({ dModel: 16, layers: [[mamba1(16, { bias: true })]] })],
  ["mamba-2, d_model 16, 2 groups", makeModel({ dModel: 16, layers: [[mamba2(16, { headdim: 8, dState: 16, ngroups: 2 })]] })],
  ["mamba-2, d_model 12, 1 group, d_conv 3", makeModel({ dModel: 12, layers: [[mamba2(12, { headdim: 6, dState: 5, dConv: 3 })]] })],
  [
    "jamba-like, d_model 18, layernorm, inner norms, gelu MLP",
    makeModel({
      dModel: 18,
      norm: { kind: "layernorm", eps: 1e-5 },
      tied: false,
      layers: [[mamba1(18, { innerNorms: true }), mlp({ hidden: 20, activation: "gelu", bias: true })]],
    }),
  ],
  [
    "attention: GQA with partial rope and window 5, then MQA without rope",
    makeModel({
      dModel: 16,
      layers: [[attention(16, { heads: 4, kvHeads: 2, rope: { theta: 10_000, fraction: 0.5 }, window: 5 })], [attention(16, { heads: 3, kvHeads: 1, headDim: 6 })]],
    }),
  ],
];

/** Ops held to 1e-4 (sums over many terms, or recurrences); every other op to 1e-5. */
const LOOSE = new Set<OpName>(["linear", "reduce_sum", "linear_recurrence", "softmax", "attn_scores", "attn_values"]);

/** Every node that launches a kernel, per call or at load: not a graph input, a weight or a view. */
function kernelNodes(g: Graph, L: number) {
  const lay = layouts(g, L);
  return g.nodes.filter((n) => n.op !== "input" && n.op !== "weight" && !isView(g, lay, n.id));
}

/** The error of a result where interp's -inf (a masked score) must be the GPU's MASKED exactly. */
function maskedError(gpu: Float64Array, ref: Float64Array): number {
  const masked = ref.map((r) => (r === -Infinity ? 1 : 0));
  for (let i = 0; i < ref.length; i++) if (masked[i] === 1 && !(gpu[i]! <= -3.4e38)) return Infinity;
  const keep = (a: Float64Array) => a.filter((_, i) => masked[i] === 0);
  return relError(keep(gpu), keep(ref));
}

function feed(model: ResolvedModel, L: number, pos: number) {
  const rng = new Rng(L * 17 + pos);
  const inputs: Record<string, Float64Array> = { tokens: Float64Array.from(randomTokens(model, L, L)), pos: Float64Array.of(pos) };
  for (const s of stateSlots(model)) inputs[s.name] = rng.array(s.type.shape.reduce<number>((a, d) => a * (d as number), 1), () => 0.5 * rng.normal());
  return { L, inputs, weights: randomWeights(model, 3) };
}

describe.each(MODELS)("%s, unfused", (_, model) => {
  const programs: [string, Graph, number, number][] = [
    ["prefill L = 1 at pos 4", lowerPrefill(model), 1, 4],
    ["prefill L = 7", lowerPrefill(model), 7, 0],
    ["prefill L = 67 at pos 3", lowerPrefill(model), 67, 3],
    ["decode at pos 9", lowerDecode(model), 1, 9],
  ];

  it("every kernel node of the prefill and decode programs has a generator", () => {
    for (const [, g, L] of programs) {
      const missing = kernelNodes(g, L).filter((n) => !hasGenerator(n.op));
      expect(missing.map((n) => `%${n.id} ${n.op}`)).toEqual([]);
    }
  });

  it.each(programs)("%s: every kernel matches interp", async (_, g, L, pos) => {
    const f = feed(model, L, pos);
    const nodes = kernelNodes(g, L);
    expect(nodes.length).toBeGreaterThan(10);
    for (const n of nodes) {
      const r = await runNode(g, n.id, f);
      const tol = LOOSE.has(n.op) ? 1e-4 : 1e-5;
      r.gpu.forEach((y, i) => expect(maskedError(y, r.ref[i]!), `${r.spec.name} (${n.op}) result ${i}`).toBeLessThanOrEqual(tol));
    }
    // Dozens of kernels per program: a cold shader cache compiles them all (17 s measured, alone).
  }, 240_000);
});
