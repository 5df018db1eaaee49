/**
 * The row-norm family on the adapter against interp: add_rmsnorm (sum and normed), rmsnorm_gated
 * (both gate orders, groups), standalone rmsnorm (groups) and layernorm; vec4 and scalar rows,
 * an operand read through a window of a wider row, prefill lengths and decode.
 */
import { describe, expect, it } from "vitest";
import { normGraph, type NormCase } from "./rowgraphs.ts";
import { runNode } from "./harness.ts";

const TOL = 1e-5;
const LENGTHS = [1, 7, 64, 67];

const CASES: readonly [string, Omit<NormCase, "S">, 1 | 4][] = [
  ["add_rmsnorm C = 32", { op: "add_rmsnorm", C: 32 }, 4],
  ["add_rmsnorm C = 30", { op: "add_rmsnorm", C: 30 }, 1],
  ["add_rmsnorm C = 768, a a window", { op: "add_rmsnorm", C: 768, sliced: true }, 1],
  ["add_rmsnorm C = 48, groups of 16", { op: "add_rmsnorm", C: 48, group: 16 }, 4],
  ["rmsnorm_gated C = 64, 2 groups, gate before norm", { op: "rmsnorm_gated", C: 64, group: 32 }, 4],
  ["rmsnorm_gated C = 64, normBeforeGate", { op: "rmsnorm_gated", C: 64, normBeforeGate: true }, 4],
  ["rmsnorm_gated C = 18, 3 groups of 6", { op: "rmsnorm_gated", C: 18, group: 6 }, 1],
  ["rmsnorm_gated C = 20, groups of 5, normBeforeGate, x a window", { op: "rmsnorm_gated", C: 20, group: 5, normBeforeGate: true, sliced: true }, 1],
  ["rmsnorm C = 16", { op: "rmsnorm", C: 16 }, 4],
  ["rmsnorm C = 24, groups of 6", { op: "rmsnorm", C: 24, group: 6 }, 1],
  ["layernorm C = 36", { op: "layernorm", C: 36 }, 4],
  ["layernorm C = 18", { op: "layernorm", C: 18 }, 1],
];

async function check(c: NormCase, L: number, vec: 1 | 4, schedule?: Record<string, number>): Promise<void> {
  const tg = normGraph(c);
  const r = await runNode(tg.graph, tg.node, tg.feed(L, 500 + L), schedule ? { schedule } : {});
  expect(r.spec.schedule["vec"]).toBe(vec);
  expect(r.errors.length).toBe(c.op === "add_rmsnorm" ? 2 : 1);
  r.errors.forEach((e, i) => expect(e, `result ${i}`).toBeLessThanOrEqual(TOL));
}

describe("norm family", () => {
  describe.each(CASES)("%s", (_, c, vec) => {
    it.each(LENGTHS)("prefill, L = %i", (L) => check({ ...c, S: "L" }, L, vec));
    it("decode (S = 1)", () => check({ ...c, S: 1 }, 1, vec));
  });
  it("decode of long rows takes a workgroup per row", async () => {
    const tg = normGraph({ S: 1, op: "add_rmsnorm", C: 1024 });
    const r = await runNode(tg.graph, tg.node, tg.feed(1, 3));
    expect(r.spec.schedule).toMatchObject({ vec: 4, lanes: 64, workgroup: 64 });
    r.errors.forEach((e) => expect(e).toBeLessThanOrEqual(TOL));
  });
  describe.each(CASES)("workgroup per row: %s", (_, c, vec) => {
    it.each([
      [1, 4],
      [7, 64],
      [67, 8],
    ])("L = %i, %i lanes", (L, lanes) => check({ ...c, S: "L" }, L, vec, { lanes, workgroup: lanes }));
  });
  it("scalar schedule and tiny workgroups on aligned rows", async () => {
    await check({ S: "L", op: "add_rmsnorm", C: 32 }, 67, 1, { vec: 1, workgroup: 4 });
    await check({ S: "L", op: "layernorm", C: 36 }, 7, 1, { vec: 1, workgroup: 2 });
  });
});
