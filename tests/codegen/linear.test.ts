/**
 * linear / fused_linear on the adapter against interp: prefill (register-tiled, L = 1, 7, 64, 67)
 * and decode (one output row per invocation), vec4 and scalar K-walks, every prologue, bias,
 * activation and residual, several weights side by side, and x read through a window.
 */
import { describe, expect, it } from "vitest";
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
  expect(r.errors[0]).toBeLessThanOrEqual(TOL);
}

describe("linear family", () => {
  describe.each(CASES)("%s", (_, c, vec) => {
    it.each(LENGTHS)("prefill, L = %i", (L) => check({ ...c, S: "L" as Dim }, L, vec));
    it("decode (S = 1): one output per invocation", async () => {
      const tg = linearGraph({ ...c, S: 1 });
      const r = await runNode(tg.graph, tg.node, tg.feed(1, 7));
      expect(r.spec.schedule).toMatchObject({ tileRows: 1, tileCols: 1, vec });
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
});
