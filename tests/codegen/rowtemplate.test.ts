/**
 * The row-wise families' modules (embedding, norms, elementwise, reduce_sum) leave no untyped
 * number in the WGSL (as template.test.ts checks for the others), across their schedules.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, generateKernel, requestFromGraph } from "../../compiler/codegen/index.ts";
import { UNARY_OPS } from "../../compiler/ir/ops.ts";
import type { TestGraph } from "./graphs.ts";
import { elementwiseGraph, embeddingGraph, normGraph, reduceGraph } from "./rowgraphs.ts";

const BARE = /(?<![\w.]|[eE][+-])\d+(?![\w.])/g;

const GRAPHS: readonly [TestGraph, Record<string, number>?][] = [
  [embeddingGraph({ S: "L", D: 16 })],
  [embeddingGraph({ S: 1, D: 7 })],
  [normGraph({ S: "L", op: "add_rmsnorm", C: 32 })],
  [normGraph({ S: 1, op: "add_rmsnorm", C: 1024 })],
  [normGraph({ S: "L", op: "rmsnorm_gated", C: 18, group: 6, normBeforeGate: true })],
  [normGraph({ S: "L", op: "rmsnorm_gated", C: 64, group: 32 }), { lanes: 16, workgroup: 16 }],
  [normGraph({ S: "L", op: "layernorm", C: 36 })],
  [normGraph({ S: 1, op: "layernorm", C: 18 }), { lanes: 8, workgroup: 8 }],
  ...UNARY_OPS.flatMap((op) => [[elementwiseGraph({ S: "L", op, a: { kind: "act", C: 32 } })], [elementwiseGraph({ S: 1, op, a: { kind: "act", C: 13, window: 2 } })]] as [TestGraph][]),
  [elementwiseGraph({ S: "L", op: "mul", a: { kind: "act", C: 8, shape: ["L", 8, 1] }, b: { kind: "weight", shape: [8, 16] } })],
  [elementwiseGraph({ S: "L", op: "add", a: { kind: "act", C: 12, window: 5 }, b: { kind: "act", C: 12 } })],
  [reduceGraph({ S: "L", C: 128, shape: ["L", 8, 16], axis: 2 })],
  [reduceGraph({ S: 1, C: 42, shape: ["L", 6, 7], axis: 1 })],
];

describe("row families' WGSL", () => {
  it("leaves no untyped number in generated kernels (attributes aside)", () => {
    for (const [tg, schedule] of GRAPHS) {
      const code = generateKernel(requestFromGraph(tg.graph, tg.node), DEFAULT_LIMITS, schedule)
        .wgsl.replace(/\/\/.*$/gm, "")
        .replace(/@\w+\([^)]*\)/g, "");
      expect(code.match(BARE), code).toBeNull();
    }
  });
});
