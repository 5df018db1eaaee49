/**
 * reduce_sum on the adapter against interp: the last axis (vec4 and scalar), a middle axis, an
 * operand read through a window; prefill lengths and decode.
 */
import { describe, expect, it } from "vitest";
import { reduceGraph, type ReduceCase } from "./rowgraphs.ts";
import { runNode } from "./harness.ts";

const TOL = 1e-5;
const LENGTHS = [1, 7, 64, 67];

const CASES: readonly [string, Omit<ReduceCase, "S">, 1 | 4][] = [
  ["[L, 8, 16] over N (h C summed)", { C: 128, shape: ["L", 8, 16], axis: 2 }, 4],
  ["[L, 6, 7] over the last axis", { C: 42, shape: ["L", 6, 7], axis: 2 }, 1],
  ["[L, 6, 7] over the middle axis", { C: 42, shape: ["L", 6, 7], axis: 1 }, 1],
  ["[L, 2, 3, 4, 8] over axis 4, a window", { C: 192, shape: ["L", 2, 3, 4, 8], axis: 4, window: 3 }, 4],
  ["[L, 20] over channels", { C: 20, shape: ["L", 20], axis: 1 }, 4],
];

describe("reduce_sum", () => {
  describe.each(CASES)("%s", (_, c, vec) => {
    const check = async (S: "L" | 1, L: number) => {
      const tg = reduceGraph({ ...c, S });
      const r = await runNode(tg.graph, tg.node, tg.feed(L, 300 + L));
      expect(r.spec.schedule["vec"]).toBe(vec);
      expect(r.errors[0]).toBeLessThanOrEqual(TOL);
    };
    it.each(LENGTHS)("prefill, L = %i", (L) => check("L", L));
    it("decode (S = 1)", () => check(1, 1));
  });
});
