// The linear and norm fusions: fuse-linear-epilogue (bias / residual add -> fused_linear),
// fuse-add-norm (add + rmsnorm -> add_rmsnorm) and fuse-norm-prologue (rmsnorm / layernorm read
// only by linears -> fused_linear prologue). Each: interp(pass(g)) = interp(g) on random models,
// alone and after the passes before it, verify, idempotence; then where each one fires.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { BlockConfig, NormConfig } from "../../compiler/check/model.ts";
import { verify, type Graph, type NodeOf } from "../../compiler/ir/index.ts";
import { lowerDecode, lowerPrefill } from "../../compiler/lower/index.ts";
import { fuseAddNorm, fuseLinearEpilogue, fuseNormPrologue, optimize } from "../../compiler/passes/index.ts";
import { attention, makeModel, mamba1, mamba2, mlp } from "../ir/fixtures.ts";
import { checkPass, count, lower, prefixOf, record, report, sameValues } from "./harness.ts";

afterAll(() => report("linear and norm fusions"));

const D = 8;
const layerArb: fc.Arbitrary<BlockConfig[]> = fc.oneof(
  fc.record({ bias: fc.boolean(), innerNorms: fc.boolean() }).map((o) => [mamba1(D, { dState: 4, ...o })]),
  fc.record({ bias: fc.boolean(), normBeforeGate: fc.boolean(), normGroup: fc.constantFrom(4, 8, 16) }).map((o) => [mamba2(D, { dState: 4, headdim: 8, chunk: 3, ...o })]),
  fc.record({ bias: fc.boolean(), kvHeads: fc.constantFrom(1, 2) }).map((o) => [attention(D, { heads: 2, rope: { theta: 100, fraction: 1 }, ...o }), mlp({ hidden: 12, bias: o.bias })]),
  fc.constantFrom("gelu", "relu2", "swiglu").map((a) => [mlp({ activation: a as "gelu", hidden: 12, bias: true })]),
);
const normArb: fc.Arbitrary<NormConfig> = fc.constantFrom({ kind: "rmsnorm", eps: 1e-5 }, { kind: "layernorm", eps: 1e-6 });
const caseArb = fc.record({
  layers: fc.array(layerArb, { minLength: 1, maxLength: 3 }),
  norm: normArb,
  tied: fc.boolean(),
  L: fc.integer({ min: 1, max: 12 }),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
  decode: fc.boolean(),
});

describe.each([fuseLinearEpilogue, fuseAddNorm, fuseNormPrologue])("$name", (pass) => {
  it("preserves values, verifies and is idempotent on random models (alone and in the pipeline)", () => {
    fc.assert(
      fc.property(caseArb, ({ layers, norm, tied, L, seed, decode }) => {
        const model = makeModel({ dModel: D, vocab: 16, context: 32, norm, tied, layers });
        const g = lower(model, decode);
        const S = decode ? 1 : L;
        checkPass(pass, g, model, seed, S);
        checkPass(pass, prefixOf(pass, g), model, seed, S, `${pass.name} after its prefix`);
      }),
      { numRuns: 30, seed: 31337 },
    );
  });
});

type Projection = NodeOf<"fused_linear"> | NodeOf<"linear_conv_update">;
const fused = (g: Graph): Projection[] => g.nodes.filter((n): n is Projection => n.op === "fused_linear" || n.op === "linear_conv_update");
/** The projections' fused_linear attrs (a decode in_proj is a linear_conv_update: its conv attrs dropped here). */
const attrsOf = (g: Graph) =>
  fused(g).map((n) => {
    if (n.op === "fused_linear") return n.attrs;
    const { convStart: _s, convWidth: _w, convBias: _b, ...linear } = n.attrs;
    return linear;
  });

describe("where the linear fusions fire", () => {
  it("folds bias then residual into out_proj, and the norm plus bias into in_proj", () => {
    const model = makeModel({ dModel: D, vocab: 16, layers: [[mamba1(D, { dState: 4, bias: true })]] });
    for (const g of [lowerPrefill(model), lowerDecode(model)]) {
      const o = optimize(g);
      verify(o);
      expect(count(o, "add")).toBe(0);
      expect(count(o, "rmsnorm")).toBe(0);
      expect(attrsOf(o)).toEqual([
        { weights: 1, prologue: "rmsnorm", eps: 1e-5, normGroup: D, bias: true, activation: "none", residual: false }, // in_proj
        { weights: 1, prologue: "none", eps: null, normGroup: null, bias: true, activation: "none", residual: true }, // out_proj + h
        { weights: 1, prologue: "rmsnorm", eps: 1e-5, normGroup: D, bias: false, activation: "none", residual: false }, // final norm + LM head
      ]);
    }
  });

  it("keeps add_rmsnorm where the add cannot go into an epilogue (the projection is read elsewhere)", () => {
    const model = makeModel({ dModel: D, vocab: 16, layers: [[mamba1(D, { dState: 4 })], [mamba1(D, { dState: 4 })]] });
    for (const decode of [false, true]) {
      const g = lower(model, decode);
      // tap layer 0's out_proj: its add must stay, so the next layer's norm fuses with it
      const outProj = g.nodes.filter((n) => n.op === "linear")[3]!; // in_proj, x_proj, dt_proj, out_proj
      const tapped: Graph = { ...g, outputs: [...g.outputs, { name: "out0", value: { node: outProj.id, index: 0 } }] };
      const o = optimize(tapped);
      verify(o);
      expect(count(o, "add_rmsnorm")).toBe(1);
      const an = o.nodes.find((n) => n.op === "add_rmsnorm")!;
      // layer 1's in_proj reads the normed result as a plain linear (no second norm)
      // (in decode, with the conv step in its epilogue: a linear_conv_update without a prologue)
      const plain = (n: Graph["nodes"][number]) => n.op === "linear" || (n.op === "linear_conv_update" && n.attrs.prologue === "none");
      expect(o.nodes.some((n) => plain(n) && n.inputs[0]!.node === an.id && n.inputs[0]!.index === 1)).toBe(true);
      record("optimize with add_rmsnorm", sameValues(tapped, o, model, 11, decode ? 1 : 9));
    }
  });

  it("fuse-add-norm alone takes every residual add followed by a norm", () => {
    const model = makeModel({ dModel: D, vocab: 16, layers: [[mamba1(D, { dState: 4 })], [mamba2(D, { dState: 4, headdim: 8 })], [attention(D, { heads: 2 }), mlp({ hidden: 12 })]] });
    const g = fuseAddNorm.run(lowerPrefill(model));
    verify(g);
    // 4 sublayers: the adds after the first three feed the next norm, the last one the final norm
    expect(count(g, "add_rmsnorm")).toBe(4);
  });

  it("gives every projection of a norm its own prologue (q, k, v; gate, up; LM head)", () => {
    const model = makeModel({ dModel: D, vocab: 16, context: 16, layers: [[attention(D, { heads: 2, kvHeads: 1 }), mlp({ hidden: 12 })]] });
    // the pipeline up to fuse-norm-prologue: fuse-activation-epilogue and fuse-parallel-linears merge them afterwards
    const o = fuseNormPrologue.run(prefixOf(fuseNormPrologue, lowerPrefill(model)));
    verify(o);
    expect(count(o, "rmsnorm")).toBe(0);
    expect(fused(o).map((n) => n.attrs.prologue)).toEqual(["rmsnorm", "rmsnorm", "rmsnorm", "none", "rmsnorm", "rmsnorm", "none", "rmsnorm"]);
  });

  it("takes a layernorm as the prologue too", () => {
    const model = makeModel({ dModel: D, vocab: 16, norm: { kind: "layernorm", eps: 1e-6 }, layers: [[mamba1(D, { dState: 4 })]] });
    const o = optimize(lowerDecode(model));
    verify(o);
    expect(count(o, "layernorm")).toBe(0);
    expect(attrsOf(o).map((a) => [a.prologue, a.normGroup])).toEqual([
      ["layernorm", D],
      ["none", null],
      ["layernorm", D],
    ]);
  });

  it("leaves a norm alone when something other than a projection reads it", () => {
    const model = makeModel({ dModel: D, vocab: 16, layers: [[mamba1(D, { dState: 4 })]] });
    const g = lowerPrefill(model);
    const norm = g.nodes.find((n) => n.op === "rmsnorm")!;
    const tapped: Graph = { ...g, outputs: [...g.outputs, { name: "normed", value: { node: norm.id, index: 0 } }] };
    const o = fuseNormPrologue.run(tapped);
    verify(o);
    expect(count(o, "rmsnorm")).toBe(1); // the final norm still fuses into the LM head
    expect(o.nodes.find((n) => n.op === "rmsnorm")!.attrs).toEqual(norm.attrs);
  });
});
