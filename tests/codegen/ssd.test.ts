/**
 * ssd_chunked / ssd_state_update on the adapter against interp (the chunked SSD algorithm in
 * float64): y and the final state (updated in place), L = 1, 7, 64, 67 (a prime longer than the
 * chunk), d_state 16, 64, 128 (vec4) and 6 (scalar), groups 1 and 2, headdim 4, 8, 64, every
 * epilogue (none, gate, gate_norm and norm_gate with whole-head and sub-head norm groups), and
 * the decode step. Operands are laid out as the optimized Mamba-2 layer has them (x|B|C one
 * buffer, z|dt one buffer), which keeps the kernel within WebGPU's default 8 storage buffers.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, generateKernel, requestFromGraph } from "../../compiler/codegen/index.ts";
import { lowerDecode, lowerPrefill, stateSlots } from "../../compiler/lower/index.ts";
import { optimize } from "../../compiler/passes/index.ts";
import { makeModel, mamba2, randomTokens, randomWeights } from "../ir/fixtures.ts";
import { Rng } from "../ir/prng.ts";
import { ssdGraph, type SsdCase } from "./ssd-graphs.ts";
import { runNode } from "./harness.ts";

const TOL = 1e-4;
const LENGTHS = [1, 7, 64, 67];

const CASES: readonly [string, Omit<SsdCase, "S">, 1 | 4][] = [
  ["N = 16, G = 1, P = 8, none", { H: 4, P: 8, G: 1, N: 16, epilogue: "none" }, 4],
  ["N = 16, G = 2, P = 4, gate", { H: 6, P: 4, G: 2, N: 16, epilogue: "gate" }, 4],
  ["N = 64, G = 2, P = 8, gate_norm (group = P)", { H: 4, P: 8, G: 2, N: 64, epilogue: "gate_norm" }, 4],
  ["N = 128, G = 1, P = 64, gate_norm (group = 16)", { H: 3, P: 64, G: 1, N: 128, epilogue: "gate_norm", group: 16 }, 4],
  ["N = 64, G = 2, P = 64, norm_gate (group = P)", { H: 4, P: 64, G: 2, N: 64, epilogue: "norm_gate" }, 4],
  ["N = 16, G = 1, P = 4, norm_gate (group = 2)", { H: 2, P: 4, G: 1, N: 16, epilogue: "norm_gate", group: 2 }, 4],
  ["N = 128, G = 2, P = 8, gate", { H: 4, P: 8, G: 2, N: 128, epilogue: "gate", chunk: 64 }, 4],
  ["N = 6 (scalar), G = 1, P = 4, gate_norm", { H: 2, P: 4, G: 1, N: 6, epilogue: "gate_norm" }, 1],
];

async function check(c: SsdCase, L: number, vec: 1 | 4, schedule?: Record<string, number>): Promise<void> {
  const tg = ssdGraph(c);
  const r = await runNode(tg.graph, tg.node, tg.feed(L, 4000 + L), schedule ? { schedule } : {});
  expect(r.spec.schedule["vec"]).toBe(vec);
  expect(r.spec.bindings.filter((b) => b.access !== "uniform" && b.buffer === "state:layers.0.ssm")).toMatchObject([{ access: "read_write", role: "state" }]);
  expect(r.spec.bindings.filter((b) => b.access !== "uniform").length).toBeLessThanOrEqual(8);
  expect(r.errors[0], "y").toBeLessThanOrEqual(TOL);
  expect(r.errors[1], "state").toBeLessThanOrEqual(TOL);
}

describe("ssd family", () => {
  describe.each(CASES)("%s", (_, c, vec) => {
    it.each(LENGTHS)("ssd_chunked, L = %i", (L) => check({ ...c, S: "L" }, L, vec));
    it("ssd_state_update (decode)", () => check({ ...c, S: 1 }, 1, vec));
  });

  describe("the scalar walk, small workgroups (several rows per invocation) and per-head grids agree with the defaults", () => {
    it("scalar walk over N = 16", () => check({ S: "L", H: 3, P: 8, G: 1, N: 16, epilogue: "gate" }, 67, 1, { vec: 1 }));
    it("gate on the per-head grid, 2 rows per invocation", () => check({ S: "L", H: 3, P: 8, G: 1, N: 16, epilogue: "gate" }, 7, 4, { perHead: 1, workgroup: 4 }));
    it("gate_norm, 4 rows per invocation", () => check({ S: "L", H: 2, P: 64, G: 2, N: 64, epilogue: "gate_norm", group: 8 }, 67, 4, { workgroup: 16 }));
    it("unrolled N = 128 and a looped N = 16", async () => {
      await check({ S: "L", H: 2, P: 8, G: 2, N: 128, epilogue: "gate_norm" }, 67, 4, { unroll: 1 });
      await check({ S: "L", H: 2, P: 8, G: 2, N: 16, epilogue: "norm_gate" }, 67, 4, { unroll: 0 });
      await check({ S: "L", H: 2, P: 8, G: 2, N: 6, epilogue: "none" }, 67, 1, { unroll: 0 });
    });
    it("norm_gate decode, 8 rows per invocation", () => check({ S: 1, H: 2, P: 64, G: 1, N: 16, epilogue: "norm_gate" }, 1, 4, { workgroup: 8 }));
  });

  it("is generated under the WebGPU default limits, with the norm epilogues one workgroup per head", () => {
    for (const epilogue of ["none", "gate", "gate_norm", "norm_gate"] as const) {
      const tg = ssdGraph({ S: "L", H: 24, P: 64, G: 1, N: 128, epilogue });
      const spec = generateKernel(requestFromGraph(tg.graph, tg.node), DEFAULT_LIMITS);
      const norm = epilogue === "gate_norm" || epilogue === "norm_gate";
      expect(spec.schedule).toMatchObject({ vec: 4, perHead: norm ? 1 : 0, unroll: 0 });
      expect(spec.dispatch).toEqual({ lTile: null, times: norm ? 24 : (24 * 64) / 64 });
      expect(spec.wgsl).toContain("sequential over t");
      expect(spec.wgsl.includes("storageBarrier")).toBe(norm);
    }
  });

  it("refuses a norm epilogue on the flat row grid", () => {
    const tg = ssdGraph({ S: "L", H: 2, P: 8, G: 1, N: 16, epilogue: "gate_norm" });
    expect(() => generateKernel(requestFromGraph(tg.graph, tg.node), DEFAULT_LIMITS, { perHead: 0 })).toThrow(/one workgroup per head/);
  });

  describe("the SSD nodes of an optimized Mamba-2 model (real views: x|B|C of the conv output, z|dt of in_proj's)", () => {
    const model = makeModel({
      dModel: 16,
      layers: [
        [mamba2(16, { headdim: 8, dState: 16, ngroups: 2 })],
        [mamba2(16, { headdim: 4, dState: 64 })],
        [mamba2(16, { headdim: 8, dState: 16, normGroup: 8 })],
        [mamba2(16, { headdim: 8, dState: 16, normGroup: 4, normBeforeGate: true })],
      ],
    });
    const programs = [
      ["prefill L = 7", () => optimize(lowerPrefill(model)), 7, 0],
      ["prefill L = 67", () => optimize(lowerPrefill(model)), 67, 0],
      ["decode", () => optimize(lowerDecode(model)), 1, 9],
    ] as const;
    it.each(programs)("%s", async (_, lower, L, pos) => {
      const g = lower();
      const rng = new Rng(L * 13 + pos);
      const inputs: Record<string, Float64Array> = { tokens: Float64Array.from(randomTokens(model, L, L)), pos: Float64Array.of(pos) };
      for (const st of stateSlots(model)) inputs[st.name] = rng.array(st.type.shape.reduce<number>((a, d) => a * (d as number), 1), () => 0.5 * rng.normal());
      const f = { L, inputs, weights: randomWeights(model, 5) };
      const nodes = g.nodes.filter((n) => n.op === "ssd_chunked" || n.op === "ssd_state_update");
      expect(new Set(nodes.map((n) => (n.attrs as { epilogue: string }).epilogue))).toEqual(new Set(["gate", "gate_norm", "norm_gate"]));
      for (const n of nodes) {
        const r = await runNode(g, n.id, f);
        expect(r.spec.bindings.filter((b) => b.access !== "uniform").length).toBeLessThanOrEqual(8);
        r.errors.forEach((e, i) => expect(e, `${r.spec.name} result ${i}`).toBeLessThanOrEqual(TOL));
      }
    });
  });
});
