/**
 * Every kernel family that reads weights, with the weights stored in f16, on the adapter against
 * the float64 interpreter of the same node run on the f16-rounded weights (half.ts halfWeights:
 * the graph as lowering emits it for `dtype = f16`). Both ways of reading f16: packed (two
 * halves per u32 through unpack2x16float, any device) and native (array<f16>, shader-f16).
 * Covered: linear and fused_linear (vec4 and scalar K-walks, every prologue, bias, swiglu,
 * several weights in one binding, the staged decode prologue), weights bound as row windows
 * (vec4 and scalar, and an embedding table), conv + SiLU (prefill and decode), the Mamba-1 scan
 * (dt_proj, A_log, D, dt bias and inner norms read from f16), the Mamba-2 SSD (A_log, D, dt_bias,
 * norm weight), embedding gathers and the norms. Tolerances as for f32 (tests/codegen): 1e-5
 * for linear and norms, 1e-4 for scans, 1e-7 for a gather; the arithmetic is f32 either way.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../compiler/codegen/index.ts";
import type { F16Mode } from "../../compiler/codegen/request.ts";
import type { Graph } from "../../compiler/ir/graph.ts";
import type { Dim } from "../../compiler/ir/types.ts";
import { weightLayout, type WeightLayout } from "../../compiler/plan/weights.ts";
import { convGraph, linearGraph, scanGraph, type LinearCase, type TestGraph } from "../codegen/graphs.ts";
import { runNode, type NodeResult } from "../codegen/harness.ts";
import { embeddingGraph, normGraph } from "../codegen/rowgraphs.ts";
import { ssdGraph } from "../codegen/ssd-graphs.ts";
import { halfValues, halfWeights } from "./half.ts";

const MODES: readonly F16Mode[] = ["packed", "native"];

/** Runs node `node` of `tg` with its weights in f16 (rounded feed), checks the WGSL reads them the `mode` way. */
async function runHalf(tg: TestGraph, L: number, seed: number, mode: F16Mode, extra: { weights?: WeightLayout; limitBytes?: number; node?: number } = {}): Promise<NodeResult> {
  const g = halfWeights(tg.graph);
  const feed = tg.feed(L, seed);
  const r = await runNode(g, extra.node ?? tg.node, { ...feed, weights: halfValues(feed.weights) }, {
    f16: mode,
    ...(extra.weights ? { weights: extra.weights } : {}),
    ...(extra.limitBytes ? { limits: { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: extra.limitBytes } } : {}),
  });
  const half = r.spec.bindings.filter((b) => b.access !== "uniform" && b.dtype === "f16");
  expect(half.length, "the kernel binds an f16 weight buffer").toBeGreaterThan(0);
  if (mode === "packed") {
    expect(half.every((b) => b.access !== "uniform" && b.packed === true)).toBe(true);
    expect(r.spec.wgsl).toContain("unpack2x16float(");
    expect(r.spec.wgsl).not.toContain("enable f16;");
    expect(r.spec.wgsl).not.toMatch(/array<(vec4<)?f16>/);
  } else {
    expect(half.every((b) => b.access !== "uniform" && b.packed === undefined)).toBe(true);
    expect(r.spec.wgsl.startsWith("enable f16;\n")).toBe(true);
    expect(r.spec.wgsl).toMatch(/array<(vec4<)?f16>/);
    expect(r.spec.wgsl).not.toContain("unpack2x16float(");
  }
  return r;
}

const expectAll = (r: NodeResult, tol: number): void => r.errors.forEach((e, i) => expect(e, `result ${i}`).toBeLessThanOrEqual(tol));

/** A layout of `g`'s weights as one layer's, except `alone` (own buffers, windowed when over the limit); f16 storage. */
function packedLayout(g: Graph, limitBytes: number, alone: readonly string[]): WeightLayout {
  const inLayer = (name: string): string => (alone.includes(name) ? name : `t.layers.0.${name}`);
  const entries = g.nodes.flatMap((n) => (n.op === "weight" ? [{ name: inLayer(n.attrs.name), shape: n.attrs.type.shape as number[], dtype: "f16" as const }] : []));
  const l = weightLayout(entries, { maxStorageBufferBindingSize: limitBytes });
  return { ...l, of: (name) => l.of(inLayer(name)) };
}

const LINEAR: readonly [string, Omit<LinearCase, "S">][] = [
  ["plain linear, K = 16 (vec4)", { K: 16, outs: [33], plain: true }],
  ["plain linear, K = 18 (scalar, odd rows)", { K: 18, outs: [19], plain: true }],
  ["grouped rmsnorm + bias + residual", { K: 32, outs: [24], prologue: "rmsnorm", group: 8, bias: true, residual: true }],
  ["layernorm + bias, K = 18 (scalar)", { K: 18, outs: [7], prologue: "layernorm", bias: true }],
  ["q|k|v side by side + rmsnorm + bias", { K: 16, outs: [12, 8, 8], prologue: "rmsnorm", bias: true }],
  ["swiglu gate/up + bias", { K: 16, outs: [10, 10], prologue: "rmsnorm", bias: true, activation: "swiglu" }],
];

describe.each(MODES)("f16 weights read %s", (mode) => {
  describe.each(LINEAR)("%s", (_, c) => {
    it.each([7, 1])("L = %i (1: decode)", async (L) => {
      const tg = linearGraph({ ...c, S: L === 1 ? 1 : ("L" as Dim) });
      expectAll(await runHalf(tg, L, 100 + L, mode), 1e-5);
    });
  });

  it.each([
    ["vec4 W0 (33 x 16) in row windows", { K: 16, outs: [33], prologue: "rmsnorm" as const, bias: true }, 512],
    ["scalar W0 (70 x 18) in row windows of 64 rows", { K: 18, outs: [70], bias: true }, 2400],
  ])("%s, L = 7 and decode", async (_, c, limitBytes) => {
    for (const L of [7, 1]) {
      const tg = linearGraph({ ...c, S: L === 1 ? 1 : "L" });
      const r = await runHalf(tg, L, 3, mode, { weights: packedLayout(halfWeights(tg.graph), limitBytes, ["W0", "x.table"]), limitBytes });
      expect(r.spec.bindings.filter((b) => b.access !== "uniform" && b.window !== undefined).length, "W0 is bound as windows").toBeGreaterThan(1);
      expect(r.spec.wgsl).toContain("fn W_at(i: u32)");
      expectAll(r, 1e-5);
    }
  });

  it("embedding gather from an f16 table in row windows, and unwindowed (vec4 and scalar rows)", async () => {
    const windowed = linearGraph({ S: "L", K: 16, outs: [4], plain: true });
    const emb = windowed.graph.nodes.find((n) => n.op === "embedding")!;
    const r = await runHalf(windowed, 7, 9, mode, { node: emb.id, weights: packedLayout(halfWeights(windowed.graph), 256, ["x.table", "W0"]), limitBytes: 256 });
    expect(r.spec.bindings.filter((b) => b.access !== "uniform" && b.window !== undefined).length).toBeGreaterThan(1);
    expectAll(r, 1e-7);
    for (const D of [16, 20]) expectAll(await runHalf(embeddingGraph({ S: "L", D }), 7, D, mode), 1e-7);
    expectAll(await runHalf(embeddingGraph({ S: 1, D: 20 }), 1, 5, mode), 1e-7);
  });

  it("conv + SiLU with f16 weight and bias: prefill (x a window of in_proj's rows) and decode", async () => {
    expectAll(await runHalf(convGraph({ S: "L", C: 32, W: 4, bias: true, sliced: true }), 7, 11, mode), 1e-5);
    expectAll(await runHalf(convGraph({ S: 1, C: 30, W: 4, bias: true }), 1, 12, mode), 1e-5);
  });

  it("Mamba-1 scan reading dt_proj, A_log, D, dt bias and inner norm weights from f16: prefill and decode", async () => {
    expectAll(await runHalf(scanGraph({ S: "L", Di: 36, N: 16, R: 4, innerNorms: true }), 9, 21, mode), 1e-4);
    expectAll(await runHalf(scanGraph({ S: 1, Di: 36, N: 16, R: 3 }), 1, 22, mode), 1e-4);
  });

  it("Mamba-2 SSD reading A_log, D, dt_bias and the norm weight from f16: prefill and decode", async () => {
    expectAll(await runHalf(ssdGraph({ S: "L", H: 4, P: 8, G: 1, N: 16, epilogue: "gate_norm" }), 9, 31, mode), 1e-4);
    expectAll(await runHalf(ssdGraph({ S: 1, H: 4, P: 8, G: 2, N: 16, epilogue: "norm_gate", group: 4 }), 1, 32, mode), 1e-4);
  });

  it("norms with f16 weights: rmsnorm, layernorm, gated rmsnorm, add + rmsnorm", async () => {
    expectAll(await runHalf(normGraph({ S: "L", C: 24, op: "rmsnorm" }), 7, 41, mode), 1e-5);
    expectAll(await runHalf(normGraph({ S: "L", C: 20, op: "layernorm" }), 7, 42, mode), 1e-5);
    expectAll(await runHalf(normGraph({ S: "L", C: 24, op: "rmsnorm_gated", group: 8, normBeforeGate: true }), 7, 43, mode), 1e-5);
    expectAll(await runHalf(normGraph({ S: 1, C: 24, op: "add_rmsnorm" }), 1, 44, mode), 1e-5);
  });
});
