// fuse-activation-epilogue (silu(gate) * up, gelu, relu^2 -> the fused_linear epilogue):
// interp(pass(g)) = interp(g) on random attention / Mamba + MLP models (SwiGLU, GELU, ReLU^2,
// biases, RMSNorm and LayerNorm prologues, GQA), alone and after the passes before it; verify;
// idempotence; then where it fires and where it must not.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { relError, run } from "../../compiler/interp/index.ts";
import { GraphBuilder, verify, type Graph, type NodeOf, type ValueRef } from "../../compiler/ir/index.ts";
import { lowerPrefill } from "../../compiler/lower/index.ts";
import { fuseActivationEpilogue, fuseLinearEpilogue } from "../../compiler/passes/index.ts";
import { attention, makeModel, mlp } from "../ir/fixtures.ts";
import { Rng } from "../ir/prng.ts";
import { caseArb } from "./attention-models.ts";
import { checkPass, count, lower, prefixOf, record, report, sameValues, TOL } from "./harness.ts";

afterAll(() => report("fuse-activation-epilogue"));

const pass = fuseActivationEpilogue;
const fused = (g: Graph): NodeOf<"fused_linear">[] => g.nodes.filter((n): n is NodeOf<"fused_linear"> => n.op === "fused_linear");

describe("fuse-activation-epilogue", () => {
  it("preserves values, verifies and is idempotent on random models (alone and after its prefix)", () => {
    fc.assert(
      fc.property(caseArb, ({ D, layers, norm, tied, L, seed, decode }) => {
        const model = makeModel({ dModel: D, vocab: 16, context: 32, norm, tied, layers });
        const g = lower(model, decode);
        const S = decode ? 1 : L;
        checkPass(pass, g, model, seed, S, `${pass.name} alone`);
        const o = checkPass(pass, prefixOf(pass, g), model, seed, S, `${pass.name} after its prefix`);
        // every MLP's activation went into its projection
        expect(count(o, "silu") + count(o, "gelu") + count(o, "relu")).toBe(0);
      }),
      { numRuns: 60, seed: 777 },
    );
  });

  it.each([
    ["swiglu", 2, false],
    ["swiglu", 2, true],
    ["gelu", 1, true],
    ["relu2", 1, false],
  ] as const)("%s: one op over %i weight(s) (bias %s), biases before the activation", (activation, weights, bias) => {
    const model = makeModel({ dModel: 8, vocab: 16, layers: [[mlp({ activation, hidden: 6, bias })]] });
    for (const decode of [false, true]) {
      const g = lower(model, decode);
      const o = pass.run(prefixOf(pass, g));
      verify(o);
      const act = fused(o).filter((n) => n.attrs.activation !== "none");
      expect(act.map((n) => [n.attrs.activation, n.attrs.weights, n.attrs.bias, n.attrs.prologue, n.results[0]!.shape.at(-1)])).toEqual([[activation, weights, bias, "rmsnorm", 6]]);
      expect(count(o, "mul") + count(o, "add")).toBe(0);
      record(`${activation} bias=${bias}`, sameValues(g, o, model, 5, decode ? 1 : 7));
    }
  });

  it("leaves SwiGLU alone when the gate projection is read elsewhere (it must be stored)", () => {
    const model = makeModel({ dModel: 8, vocab: 16, context: 16, layers: [[attention(8, { heads: 2 }), mlp({ hidden: 6 })]] });
    const g = prefixOf(pass, lowerPrefill(model));
    const gate = fused(g).find((n) => n.results[0]!.shape.at(-1) === 6)!;
    const tapped: Graph = { ...g, outputs: [...g.outputs, { name: "gate", value: { node: gate.id, index: 0 } }] };
    const o = pass.run(tapped);
    verify(o);
    expect([count(o, "silu"), count(o, "mul")]).toEqual([1, 1]);
    expect(fused(o).every((n) => n.attrs.activation === "none")).toBe(true);
  });
});

/** A hand-built graph over a float input x [3, 4] and named weights; evaluated on random data. */
function hand(build: (b: GraphBuilder, x: ValueRef, w: (name: string, shape: number[]) => ValueRef) => ValueRef): Graph {
  const b = new GraphBuilder("hand");
  const x = b.input("x", "state", { dtype: "f32", shape: [3, 4] });
  const w = (name: string, shape: number[]) => b.weight({ name, local: name, layer: 0, sublayer: 0, type: { dtype: "f32", shape } });
  return b.finish([{ name: "y", value: build(b, x, w) }]);
}

function evalHand(g: Graph, seed: number): Float64Array {
  const rng = new Rng(seed);
  const weights: Record<string, Float64Array> = {};
  for (const n of g.nodes) if (n.op === "weight") weights[n.attrs.name] = Float64Array.from({ length: n.attrs.type.shape.reduce<number>((a, d) => a * (d as number), 1) }, () => rng.normal());
  return run(g, { inputs: { x: Float64Array.from({ length: 12 }, () => 2 * rng.normal()) }, weights }).y!.data;
}

describe("fuse-activation-epilogue on hand-built graphs", () => {
  const norm = (w: ValueRef, eps = 1e-5) => ({ kind: "rmsnorm" as const, w, eps, group: 4 });
  const cases: [string, boolean, (b: GraphBuilder, x: ValueRef, w: (name: string, shape: number[]) => ValueRef) => ValueRef][] = [
    ["same x, same prologue: fused", true, (b, x, w) => {
      const nw = w("n", [4]);
      return b.mul(b.silu(b.fusedLinear({ x, W: [w("g", [5, 4])], norm: norm(nw) })), b.fusedLinear({ x, W: [w("u", [5, 4])], norm: norm(nw) }));
    }],
    ["up first in the mul: fused", true, (b, x, w) => b.mul(b.linear(x, w("u", [5, 4])), b.silu(b.linear(x, w("g", [5, 4]))))],
    ["different norm weights: not fused", false, (b, x, w) =>
      b.mul(b.silu(b.fusedLinear({ x, W: [w("g", [5, 4])], norm: norm(w("n1", [4])) })), b.fusedLinear({ x, W: [w("u", [5, 4])], norm: norm(w("n2", [4])) })),
    ],
    ["different eps: not fused", false, (b, x, w) => {
      const nw = w("n", [4]);
      return b.mul(b.silu(b.fusedLinear({ x, W: [w("g", [5, 4])], norm: norm(nw) })), b.fusedLinear({ x, W: [w("u", [5, 4])], norm: norm(nw, 1e-6) }));
    }],
    ["bias on the gate only: not fused", false, (b, x, w) => b.mul(b.silu(b.fusedLinear({ x, W: [w("g", [5, 4])], bias: [w("gb", [5])] })), b.linear(x, w("u", [5, 4])))],
    ["different inputs: not fused", false, (b, x, w) => b.mul(b.silu(b.linear(x, w("g", [5, 4]))), b.linear(b.exp(x), w("u", [5, 4])))],
    ["silu(a) * a: not fused", false, (b, x, w) => {
      const a = b.linear(x, w("g", [5, 4]));
      return b.mul(b.silu(a), a);
    }],
    ["broadcast halves [3,1] * [3,5]: not fused", false, (b, x, w) => b.mul(b.silu(b.linear(x, w("g", [1, 4]))), b.linear(x, w("u", [5, 4])))],
    ["a residual already in the projection: not fused", false, (b, x, w) => b.gelu(b.fusedLinear({ x, W: [w("u", [4, 4])], residual: x }))],
    ["relu(a) * relu(a) from two relus: not fused", false, (b, x, w) => {
      const a = b.linear(x, w("u", [5, 4]));
      return b.mul(b.relu(a), b.relu(a));
    }],
  ];
  it.each(cases)("%s", (_, fires, build) => {
    const g = hand(build);
    const o = pass.run(g);
    verify(o);
    expect(fused(o).some((n) => n.attrs.activation !== "none"), "fired").toBe(fires);
    const err = relError(evalHand(o, 3), evalHand(g, 3));
    record("hand-built", err);
    expect(err).toBeLessThanOrEqual(TOL);
  });

  it("then fuse-linear-epilogue: a later bias add stays outside the activation, a residual add goes in after it", () => {
    for (const [what, folds] of [["bias", false], ["residual", true]] as const) {
      const g = hand((b, x, w) => b.add(b.gelu(b.linear(x, w("u", [4, 4]))), what === "bias" ? w("c", [4]) : x));
      const o = fuseLinearEpilogue.run(pass.run(g));
      verify(o);
      const f = fused(o)[0]!;
      expect([f.attrs.activation, f.attrs.bias, f.attrs.residual, count(o, "add")]).toEqual(["gelu", false, folds, folds ? 0 : 1]);
      const err = relError(evalHand(o, 4), evalHand(g, 4));
      record("hand-built", err);
      expect(err).toBeLessThanOrEqual(TOL);
    }
  });

  it("the type rule: swiglu takes two weights of equal width", () => {
    expect(() => hand((b, x, w) => b.fusedLinear({ x, W: [w("g", [5, 4]), w("u", [6, 4])], activation: "swiglu" }))).toThrow(/swiglu takes two weights/);
    expect(() => hand((b, x, w) => b.fusedLinear({ x, W: [w("g", [5, 4])], activation: "swiglu" }))).toThrow(/swiglu takes two weights/);
    const g = hand((b, x, w) => b.fusedLinear({ x, W: [w("g", [5, 4]), w("u", [5, 4])], bias: [w("gb", [5]), w("ub", [5])], activation: "swiglu", residual: b.broadcastTo(w("r", [5]), [3, 5]) }));
    verify(g);
    expect(g.nodes.find((n) => n.op === "fused_linear")!.results[0]!.shape).toEqual([3, 5]);
  });
});

describe("fused_linear interp against the formula, by hand", () => {
  it("y = act([x W1^T + b1 | x W2^T + b2]) + r for every activation", () => {
    const rng = new Rng(9);
    const rnd = (n: number) => Float64Array.from({ length: n }, () => rng.normal());
    const [x, W1, W2, b1, b2, r] = [rnd(6), rnd(6), rnd(6), rnd(2), rnd(2), rnd(8)]; // x [2,3], W [2,3], r [2,4] or [2,2]
    const z = (row: number, W: Float64Array, bb: Float64Array, o: number) => W[o * 3]! * x[row * 3]! + W[o * 3 + 1]! * x[row * 3 + 1]! + W[o * 3 + 2]! * x[row * 3 + 2]! + bb[o]!;
    const silu = (v: number) => v / (1 + Math.exp(-v));
    for (const activation of ["none", "gelu", "relu2", "swiglu"] as const) {
      const b = new GraphBuilder("f");
      const xi = b.input("x", "state", { dtype: "f32", shape: [2, 3] });
      const w = (name: string, shape: number[]) => b.weight({ name, local: name, layer: 0, sublayer: 0, type: { dtype: "f32", shape } });
      const width = activation === "swiglu" ? 2 : 4;
      const y = b.fusedLinear({ x: xi, W: [w("W1", [2, 3]), w("W2", [2, 3])], bias: [w("b1", [2]), w("b2", [2])], activation, residual: b.input("r", "state", { dtype: "f32", shape: [2, width] }) });
      const g = b.finish([{ name: "y", value: y }]);
      const got = run(g, { inputs: { x, r: r.subarray(0, 2 * width) }, weights: { W1, W2, b1, b2 } }).y!.data;
      for (let row = 0; row < 2; row++) {
        const zs = [z(row, W1, b1, 0), z(row, W1, b1, 1), z(row, W2, b2, 0), z(row, W2, b2, 1)];
        const act = (v: number) => (activation === "gelu" ? 0.5 * v * (1 + erfApprox(v / Math.SQRT2)) : activation === "relu2" ? Math.max(v, 0) ** 2 : v);
        const want = activation === "swiglu" ? [silu(zs[0]!) * zs[2]!, silu(zs[1]!) * zs[3]!] : zs.map(act);
        want.forEach((v, j) => expect(got[row * width + j]!).toBeCloseTo(v + r[row * width + j]!, activation === "gelu" ? 6 : 12));
      }
    }
  });
});

/** Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7): an independent check of the exact-erf GELU. */
function erfApprox(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return Math.sign(x) * y;
}
