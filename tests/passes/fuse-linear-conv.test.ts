// fuse-linear-conv (decode): a projection read by a conv step -> linear_conv_update, the conv and
// SiLU in the projection's epilogue. interp(pass(g)) = interp(g) on random Mamba-1 / Mamba-2
// layers (conv widths 1..4, with and without conv bias and in_proj bias, 1 or 2 groups), after
// the passes before it (in_proj with its norm prologue) and alone; verify; idempotence; what it
// leaves alone.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { verify, type Graph } from "../../compiler/ir/index.ts";
import { lowerDecode, lowerPrefill } from "../../compiler/lower/index.ts";
import { fuseConvAct, fuseLinearConv } from "../../compiler/passes/index.ts";
import { makeModel, mamba1, mamba2 } from "../ir/fixtures.ts";
import { checkPass, count, prefixOf, report } from "./harness.ts";

afterAll(() => report("fuse-linear-conv"));

const D = 8;
const layerArb = fc.oneof(
  fc.record({ dConv: fc.integer({ min: 1, max: 4 }), convBias: fc.boolean(), bias: fc.boolean(), dState: fc.constantFrom(2, 4) }).map((o) => mamba1(D, o)),
  fc
    .record({ dConv: fc.integer({ min: 1, max: 4 }), convBias: fc.boolean(), bias: fc.boolean(), dState: fc.constantFrom(2, 16), ngroups: fc.constantFrom(1, 2) })
    .map((o) => mamba2(D, { ...o, headdim: 4, chunk: 3 })),
);

describe("fuse-linear-conv", () => {
  it("preserves values, verifies and is idempotent on random decode layers", () => {
    fc.assert(
      fc.property(fc.array(layerArb, { minLength: 1, maxLength: 2 }), fc.integer({ min: 1, max: 1 << 30 }), (layers, seed) => {
        const model = makeModel({ dModel: D, vocab: 16, layers: layers.map((l) => [l]) });
        const g = lowerDecode(model);
        const out = checkPass(fuseLinearConv, prefixOf(fuseLinearConv, g), model, seed, 1, "fuse-linear-conv after its prefix");
        expect([count(out, "conv1d_silu_update"), count(out, "linear_conv_update")]).toEqual([0, layers.length]);
        // Alone after fuse-conv-act: in_proj is a plain linear (its norm a kernel of its own), or,
        // with a bias, a linear and an add, which the conv's slice reads: no projection to fuse into.
        const plain = checkPass(fuseLinearConv, fuseConvAct.run(g), model, seed, 1, "fuse-linear-conv after fuse-conv-act");
        expect(count(plain, "linear_conv_update")).toBe(layers.filter((l) => !l.bias).length);
      }),
      { numRuns: 30, seed: 11 },
    );
  });

  it("returns the new conv state as the op's second result, and slices of its first for the conv's readers", () => {
    const model = makeModel({ dModel: D, vocab: 16, layers: [[mamba2(D, { dState: 4, headdim: 4, chunk: 3 })]] });
    const g = fuseLinearConv.run(prefixOf(fuseLinearConv, lowerDecode(model)));
    const op = g.nodes.find((n) => n.op === "linear_conv_update")!;
    expect(g.outputs.find((o) => o.name === "layers.0.conv")!.value).toEqual({ node: op.id, index: 1 });
    // in_proj is [z | xBC | dt]: the conv covers xBC (d_inner + 2 * d_state columns) after z.
    expect(op.attrs).toMatchObject({ prologue: "rmsnorm", convStart: 2 * D, convWidth: 2 * D + 2 * 4, convBias: true });
    const readers = g.nodes.filter((n) => n.inputs.some((r) => r.node === op.id && r.index === 0));
    expect(readers.map((n) => n.op)).toEqual(["slice", "slice", "slice"]);
  });

  it("leaves prefill alone, and a decode whose raw conv columns are read elsewhere", () => {
    const model = makeModel({ dModel: D, vocab: 16, layers: [[mamba1(D, { dState: 4 })]] });
    const prefill = prefixOf(fuseLinearConv, lowerPrefill(model));
    expect(fuseLinearConv.run(prefill)).toEqual(prefill);
    const g = prefixOf(fuseLinearConv, lowerDecode(model));
    const conv = g.nodes.find((n) => n.op === "conv1d_silu_update")!;
    // tap the conv's input columns (a slice of in_proj's output): they must stay raw.
    const tapped: Graph = { ...g, outputs: [...g.outputs, { name: "raw", value: conv.inputs[0]! }] };
    const f = fuseLinearConv.run(tapped);
    verify(f);
    expect([count(f, "linear_conv_update"), count(f, "conv1d_silu_update")]).toEqual([0, 1]);
  });
});
