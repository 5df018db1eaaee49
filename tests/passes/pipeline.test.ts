// The whole optimizer:
//  - optimize(g) computes what optimize(g, {fuse: false}) computes, on random hybrids (prefill and
//    decode), and optimized prefill continues into optimized decode exactly like the unfused pair;
//  - kernel counts per layer (nodes that launch work, harness.ts): Mamba-1 <= 5 and Mamba-2 <= 5 in
//    prefill and decode, with the exact count of every variant pinned;
//  - no [L, d_inner, d_state] tensor survives in the canonical specs' prefill graphs (L = 2048).
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { BlockConfig, ResolvedModel } from "../../compiler/check/model.ts";
import { compile } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { concreteShape, numel, printGraph, verify, type Graph } from "../../compiler/ir/index.ts";
import { lowerDecode, lowerPrefill } from "../../compiler/lower/index.ts";
import { optimize } from "../../compiler/passes/index.ts";
import { kernels } from "../../compiler/plan/kernels.ts";
import { attention, makeModel, mamba1, mamba2, mlp, randomTokens, randomWeights, runDecode, runGraph, zeroState } from "../ir/fixtures.ts";
import { Reference } from "../ir/reference.ts";
import { layerLaunches, launches, lower, record, report, sameValues, TOL } from "./harness.ts";

afterAll(() => report("optimize"));

const D = 8;
const blockArb: fc.Arbitrary<BlockConfig[]> = fc.oneof(
  fc.record({ dState: fc.constantFrom(1, 4, 16), dtRank: fc.integer({ min: 1, max: 3 }), innerNorms: fc.boolean(), bias: fc.boolean(), convBias: fc.boolean() }).map((o) => [mamba1(D, o)]),
  fc
    .record({ dState: fc.constantFrom(4, 16), headdim: fc.constantFrom(4, 8), ngroups: fc.constantFrom(1, 2), normBeforeGate: fc.boolean(), gatedNorm: fc.boolean(), normGroup: fc.constantFrom(2, 4, 8, 16), chunk: fc.constantFrom(1, 3, 16) })
    .map((o) => [mamba2(D, o)]),
  fc.record({ kvHeads: fc.constantFrom(1, 2), window: fc.constantFrom(null, 3) }).map((o) => [attention(D, { heads: 2, ...o, rope: { theta: 100, fraction: 1 } }), mlp({ hidden: 12 })]),
);

describe("optimize", () => {
  it("equals optimize(g, {fuse: false}) on random hybrids", () => {
    fc.assert(
      fc.property(
        fc.record({ layers: fc.array(blockArb, { minLength: 1, maxLength: 3 }), layernorm: fc.boolean(), L: fc.constantFrom(1, 7, 37), seed: fc.integer({ min: 1, max: 1 << 30 }), decode: fc.boolean() }),
        ({ layers, layernorm, L, seed, decode }) => {
          const model = makeModel({ dModel: D, vocab: 16, context: 48, layers, ...(layernorm ? { norm: { kind: "layernorm", eps: 1e-5 } } : {}) });
          const g = lower(model, decode);
          const fused = optimize(g);
          verify(fused);
          expect(printGraph(optimize(fused)), "optimize is idempotent").toBe(printGraph(fused));
          record(`optimize ${decode ? "decode" : "prefill"}`, sameValues(optimize(g, { fuse: false }), fused, model, seed, decode ? 1 : L));
        },
      ),
      { numRuns: 40, seed: 2024 },
    );
  });

  it("optimized prefill then optimized decode equals the unfused programs", () => {
    const model = makeModel({
      dModel: 16,
      vocab: 32,
      context: 80,
      layers: [[mamba1(16, { dState: 16, innerNorms: true })], [mamba2(16, { dState: 16, headdim: 8, ngroups: 2, chunk: 16 })], [attention(16, { heads: 4, kvHeads: 2, rope: { theta: 1e4, fraction: 0.5 } }), mlp({ hidden: 24 })], [mamba2(16, { dState: 64, headdim: 8, normGroup: 4, chunk: 3 })]],
    });
    const w = randomWeights(model, 8);
    const prompt = randomTokens(model, 37, 9);
    const more = randomTokens(model, 5, 10);
    const refPre = runGraph(lowerPrefill(model), model, w, prompt, 0, zeroState(model));
    const refDec = runDecode(lowerDecode(model), model, w, more, 37, refPre.state);
    const pre = runGraph(optimize(lowerPrefill(model)), model, w, prompt, 0, zeroState(model));
    const dec = runDecode(optimize(lowerDecode(model)), model, w, more, 37, pre.state);
    const errs = [relError(pre.logits, refPre.logits), relError(dec.logits, refDec.logits), ...Object.keys(refDec.state).map((k) => relError(dec.state[k]!, refDec.state[k]!))];
    record("optimized prefill + decode", Math.max(...errs));
    for (const e of errs) expect(e).toBeLessThanOrEqual(TOL);
  });
});

describe("optimized graphs against the step-by-step reference (tests/ir/reference.ts)", () => {
  it.each([
    ["mamba1 inner norms, bias", [mamba1(16, { dState: 16, innerNorms: true, bias: true })]],
    ["mamba2 ngroups 2, d_state 64, chunk 16", [mamba2(16, { dState: 64, headdim: 8, ngroups: 2, chunk: 16 })]],
    ["mamba2 norm group 4 in the epilogue, chunk 3", [mamba2(16, { dState: 16, headdim: 8, normGroup: 4, chunk: 3 })]],
    ["mamba2 norm_before_gate across heads, chunk 1", [mamba2(16, { dState: 16, headdim: 4, normBeforeGate: true, chunk: 1 })]],
  ] as [string, BlockConfig[]][])("%s", (_, layer) => {
    const model = makeModel({ dModel: 16, vocab: 32, layers: [layer, layer] });
    const w = randomWeights(model, 21);
    for (const L of [1, 7, 37, 64]) {
      const tokens = randomTokens(model, L, L);
      const ref = new Reference(model, w);
      const want = ref.forward(tokens);
      const got = runGraph(optimize(lowerPrefill(model)), model, w, tokens, 0, zeroState(model));
      const refState = ref.state();
      const errs = [relError(got.logits, want), ...Object.keys(refState).map((k) => relError(got.state[k]!, refState[k]!))];
      record("optimized prefill vs reference", Math.max(...errs));
      for (const e of errs) expect(e, `L = ${L}`).toBeLessThanOrEqual(TOL);
    }
  });
});

/** Ops of layer 0's launching nodes in a one-layer model, prefill and decode. */
function layerOps(layer: BlockConfig[]): { prefill: string[]; decode: string[] } {
  const model = makeModel({ dModel: 16, vocab: 16, context: 16, layers: [layer] });
  const ops = (g: Graph) => layerLaunches(optimize(g), 0).map((n) => n.op);
  const prefill = ops(lowerPrefill(model));
  const decode = ops(lowerDecode(model));
  // everything else is the model-level embedding and the LM head (with the final norm in it)
  expect(launches(optimize(lowerPrefill(model))).length - prefill.length).toBe(2);
  return { prefill, decode };
}

const M1 = ["fused_linear", "conv1d_silu", "linear", "selective_scan", "fused_linear"];
// Decode: the conv step goes into in_proj's epilogue (fuse-linear-conv), one kernel less.
const M1_DECODE = ["linear_conv_update", "linear", "selective_state_update", "fused_linear"];
const M2 = ["fused_linear", "conv1d_silu", "ssd", "fused_linear"];
const M2_DECODE = ["linear_conv_update", "ssd_state_update", "fused_linear"];

describe("kernels per layer", () => {
  // norm+in_proj, conv+SiLU, x_proj, scan (dt_proj, discretisation, gate inside), out_proj+residual;
  // decode: norm+in_proj+conv+SiLU, x_proj, scan, out_proj+residual
  it.each([
    ["defaults", {}],
    ["bias, no conv bias", { bias: true, convBias: false }],
    ["inner norms", { innerNorms: true }],
    ["d_state 64, dt_rank 4", { dState: 64, dtRank: 4 }],
  ])("Mamba-1 (%s): 5 in prefill, 4 in decode", (_, o) => {
    expect(layerOps([mamba1(16, o)])).toEqual({ prefill: M1, decode: M1_DECODE });
  });

  // norm+in_proj, conv+SiLU over xBC, SSD (+ gate / gated norm), out_proj+residual (+ the grouped norm as its prologue);
  // decode: norm+in_proj+conv+SiLU, SSD, out_proj+residual
  it.each([
    ["defaults: norm group spans heads, norm in out_proj's prologue", {}],
    ["norm group inside a head: gated norm in the SSD epilogue", { headdim: 8, normGroup: 8 }],
    ["ngroups 2, norm group 4 < headdim", { ngroups: 2, headdim: 8, normGroup: 4 }],
    ["gated_norm off", { gatedNorm: false }],
    ["norm_before_gate, norm group inside a head", { normBeforeGate: true, headdim: 8, normGroup: 8 }],
  ])("Mamba-2 (%s): 4 in prefill, 3 in decode", (_, o) => {
    expect(layerOps([mamba2(16, { dState: 16, headdim: 8, chunk: 4, ...o })])).toEqual({ prefill: M2, decode: M2_DECODE });
  });

  it("Mamba-2 with norm_before_gate and a norm group spanning heads: 5 in prefill, 4 in decode (the gated norm is its own kernel)", () => {
    // the gate multiplies after the norm, the norm needs several heads, and a linear prologue has no z
    const gated = (ops: string[]) => [...ops.slice(0, -1), "rmsnorm_gated", ops.at(-1)!];
    expect(layerOps([mamba2(16, { dState: 16, headdim: 8, chunk: 4, normBeforeGate: true })])).toEqual({ prefill: gated(M2), decode: gated(M2_DECODE) });
  });
});

const SPECS = new URL("../../specs/", import.meta.url);
const load = (file: string): ResolvedModel => compile(readFileSync(new URL(file, SPECS), "utf8"), { path: file }).models[0]!;

describe("canonical specs", () => {
  const L = 2048;

  it.each(readdirSync(SPECS).filter((f) => f.endsWith(".hyb")).sort())("%s: no [L, d_inner, d_state] tensor in the optimized prefill", (file) => {
    const model = load(file);
    const g = optimize(lowerPrefill(model));
    verify(g);
    const sizes = new Set(
      model.layers.flatMap((l) =>
        l.sublayers.flatMap((s) => (s.block.config.kind === "mamba1" || s.block.config.kind === "mamba2" ? [L * s.block.config.dInner * s.block.config.dState] : [])),
      ),
    );
    const big = g.nodes.flatMap((n) => n.results.map((t) => ({ n, size: numel(concreteShape(t.shape, L)) }))).filter((x) => sizes.has(x.size));
    expect(big.map((x) => `%${x.n.id} ${x.n.op}`)).toEqual([]);
    if (file === "mamba-130m.hyb" || file === "hybrid-130m.hyb") {
      const before = lowerPrefill(model);
      expect(before.nodes.some((n) => n.results.some((t) => sizes.has(numel(concreteShape(t.shape, L)))))).toBe(true); // the check can fail
    }
  });

  it.each([
    // [prefill, decode]: decode attention over hybrid-130m's 8192-row cache is split (flash-decoding:
    // + the merge); a decode Mamba layer has its conv in in_proj's epilogue.
    ["mamba-130m.hyb", { mamba1: [5, 4] }],
    ["hybrid-130m.hyb", { mamba2: [4, 3], attention: [5, 6] }],
  ] as const)("%s: kernels per layer by kind, prefill and decode, agree with plan/kernels.ts", (file, want: Readonly<Record<string, readonly [number, number]>>) => {
    const model = load(file);
    for (const [call, g] of [lowerPrefill(model), lowerDecode(model)].entries()) {
      const o = optimize(g);
      const planned = kernels(o);
      model.layers.forEach((layer, i) => {
        const kind = layer.sublayers[0]!.block.config.kind;
        const n = layerLaunches(o, i).length;
        expect(n, `${g.name} layer ${i} (${kind})`).toBe(want[kind]![call]);
        expect(planned.filter((k) => k.name.startsWith(`layers.${i}.`)).length, `plan/kernels.ts, layer ${i}`).toBe(n);
      });
      expect(launches(o).length).toBe(planned.length);
    }
  });
});
