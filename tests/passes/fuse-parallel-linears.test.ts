// fuse-parallel-linears (projections of one input and prologue -> one fused_linear over all their
// weights, the old results slices of its output): interp(pass(g)) = interp(g) on random models
// (GQA, head dims, biases, RMSNorm / LayerNorm), alone and after its prefix; verify; idempotence;
// the slices stay views in the buffer plan; fuse-attention still fires; where it must not merge.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { relError, run } from "../../compiler/interp/index.ts";
import { GraphBuilder, verify, type Graph, type NodeOf, type ValueRef } from "../../compiler/ir/index.ts";
import { lowerDecode, lowerPrefill } from "../../compiler/lower/index.ts";
import { fuseAttention, fuseParallelLinears, optimize } from "../../compiler/passes/index.ts";
import { planGraph } from "../../compiler/plan/index.ts";
import { attention, makeModel, mlp } from "../ir/fixtures.ts";
import { Rng } from "../ir/prng.ts";
import { caseArb } from "./attention-models.ts";
import { checkPass, count, lower, prefixOf, record, report, TOL } from "./harness.ts";

afterAll(() => report("fuse-parallel-linears"));

const pass = fuseParallelLinears;
const fused = (g: Graph): NodeOf<"fused_linear">[] => g.nodes.filter((n): n is NodeOf<"fused_linear"> => n.op === "fused_linear");

describe("fuse-parallel-linears", () => {
  it("preserves values, verifies and is idempotent on random models (alone and after its prefix)", () => {
    fc.assert(
      fc.property(caseArb, ({ D, layers, norm, tied, L, seed, decode }) => {
        const model = makeModel({ dModel: D, vocab: 16, context: 32, norm, tied, layers });
        const g = lower(model, decode);
        const S = decode ? 1 : L;
        checkPass(pass, g, model, seed, S, `${pass.name} alone`);
        const o = checkPass(pass, prefixOf(pass, g), model, seed, S, `${pass.name} after its prefix`);
        // in the pipeline every attention block's q, k, v are one op, read by the attention op through slices
        const attn = o.nodes.filter((n) => n.op === "attention" || n.op === "attention_decode");
        expect(attn.length).toBe(layers.filter((l) => l[0]!.kind === "attention").length);
        for (const a of attn) {
          const srcs = a.inputs.slice(0, 3).map((r) => o.nodes[r.node]!);
          expect(srcs.map((s) => s.op)).toEqual(["slice", "slice", "slice"]);
          const qkv = o.nodes[srcs[0]!.inputs[0]!.node]! as NodeOf<"fused_linear">;
          expect(srcs.every((s) => s.inputs[0]!.node === qkv.id)).toBe(true);
          expect([qkv.op, qkv.attrs.weights, qkv.attrs.prologue]).toEqual(["fused_linear", 3, norm.kind]);
        }
      }),
      { numRuns: 60, seed: 4711 },
    );
  });

  it("merges q, k, v (GQA, biases) in the weights' order; the slices are views, not kernels", () => {
    const model = makeModel({ dModel: 8, vocab: 16, context: 16, layers: [[attention(8, { heads: 4, kvHeads: 2, headDim: 3, bias: true }), mlp({ hidden: 6 })]] });
    for (const decode of [false, true]) {
      const o = optimize(lower(model, decode));
      verify(o);
      const qkv = fused(o).find((n) => n.attrs.weights === 3)!;
      const name = (r: ValueRef) => { const n = o.nodes[r.node]!; return n.op === "weight" ? n.attrs.local : n.op; };
      expect(qkv.inputs.map(name)).toEqual(["embedding", "q_proj.weight", "k_proj.weight", "v_proj.weight", "input_norm.weight", "q_proj.bias", "k_proj.bias", "v_proj.bias"]);
      expect(qkv.results[0]!.shape).toEqual([decode ? 1 : "L", 12 + 6 + 6]);
      const slices = o.nodes.filter((n): n is NodeOf<"slice"> => n.op === "slice" && n.inputs[0]!.node === qkv.id);
      expect(slices.map((s) => [s.attrs.axis, s.attrs.start, s.attrs.size])).toEqual([[1, 0, 12], [1, 12, 6], [1, 18, 6]]);
      const plan = planGraph(o, { L: 5, pos: 3 });
      for (const s of slices) {
        expect(plan.values[s.id]![0]!.layout.base).toEqual({ node: qkv.id, index: 0 }); // a window onto the qkv output
        expect(plan.kernels.some((k) => k.node === s.id)).toBe(false);
      }
    }
  });

  it("leaves fuse-attention's match unchanged: it runs first and still fires on every attention block", () => {
    const model = makeModel({ dModel: 8, vocab: 16, context: 16, layers: [[attention(8, { heads: 2, kvHeads: 1, rope: { theta: 100, fraction: 1 } }), mlp({ hidden: 6 })], [attention(8, { heads: 2, window: 3 }), mlp({ hidden: 6 })]] });
    for (const g of [lowerPrefill(model), lowerDecode(model)]) {
      const before = fuseAttention.run(prefixOf(fuseAttention, g));
      const o = optimize(g);
      const op = g.name.endsWith("decode") ? "attention_decode" : "attention";
      expect([count(before, op), count(o, op)]).toEqual([2, 2]);
      expect(count(o, "attn_scores") + count(o, "softmax") + count(o, "rope") + count(o, "cache_write")).toBe(0);
    }
  });

  it("keeps a projection with a residual or an activation apart", () => {
    // a projection whose result gets a residual or an activation keeps its own kernel; the rest still merge
    const model = makeModel({ dModel: 8, vocab: 16, context: 16, layers: [[attention(8, { heads: 2 }), mlp({ activation: "gelu", hidden: 6 })]] });
    const o = optimize(lowerPrefill(model));
    expect(fused(o).map((n) => [n.attrs.weights, n.attrs.activation, n.attrs.residual])).toEqual([
      [3, "none", false], // q, k, v
      [1, "none", true], // o_proj + residual
      [1, "gelu", false], // up + GELU
      [1, "none", true], // down + residual
      [1, "none", false], // final norm + LM head
    ]);
  });
});

/** A hand-built graph over a float input x [3, 4] and named weights, with one output per value. */
function hand(build: (b: GraphBuilder, x: ValueRef, w: (name: string, shape: number[]) => ValueRef) => ValueRef[]): Graph {
  const b = new GraphBuilder("hand");
  const x = b.input("x", "state", { dtype: "f32", shape: [3, 4] });
  const w = (name: string, shape: number[]) => b.weight({ name, local: name, layer: 0, sublayer: 0, type: { dtype: "f32", shape } });
  return b.finish(build(b, x, w).map((value, i) => ({ name: `y${i}`, value })));
}

function evalHand(g: Graph, seed: number): Float64Array {
  const rng = new Rng(seed);
  const weights: Record<string, Float64Array> = {};
  for (const n of g.nodes) if (n.op === "weight") weights[n.attrs.name] = Float64Array.from({ length: n.attrs.type.shape.reduce<number>((a, d) => a * (d as number), 1) }, () => rng.normal());
  const out = run(g, { inputs: { x: Float64Array.from({ length: 12 }, () => 2 * rng.normal()) }, weights });
  return Float64Array.from(g.outputs.flatMap((o) => [...out[o.name]!.data]));
}

describe("fuse-parallel-linears on hand-built graphs", () => {
  type W = (name: string, shape: number[]) => ValueRef;
  const rms = (w: ValueRef, eps = 1e-5) => ({ kind: "rmsnorm" as const, w, eps, group: 4 });
  const cases: [string, number[], (b: GraphBuilder, x: ValueRef, w: W) => ValueRef[]][] = [
    ["plain linears of x: one op", [2], (b, x, w) => [b.linear(x, w("a", [2, 4])), b.linear(x, w("b", [3, 4]))]],
    ["same norm: one op; a different norm weight: apart", [2, 1], (b, x, w) => {
      const n = w("n", [4]);
      return [b.fusedLinear({ x, W: [w("a", [2, 4])], norm: rms(n) }), b.fusedLinear({ x, W: [w("b", [3, 4])], norm: rms(n) }), b.fusedLinear({ x, W: [w("c", [3, 4])], norm: rms(w("n2", [4])) })];
    }],
    ["different eps or group: apart", [1, 1, 1], (b, x, w) => {
      const n = w("n", [4]);
      return [b.fusedLinear({ x, W: [w("a", [2, 4])], norm: rms(n) }), b.fusedLinear({ x, W: [w("b", [3, 4])], norm: rms(n, 1e-6) }), b.fusedLinear({ x, W: [w("c", [3, 4])], norm: { ...rms(n), group: 2 } })];
    }],
    ["layernorm prologues with the same weights: one op", [3], (b, x, w) => {
      const norm = { kind: "layernorm" as const, w: w("n", [4]), b: w("nb", [4]), eps: 1e-5 };
      return ["a", "b", "c"].map((k) => b.fusedLinear({ x, W: [w(k, [2, 4])], norm }));
    }],
    ["bias on some only: the biased ones together, the rest together", [2, 2], (b, x, w) => [
      b.fusedLinear({ x, W: [w("a", [2, 4])], bias: [w("ab", [2])] }),
      b.linear(x, w("b", [3, 4])),
      b.fusedLinear({ x, W: [w("c", [1, 4])], bias: [w("cb", [1])] }),
      b.linear(x, w("d", [2, 4])),
    ]],
    ["residual or activation: apart", [1, 1, 1], (b, x, w) => [
      b.linear(x, w("a", [2, 4])),
      b.fusedLinear({ x, W: [w("b", [4, 4])], residual: x }),
      b.fusedLinear({ x, W: [w("c", [3, 4])], activation: "gelu" }),
    ]],
    ["different inputs: apart", [1, 1], (b, x, w) => [b.linear(x, w("a", [2, 4])), b.linear(b.exp(x), w("b", [2, 4]))]],
    ["the same weight twice: one op, both slices", [2], (b, x, w) => {
      const a = w("a", [2, 4]);
      return [b.linear(x, a), b.linear(x, a)];
    }],
  ];
  it.each(cases)("%s", (_, groups, build) => {
    const g = hand(build);
    const o = pass.run(g);
    verify(o);
    expect(o.nodes.filter((n) => n.op === "linear" || n.op === "fused_linear").map((n) => (n.op === "linear" ? 1 : n.attrs.weights))).toEqual(groups);
    expect(pass.run(o)).toEqual(o);
    const err = relError(evalHand(o, 3), evalHand(g, 3));
    record("hand-built", err);
    expect(err).toBeLessThanOrEqual(TOL);
  });
});
