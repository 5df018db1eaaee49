/**
 * The elementwise family on the adapter against interp: every unary op over both tails (softplus
 * past its threshold 20, gelu's negative tail), add/mul with the broadcast patterns the lowering
 * makes ([L, C] + [C], [L, C, 1] * [C, N], [L, C, 1] * [L, 1, N], [L, H, P] * [H, 1]), operands
 * read through windows, vec4 and scalar rows, prefill lengths and decode.
 */
import { describe, expect, it } from "vitest";
import { UNARY_OPS } from "../../compiler/ir/ops.ts";
import { elementwiseGraph, type ElementwiseCase } from "./rowgraphs.ts";
import { runNode } from "./harness.ts";

/** Pointwise ops: tighter than the 1e-5 of the norms. */
const TOL = 2e-6;
const LENGTHS = [1, 7, 64, 67];

const UNARY: readonly [string, Omit<ElementwiseCase, "S">, 1 | 4][] = UNARY_OPS.flatMap((op) => [
  [`${op} C = 32`, { op, a: { kind: "act", C: 32 }, scale: 8 }, 4] as const,
  [`${op} C = 13, a window`, { op, a: { kind: "act", C: 13, window: 2 }, scale: 12 }, 1] as const,
]);

const BINARY: readonly [string, Omit<ElementwiseCase, "S">, 1 | 4][] = [
  ["add [L, 32] + [32]", { op: "add", a: { kind: "act", C: 32 }, b: { kind: "weight", shape: [32] } }, 4],
  ["mul [L, 30] * [30]", { op: "mul", a: { kind: "act", C: 30 }, b: { kind: "weight", shape: [30] } }, 1],
  ["add [L, 12] window + [L, 12]", { op: "add", a: { kind: "act", C: 12, window: 5 }, b: { kind: "act", C: 12 } }, 4],
  ["mul [L, 8, 1] * [8, 16] (delta * A)", { op: "mul", a: { kind: "act", C: 8, shape: ["L", 8, 1] }, b: { kind: "weight", shape: [8, 16] } }, 4],
  ["mul [L, 6, 1] * [6, 7]", { op: "mul", a: { kind: "act", C: 6, shape: ["L", 6, 1] }, b: { kind: "weight", shape: [6, 7] } }, 1],
  ["mul [L, 8, 1] * [L, 1, 16] (dBx)", { op: "mul", a: { kind: "act", C: 8, shape: ["L", 8, 1] }, b: { kind: "act", C: 16, shape: ["L", 1, 16] } }, 4],
  ["mul [L, 3, 4] * [3, 1] (D per head)", { op: "mul", a: { kind: "act", C: 12, shape: ["L", 3, 4] }, b: { kind: "weight", shape: [3, 1] } }, 4],
  ["add [L, 2, 3, 5] + [L, 2, 3, 1]", { op: "add", a: { kind: "act", C: 30, shape: ["L", 2, 3, 5] }, b: { kind: "act", C: 6, shape: ["L", 2, 3, 1] } }, 1],
  ["mul [L, 1, 4] * [5, 4] window rows", { op: "mul", a: { kind: "act", C: 4, window: 4, shape: ["L", 1, 4] }, b: { kind: "weight", shape: [5, 4] } }, 4],
  ["mul a * a (relu^2's square)", { op: "mul", a: { kind: "act", C: 20 }, b: "a" }, 4],
];

async function check(c: ElementwiseCase, L: number, vec: 1 | 4, schedule?: Record<string, number>): Promise<void> {
  const tg = elementwiseGraph(c);
  const r = await runNode(tg.graph, tg.node, tg.feed(L, 900 + L), schedule ? { schedule } : {});
  expect(r.spec.schedule["vec"]).toBe(vec);
  expect(r.errors[0]).toBeLessThanOrEqual(TOL);
}

describe("elementwise family", () => {
  describe.each([...UNARY, ...BINARY])("%s", (_, c, vec) => {
    it.each(LENGTHS)("prefill, L = %i", (L) => check({ ...c, S: "L" }, L, vec));
    it("decode (S = 1)", () => check({ ...c, S: 1 }, 1, vec));
  });
  it("scalar schedule and tiny workgroups on aligned rows", async () => {
    await check({ S: "L", op: "gelu", a: { kind: "act", C: 32 }, scale: 4 }, 67, 1, { vec: 1, workgroup: 4 });
    await check({ S: "L", op: "mul", a: { kind: "act", C: 8, shape: ["L", 8, 1] }, b: { kind: "weight", shape: [8, 16] } }, 7, 1, { vec: 1, workgroup: 8 });
  });
});
