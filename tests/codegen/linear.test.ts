/**
 * linear / fused_linear on the adapter against interp: prefill (register-tiled, L = 1, 7, 64, 67)
 * and decode with the tiled schedule (`coop: 0`; the default, cooperative decode GEMV is
 * gemv.test.ts's): one output row per invocation; with a norm prologue, the row normalized once
 * per workgroup into workgroup memory and 4 columns per invocation; vec4 and scalar K-walks, every
 * prologue, bias, activation and residual, several weights side by side, and x read through a
 * window. The staged decode prologue also at odd shapes (K prime, K > the workgroup, N not a
 * multiple of the workgroup), at other tiles, and its fallback when workgroup memory is short.
 * Prefill with an rmsnorm prologue shares each row's statistics across the workgroup (shareStats).
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, type KernelLimits } from "../../compiler/codegen/index.ts";
import type { Dim } from "../../compiler/ir/types.ts";
import { linearGraph, type LinearCase } from "./graphs.ts";
import { runNode } from "./harness.ts";

const TOL = 1e-5;
const LENGTHS = [1, 7, 64, 67];

/** [label, case without S, expected vector width]. */
const CASES: readonly [string, Omit<LinearCase, "S">, 1 | 4][] = [
  ["plain linear, K = 16", { K: 16, outs: [33], plain: true }, 4],
  ["plain linear, K = 18 (scalar)", { K: 18, outs: [20], plain: true }, 1],
  ["rmsnorm prologue", { K: 16, outs: [12], prologue: "rmsnorm" }, 4],
  ["grouped rmsnorm + bias + residual", { K: 32, outs: [24], prologue: "rmsnorm", group: 8, bias: true, residual: true }, 4],
  ["rmsnorm groups of 6 (scalar)", { K: 24, outs: [9], prologue: "rmsnorm", group: 6 }, 1],
  ["layernorm + bias", { K: 20, outs: [16], prologue: "layernorm", bias: true }, 4],
  ["layernorm, K = 18 + residual (scalar)", { K: 18, outs: [7], prologue: "layernorm", residual: true }, 1],
  ["x an aligned window", { K: 16, outs: [10], xWindow: { width: 40, offset: 8 }, prologue: "rmsnorm", bias: true }, 4],
  ["x an unaligned window (scalar)", { K: 16, outs: [10], xWindow: { width: 40, offset: 3 }, residual: true }, 1],
  ["three weights side by side (q|k|v) + bias", { K: 16, outs: [12, 8, 8], prologue: "rmsnorm", bias: true }, 4],
  ["swiglu gate/up + bias + residual", { K: 16, outs: [10, 10], prologue: "rmsnorm", bias: true, activation: "swiglu", residual: true }, 4],
  ["gelu + bias", { K: 20, outs: [24], bias: true, activation: "gelu" }, 4],
  ["relu2, K = 18 (scalar)", { K: 18, outs: [13], activation: "relu2", residual: true }, 1],
];

async function check(c: LinearCase, L: number, vec: 1 | 4, schedule?: Record<string, number>): Promise<void> {
  const tg = linearGraph(c);
  const r = await runNode(tg.graph, tg.node, tg.feed(L, 1000 + L), schedule ? { schedule } : {});
  expect(r.spec.schedule["vec"]).toBe(vec);
  // An rmsnorm prologue in prefill: the row's statistics are shared by the workgroup (one barrier).
  const shared = c.S === "L" && c.prologue === "rmsnorm" && schedule === undefined;
  expect(r.spec.schedule["shareStats"]).toBe(shared ? 1 : 0);
  expect(r.spec.wgsl.includes("var<workgroup> ss:")).toBe(shared);
  expect(r.errors[0]).toBeLessThanOrEqual(TOL);
}

describe("linear family", () => {
  describe.each(CASES)("%s", (_, c, vec) => {
    it.each(LENGTHS)("prefill, L = %i", (L) => check({ ...c, S: "L" as Dim }, L, vec));
    it("decode (S = 1), the tiled schedule: one output per invocation, or a staged prologue", async () => {
      const tg = linearGraph({ ...c, S: 1 });
      const r = await runNode(tg.graph, tg.node, tg.feed(1, 7), { schedule: { coop: 0 } });
      const staged = (c.prologue ?? "none") !== "none";
      const tileCols = staged ? (c.activation === "swiglu" ? 2 : 4) : 1;
      expect(r.spec.schedule).toMatchObject({ tileRows: 1, tileCols, vec, stage: staged ? 1 : 0 });
      expect(r.spec.uniforms.fields).toEqual([]);
      expect(r.errors[0]).toBeLessThanOrEqual(TOL);
    });
  });

  it("the scalar K-walk and other tiles agree on aligned shapes too", async () => {
    const c: LinearCase = { S: "L", K: 32, outs: [12, 12], prologue: "layernorm", bias: true, activation: "swiglu", residual: true };
    await check(c, 67, 1, { vec: 1 });
    await check(c, 67, 4, { tileRows: 2, tileCols: 3, wgCols: 2, wgRows: 8 });
    await check(c, 5, 4, { tileRows: 1, tileCols: 1, wgCols: 64, wgRows: 1 });
  });

  it("prefill rmsnorm statistics: shared by the workgroup at other tiles too, and per invocation when asked", async () => {
    const c: LinearCase = { S: "L", K: 300, outs: [37], prologue: "rmsnorm", bias: true, residual: true };
    for (const [L, schedule] of [
      [67, { tileRows: 2, tileCols: 3, wgCols: 8, wgRows: 8, shareStats: 1 }],
      [5, { tileRows: 1, tileCols: 1, wgCols: 64, wgRows: 1, shareStats: 1 }],
      [67, { shareStats: 0 }],
    ] as const) {
      const tg = linearGraph(c);
      const r = await runNode(tg.graph, tg.node, tg.feed(L, 2000 + L), { schedule });
      expect(r.spec.schedule).toMatchObject(schedule);
      expect(r.spec.wgsl.includes("var<workgroup> ss:")).toBe(schedule.shareStats === 1);
      expect(r.errors[0]).toBeLessThanOrEqual(TOL);
    }
  });

  describe("decode with the norm prologue staged in workgroup memory", () => {
    /** [label, case without S, expected vector width]. */
    const STAGED: readonly [string, Omit<LinearCase, "S">, 1 | 4][] = [
      ["rmsnorm groups of 8, K = 40 + bias", { K: 40, outs: [37], prologue: "rmsnorm", group: 8, bias: true }, 4],
      ["rmsnorm groups of 7, K = 21 (scalar) + residual", { K: 21, outs: [11], prologue: "rmsnorm", group: 7, residual: true }, 1],
      ["layernorm + bias + residual, K = 36", { K: 36, outs: [19], prologue: "layernorm", bias: true, residual: true }, 4],
      ["layernorm, K = 131 (prime, scalar)", { K: 131, outs: [70], prologue: "layernorm" }, 1],
      ["rmsnorm, K = 300 > the workgroup (vec4), N = 9", { K: 300, outs: [9], prologue: "rmsnorm" }, 4],
      ["rmsnorm, N = 257 not a multiple of the workgroup", { K: 64, outs: [257], prologue: "rmsnorm" }, 4],
      ["rmsnorm, N = 1", { K: 12, outs: [1], prologue: "rmsnorm" }, 4],
      ["q|k|v side by side, layernorm", { K: 24, outs: [13, 5, 5], prologue: "layernorm", bias: true }, 4],
      ["swiglu gate/up, rmsnorm groups of 4", { K: 16, outs: [29, 29], prologue: "rmsnorm", group: 4, activation: "swiglu" }, 4],
    ];

    it.each(STAGED)("%s", async (_, c, vec) => {
      const tg = linearGraph({ ...c, S: 1 });
      const r = await runNode(tg.graph, tg.node, tg.feed(1, 11), { schedule: { coop: 0 } });
      expect(r.spec.schedule).toMatchObject({ vec, stage: 1, wgRows: 1, coop: 0 });
      expect(r.spec.wgsl).toContain("workgroupBarrier()");
      expect(r.errors[0]).toBeLessThanOrEqual(TOL);
    });

    it("agrees at other tiles: one column per invocation, and TM rows shared by a prefill workgroup", async () => {
      const c: LinearCase = { S: 1, K: 44, outs: [30], prologue: "layernorm", bias: true, residual: true };
      await check(c, 1, 4, { coop: 0, tileCols: 1, wgCols: 8 });
      await check(c, 1, 1, { coop: 0, vec: 1, tileCols: 3, wgCols: 2 });
      // Prefill with one row of tiles per workgroup: its TM rows are staged together (row 7 is past L = 7).
      const g: LinearCase = { S: "L", K: 20, outs: [12], prologue: "rmsnorm", group: 5, residual: true };
      for (const L of [1, 7]) await check(g, L, 1, { tileRows: 4, tileCols: 4, wgCols: 4, wgRows: 1, stage: 1 });
    });

    it("falls back to per-invocation statistics when xn does not fit in workgroup memory", async () => {
      // Half of 2 KiB is 1024 bytes: K = 300 needs 4 * (300 + 64) = 1456, K = 16 needs 320.
      const limits: KernelLimits = { ...DEFAULT_LIMITS, maxComputeWorkgroupStorageSize: 2048 };
      for (const [c, stage] of [
        [{ S: 1, K: 300, outs: [21], prologue: "layernorm", bias: true }, 0],
        [{ S: 1, K: 300, outs: [21], prologue: "rmsnorm", group: 60 }, 0],
        [{ S: 1, K: 16, outs: [21], prologue: "rmsnorm" }, 1],
      ] as const) {
        const tg = linearGraph(c);
        const r = await runNode(tg.graph, tg.node, tg.feed(1, 5), { limits });
        expect(r.spec.schedule).toMatchObject({ stage, tileCols: stage ? 4 : 1 });
        expect(r.spec.wgsl.includes("workgroupBarrier()")).toBe(stage === 1);
        expect(r.errors[0]).toBeLessThanOrEqual(TOL);
      }
    });
  });
});
