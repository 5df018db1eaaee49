/**
 * conv1d_silu / conv1d_silu_update on the adapter against interp: y and the new state (updated
 * in place in the state buffer), lengths shorter than the window, several chunks per channel,
 * vec4 and scalar channel groups, with and without bias, x read through in_proj's z-side window.
 */
import { describe, expect, it } from "vitest";
import { convGraph, type ConvCase } from "./graphs.ts";
import { runNode } from "./harness.ts";

const TOL = 1e-5;
const LENGTHS = [1, 2, 3, 7, 64, 67];

const CASES: readonly [string, Omit<ConvCase, "S">, 1 | 4][] = [
  ["C = 32, W = 4, bias, x a window", { C: 32, W: 4, bias: true, sliced: true }, 4],
  ["C = 32, W = 4, no bias", { C: 32, W: 4, bias: false }, 4],
  ["C = 30, W = 4 (scalar)", { C: 30, W: 4, bias: true, sliced: true }, 1],
  ["C = 12, W = 2", { C: 12, W: 2, bias: true }, 4],
  ["C = 9, W = 1 (no window)", { C: 9, W: 1, bias: true }, 1],
];

async function check(c: ConvCase, L: number, vec: 1 | 4, schedule?: Record<string, number>): Promise<void> {
  const tg = convGraph(c);
  const r = await runNode(tg.graph, tg.node, tg.feed(L, 2000 + L), schedule ? { schedule } : {});
  expect(r.spec.schedule["vec"]).toBe(vec);
  // The new state is read back from the state buffer itself: one read_write binding, no copy.
  const stateBindings = r.spec.bindings.filter((b) => b.access !== "uniform" && b.buffer === "state:layers.0.conv");
  expect(stateBindings).toMatchObject([{ access: "read_write", role: "state" }]);
  expect(r.request.results[1]!.buffer.key).toBe("state:layers.0.conv");
  expect(r.errors[0], "y").toBeLessThanOrEqual(TOL);
  expect(r.errors[1], "state").toBeLessThanOrEqual(TOL);
}

describe("conv family", () => {
  describe.each(CASES)("%s", (_, c, vec) => {
    it.each(LENGTHS)("prefill, L = %i", (L) => check({ ...c, S: "L" }, L, vec));
    it("decode (conv1d_silu_update)", () => check({ ...c, S: 1 }, 1, vec));
  });

  it("splits time into chunks down to W - 1 tokens without racing on the state", async () => {
    for (const chunk of [3, 8]) {
      for (const L of [2, 3, 4, 9, 67]) await check({ S: "L", C: 32, W: 4, bias: true, sliced: true }, L, 4, { chunk });
    }
    await check({ S: "L", C: 30, W: 4, bias: false }, 67, 1, { chunk: 5, workgroup: 4 });
  });
});
