/**
 * selective_scan / selective_state_update on the adapter against interp: y and the final state
 * (updated in place), d_state 16, 64, 128 (vec4 state registers) and 6 (scalar), dt ranks that
 * leave B and C unaligned in x_proj's row, Jamba's inner norms, and the decode step.
 */
import { describe, expect, it } from "vitest";
import { scanGraph, type ScanCase } from "./graphs.ts";
import { runNode } from "./harness.ts";

const TOL = 1e-4;
const LENGTHS = [1, 7, 64, 67];

const CASES: readonly [string, Omit<ScanCase, "S">, 1 | 4][] = [
  ["N = 16, R = 4", { Di: 36, N: 16, R: 4 }, 4],
  ["N = 16, R = 1 (B, C unaligned)", { Di: 32, N: 16, R: 1 }, 4],
  ["N = 64, R = 3, inner norms", { Di: 20, N: 64, R: 3, innerNorms: true }, 4],
  ["N = 128, R = 8", { Di: 70, N: 128, R: 8 }, 4],
  ["N = 16, R = 48 (Mamba-130M's ratio)", { Di: 40, N: 16, R: 48 }, 4],
  ["N = 6 (scalar), inner norms", { Di: 10, N: 6, R: 2, innerNorms: true }, 1],
];

async function check(c: ScanCase, L: number, vec: 1 | 4, schedule?: Record<string, number>): Promise<void> {
  const tg = scanGraph(c);
  const r = await runNode(tg.graph, tg.node, tg.feed(L, 3000 + L), schedule ? { schedule } : {});
  expect(r.spec.schedule["vec"]).toBe(vec);
  expect(r.spec.bindings.filter((b) => b.access !== "uniform" && b.buffer === "state:layers.0.ssm")).toMatchObject([{ access: "read_write", role: "state" }]);
  expect(r.errors[0], "y").toBeLessThanOrEqual(TOL);
  expect(r.errors[1], "state").toBeLessThanOrEqual(TOL);
}

describe("scan family", () => {
  describe.each(CASES)("%s", (_, c, vec) => {
    it.each(LENGTHS)("selective_scan, L = %i", (L) => check({ ...c, S: "L" }, L, vec));
    it("selective_state_update (decode)", () => check({ ...c, S: 1 }, 1, vec));
  });

  it("the prefill walk's default: several channels per invocation, rows staged", async () => {
    const tg = scanGraph({ S: "L", Di: 40, N: 16, R: 48 });
    const r = await runNode(tg.graph, tg.node, tg.feed(67, 3100));
    expect(r.spec.schedule).toMatchObject({ channels: 4, stage: 16 });
    expect(r.spec.wgsl).toContain("var<workgroup> dt_rows");
    expect(r.errors[0], "y").toBeLessThanOrEqual(TOL);
    expect(r.errors[1], "state").toBeLessThanOrEqual(TOL);
  });

  it("channels that a grid does not fill (ragged), short staged blocks, inner norms and unstaged rows agree", async () => {
    // 36 channels, 2 per invocation, 8 invocations: 16 per workgroup, the third workgroup half empty.
    await check({ S: "L", Di: 36, N: 16, R: 4 }, 67, 4, { channels: 2, workgroup: 8, stage: 3 });
    await check({ S: "L", Di: 20, N: 64, R: 3, innerNorms: true }, 67, 4, { channels: 3, workgroup: 4, stage: 5 });
    await check({ S: "L", Di: 10, N: 6, R: 2, innerNorms: true }, 7, 1, { channels: 4, workgroup: 2, stage: 0 });
    await check({ S: "L", Di: 36, N: 16, R: 8 }, 1, 4, { channels: 4, workgroup: 4, stage: 16, dtRegisters: 0 });
  });

  it("the scalar walks and the dt_proj row in memory agree with the defaults", async () => {
    await check({ S: "L", Di: 36, N: 16, R: 4, innerNorms: true }, 67, 1, { vec: 1, dtVec: 1 });
    await check({ S: "L", Di: 36, N: 16, R: 8, innerNorms: true }, 67, 4, { dtRegisters: 0 });
    await check({ S: 1, Di: 36, N: 64, R: 4 }, 1, 1, { vec: 1, dtRegisters: 0, workgroup: 8 });
  });
});
