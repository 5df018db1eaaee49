// fuse-conv-act: conv1d_causal (+ bias) + SiLU -> conv1d_silu (prefill) / conv1d_silu_update
// (decode). interp(pass(g)) = interp(g) on random Mamba-1 / Mamba-2 layers, with and without
// conv bias, widths 1..4, alone and after the passes before it; verify; idempotence.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { verify, type Graph } from "../../compiler/ir/index.ts";
import { lowerDecode, lowerPrefill } from "../../compiler/lower/index.ts";
import { fuseConvAct } from "../../compiler/passes/index.ts";
import { makeModel, mamba1, mamba2 } from "../ir/fixtures.ts";
import { checkPass, count, lower, prefixOf, report } from "./harness.ts";

afterAll(() => report("fuse-conv-act"));

const D = 8;
const layerArb = fc.oneof(
  fc.record({ dConv: fc.integer({ min: 1, max: 4 }), convBias: fc.boolean(), dState: fc.constantFrom(2, 4) }).map((o) => mamba1(D, o)),
  fc.record({ dConv: fc.integer({ min: 1, max: 4 }), convBias: fc.boolean(), dState: fc.constantFrom(2, 16), ngroups: fc.constantFrom(1, 2) }).map((o) => mamba2(D, { ...o, headdim: 4, chunk: 3 })),
);

describe("fuse-conv-act", () => {
  it("preserves values, verifies and is idempotent on random layers", () => {
    fc.assert(
      fc.property(fc.array(layerArb, { minLength: 1, maxLength: 2 }), fc.constantFrom(1, 2, 7, 37), fc.integer({ min: 1, max: 1 << 30 }), fc.boolean(), (layers, L, seed, decode) => {
        const model = makeModel({ dModel: D, vocab: 16, layers: layers.map((l) => [l]) });
        const g = lower(model, decode);
        const S = decode ? 1 : L;
        const out = checkPass(fuseConvAct, g, model, seed, S, `fuse-conv-act ${decode ? "decode" : "prefill"}`);
        expect([count(out, "conv1d_causal"), count(out, decode ? "conv1d_silu_update" : "conv1d_silu")]).toEqual([0, layers.length]);
        checkPass(fuseConvAct, prefixOf(fuseConvAct, g), model, seed, S, "fuse-conv-act after its prefix");
      }),
      { numRuns: 30, seed: 7 },
    );
  });

  it("returns the new conv state as the op's second result", () => {
    const model = makeModel({ dModel: D, vocab: 16, layers: [[mamba1(D, { dState: 4 })]] });
    const g = fuseConvAct.run(lowerDecode(model));
    const conv = g.nodes.find((n) => n.op === "conv1d_silu_update")!;
    expect(g.outputs.find((o) => o.name === "layers.0.conv")!.value).toEqual({ node: conv.id, index: 1 });
    expect(conv.attrs).toEqual({ bias: true });
  });

  it("leaves the conv alone when its pre-activation is read elsewhere", () => {
    const model = makeModel({ dModel: D, vocab: 16, layers: [[mamba1(D, { dState: 4 })]] });
    const g = lowerPrefill(model);
    const conv = g.nodes.find((n) => n.op === "conv1d_causal")!;
    const tapped: Graph = { ...g, outputs: [...g.outputs, { name: "pre", value: { node: conv.id, index: 0 } }] };
    const f = fuseConvAct.run(tapped);
    verify(f);
    expect(count(f, "conv1d_silu")).toBe(0);
  });
});
