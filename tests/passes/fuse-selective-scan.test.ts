// fuse-selective-scan with dt_proj, A = -exp(A_log) and Jamba's inner norms folded into the scan:
// interp(pass(g)) = interp(g) on random Mamba-1 layers (prefill and decode, alone and after the
// passes before it), verify, idempotence; and what the fused op reads.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { verify, type Graph } from "../../compiler/ir/index.ts";
import { fuseSelectiveScan } from "../../compiler/passes/index.ts";
import { makeModel, mamba1 } from "../ir/fixtures.ts";
import { checkPass, count, lower, prefixOf, report } from "./harness.ts";

afterAll(() => report("fuse-selective-scan"));

const D = 8;
const m1Arb = fc.record({
  dState: fc.constantFrom(1, 4, 16),
  dConv: fc.integer({ min: 1, max: 4 }),
  dtRank: fc.integer({ min: 1, max: 4 }),
  expand: fc.integer({ min: 1, max: 2 }),
  innerNorms: fc.boolean(),
  bias: fc.boolean(),
  convBias: fc.boolean(),
});

describe("fuse-selective-scan", () => {
  it("preserves values, verifies and is idempotent on random Mamba-1 layers", () => {
    fc.assert(
      fc.property(m1Arb, fc.constantFrom(1, 7, 37), fc.integer({ min: 1, max: 1 << 30 }), fc.boolean(), (o, L, seed, decode) => {
        const model = makeModel({ dModel: D, vocab: 16, layers: [[mamba1(D, o)], [mamba1(D, o)]] });
        const g = lower(model, decode);
        const S = decode ? 1 : L;
        const out = checkPass(fuseSelectiveScan, g, model, seed, S, `fuse-selective-scan ${decode ? "decode" : "prefill"}`);
        expect(count(out, decode ? "selective_state_update" : "selective_scan")).toBe(2);
        checkPass(fuseSelectiveScan, prefixOf(fuseSelectiveScan, g), model, seed, S, "fuse-selective-scan after its prefix");
      }),
      { numRuns: 40, seed: 99 },
    );
  });

  const weightName = (g: Graph, r: { node: number }): string => {
    const n = g.nodes[r.node]!;
    return n.op === "weight" ? n.attrs.local : n.op;
  };

  it.each([false, true])("reads the low-rank dt, dt_proj and A_log itself (inner norms %s)", (innerNorms) => {
    const model = makeModel({ dModel: D, vocab: 16, layers: [[mamba1(D, { dState: 4, dtRank: 3, innerNorms })]] });
    for (const decode of [false, true]) {
      const g = fuseSelectiveScan.run(lower(model, decode));
      verify(g);
      const scan = g.nodes.find((n) => n.op === "selective_scan" || n.op === "selective_state_update")!;
      const names = scan.inputs.map((r) => weightName(g, r));
      expect(names.slice(2, 4)).toEqual(["dt_proj.weight", "A_log"]);
      expect(names[8]).toBe("dt_proj.bias");
      expect(g.nodes[scan.inputs[1]!.node]!.op).toBe("slice"); // dt: the first R columns of x_proj, not delta
      expect(scan.attrs).toEqual({ innerNormEps: innerNorms ? 1e-5 : null });
      if (innerNorms) expect(names.slice(10)).toEqual(["dt_layernorm.weight", "b_layernorm.weight", "c_layernorm.weight"]);
      // no dt_proj linear, no -exp(A_log), no [S, Di] delta, no inner rmsnorm left: 2 norms = the layer's and the final one
      expect([count(g, "softplus"), count(g, "exp"), count(g, "neg"), count(g, "linear") - 4, count(g, "rmsnorm")]).toEqual([0, 0, 0, 0, 2]);
    }
  });

  it("keeps the inner norms outside when one of them is read elsewhere", () => {
    const model = makeModel({ dModel: D, vocab: 16, layers: [[mamba1(D, { dState: 4, innerNorms: true })]] });
    const g = lower(model, false);
    const bNorm = g.nodes.filter((n) => n.op === "rmsnorm")[2]!; // layer norm, dt norm, B norm, C norm, final norm
    const tapped: Graph = { ...g, outputs: [...g.outputs, { name: "B", value: { node: bNorm.id, index: 0 } }] };
    // the tapped B norm has two readers, so the scan takes the three normed values as they are
    const f = fuseSelectiveScan.run(tapped);
    verify(f);
    const scan = f.nodes.find((n) => n.op === "selective_scan")!;
    expect(scan.attrs).toEqual({ innerNormEps: null });
    expect(count(f, "rmsnorm")).toBe(5);
  });
});
