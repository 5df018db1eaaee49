/**
 * embedding on the adapter against interp: vec4 and scalar rows, prefill lengths and decode.
 */
import { describe, expect, it } from "vitest";
import { CodegenError, DEFAULT_LIMITS, generateKernel, requestFromGraph } from "../../compiler/codegen/index.ts";
import { embeddingGraph } from "./rowgraphs.ts";
import { runNode } from "./harness.ts";

const LENGTHS = [1, 7, 64, 67];
/** A copy is exact up to the f32 rounding of the float64 table (2^-24 relative). */
const ROUNDING = 6e-8;

describe("embedding", () => {
  describe.each([
    [16, 4],
    [20, 4],
    [18, 1],
    [7, 1],
    [300, 4],
  ] as const)("D = %i", (D, vec) => {
    it.each(LENGTHS)("prefill, L = %i", async (L) => {
      const tg = embeddingGraph({ S: "L", D });
      const r = await runNode(tg.graph, tg.node, tg.feed(L, 100 + L));
      expect(r.spec.schedule["vec"]).toBe(vec);
      expect(r.spec.bindings.find((b) => b.name === "ids")).toMatchObject({ dtype: "i32", lanes: 1 });
      expect(r.errors[0]).toBeLessThanOrEqual(ROUNDING);
    });
    it("decode (S = 1)", async () => {
      const tg = embeddingGraph({ S: 1, D });
      const r = await runNode(tg.graph, tg.node, tg.feed(1, 7));
      expect(r.errors[0]).toBeLessThanOrEqual(ROUNDING);
    });
  });
  it("a table over maxStorageBufferBindingSize is a diagnostic at the node (splitting it is a later task)", () => {
    const tg = embeddingGraph({ S: "L", D: 16 });
    const gen = () => generateKernel(requestFromGraph(tg.graph, tg.node), { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: 256 });
    expect(gen).toThrow(CodegenError);
    expect(gen).toThrow(/table.*exceeds maxStorageBufferBindingSize/);
  });
  it("small workgroups cover every row", async () => {
    const tg = embeddingGraph({ S: "L", D: 20 });
    const r = await runNode(tg.graph, tg.node, tg.feed(67, 3), { schedule: { workgroup: 8 } });
    expect(r.errors[0]).toBeLessThanOrEqual(ROUNDING);
  });
});
