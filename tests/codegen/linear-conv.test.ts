/**
 * linear_conv_update (a decode projection with the conv step and SiLU in its epilogue: Mamba's
 * in_proj after fuse-linear-conv) on the adapter against the float64 interpreter, y and the new
 * conv state: the tiled decode (staged norm, and x from storage), the cooperative GEMV at the
 * CPU build's shape and a GPU build's (32 lanes, and subgroups where the adapter has them);
 * the conv's columns first (Mamba-1's x | z), in the middle (Mamba-2's z | xBC | dt), across
 * two weights' segments, all of them; kernel widths 1, 3 and 4 (a state row and a weight row one
 * vec4 each), with and without conv bias, a bias on the projection, K = 18 (scalar loads); the
 * state updated in place or written apart; f16 weights (conv weights and bias in the layer's
 * binding, read as halves), 8 halves per load.
 */
import { describe, expect, it } from "vitest";
import type { Graph } from "../../compiler/ir/graph.ts";
import { halfValues, halfWeights } from "../f16/half.ts";
import { getDevice } from "../gpu/device.ts";
import { layerLayout, linearGraph, type LinearCase } from "./graphs.ts";
import { runNode, type NodeResult } from "./harness.ts";

const TOL = 1e-5;

const CASES: readonly [string, Omit<LinearCase, "S">][] = [
  ["Mamba-1: x | z, the conv over x, rmsnorm, d_conv 4 + bias", { K: 32, outs: [64], prologue: "rmsnorm", conv: { start: 0, width: 32, taps: 4, bias: true } }],
  ["Mamba-2: z | xBC | dt, the conv in the middle, no conv bias", { K: 24, outs: [62], prologue: "rmsnorm", conv: { start: 16, width: 40, taps: 4, bias: false } }],
  ["across two weights' segments, layernorm + bias, d_conv 3", { K: 20, outs: [10, 14], prologue: "layernorm", bias: true, conv: { start: 6, width: 12, taps: 3, bias: true } }],
  ["every column, d_conv 1, x from storage", { K: 16, outs: [9], conv: { start: 0, width: 9, taps: 1, bias: true } }],
  ["K = 18 (scalar), the state written apart", { K: 18, outs: [21], prologue: "rmsnorm", conv: { start: 5, width: 11, taps: 4, bias: true, apart: true } }],
];

/** [label, schedule override]: the tiled decode, the CPU build's cooperative shape, a GPU build's. */
const SHAPES: readonly [string, Record<string, number>][] = [
  ["tiled", { coop: 0 }],
  ["cooperative T4 x R16", { coop: 4, wgCols: 16, tileCols: 4 }],
  ["cooperative T32 x R4, 2 columns (a GPU build's)", { coop: 32, wgCols: 4, tileCols: 2 }],
];

async function run(c: Omit<LinearCase, "S">, schedule: Record<string, number>, seed: number, half = false): Promise<NodeResult> {
  const tg = linearGraph({ ...c, S: 1 });
  const g: Graph = half ? halfWeights(tg.graph) : tg.graph;
  const feed = tg.feed(1, seed);
  return runNode(g, tg.node, half ? { ...feed, weights: halfValues(feed.weights) } : feed, { schedule, ...(half ? { weights: layerLayout(1 << 20)(g) } : {}) });
}

function expectConv(r: NodeResult, c: Omit<LinearCase, "S">): void {
  expect(r.errors, "y and the new state").toHaveLength(2);
  r.errors.forEach((e, i) => expect(e, i === 0 ? "y" : "state").toBeLessThanOrEqual(TOL));
  expect(r.spec.wgsl).toContain("silu(");
  const state = r.spec.bindings.filter((b) => b.access !== "uniform" && b.role === "state");
  expect(state.map((b) => b.access)).toEqual(c.conv!.apart ? ["read"] : ["read_write"]);
  // The conv columns hold silu(conv), not the projection: the kernel's new state ends with the
  // projection's value z of each channel, which differs from what the kernel stored in y.
  const { start, width, taps } = c.conv!;
  const z = Array.from({ length: width }, (_, ch) => r.gpu[1]![ch * taps + taps - 1]!);
  const y = Array.from({ length: width }, (_, ch) => r.gpu[0]![start + ch]!);
  expect(z.filter((v, ch) => Math.abs(v - y[ch]!) > 1e-3).length).toBeGreaterThan(width / 2);
}

describe("linear_conv_update: the conv step in a decode projection's epilogue", () => {
  describe.each(SHAPES)("%s", (_, schedule) => {
    it.each(CASES)("%s", async (_, c) => {
      const r = await run(c, schedule, 17);
      expect(r.spec.schedule["coop"]).toBe(schedule["coop"]);
      // d_conv 4: the state row and the weight row one vec4 each; other widths tap by tap.
      expect(r.spec.wgsl.includes("let win = vec4<f32>(sv.yzw, zc);")).toBe(c.conv!.taps === 4);
      expectConv(r, c);
    });
  });

  it("the subgroup GEMV (where the adapter has subgroups) and the defaults", async () => {
    const device = await getDevice();
    for (const [, c] of CASES.slice(0, 3)) {
      if (device.features.has("subgroups")) expectConv(await run(c, { coop: 4, wgCols: 16, tileCols: 4, subgroup: 1 }, 19), c);
      // The default decode kind: tiled behind a staged norm, cooperative with x from storage.
      const r = await run(c, {}, 23);
      expect(r.spec.schedule["coop"]).toBe(c.prologue === undefined ? 4 : 0);
      expectConv(r, c);
    }
  });

  it("f16 weights: the conv weights and bias read as halves from the layer's binding, W 8 halves a load", async () => {
    for (const [label, schedule] of [...SHAPES, ["default", {}] as const]) {
      for (const [, c] of CASES.slice(0, 3)) {
        const r = await run(c, schedule, 29, true);
        expect(r.spec.bindings.some((b) => b.access !== "uniform" && b.dtype === "f16" && b.packed === true), label).toBe(true);
        expectConv(r, c);
      }
    }
  });
});
