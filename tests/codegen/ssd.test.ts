/**
 * ssd / ssd_state_update on the adapter against interp (the chunked SSD algorithm in
 * float64): y and the final state (updated in place), L = 1, 7, 64, 67 (a prime longer than the
 * chunk), d_state 16, 64, 128 (vec4) and 6 (scalar), groups 1 and 2, headdim 4, 8, 64, every
 * epilogue (none, gate, gate_norm and norm_gate with whole-head and sub-head norm groups), and
 * the decode step. Operands are laid out as the optimized Mamba-2 layer has them (x|B|C one
 * buffer, z|dt one buffer), which keeps the kernel within WebGPU's default 8 storage buffers;
 * and on the views of an optimized model, where in_proj's output (z|xBC|dt) is one read-only vec4
 * binding of the decode step.
 * The chunked algorithm (schedule algo 1, not the default) runs on six of the eight cases (every
 * epilogue, N = 6/16/64/128, groups 1 and 2, one to eight p tiles per head, Q = 8, 16 and 32 with
 * several chunks and a remainder) and its own schedule edge cases: each chunked kernel costs
 * tens of seconds to compile on a cold lavapipe shader cache, so the cases are not multiplied.
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

/**
 * Each case: its name, the problem, the expected vec, and the chunked tiles (in an adapter's 32 KiB
 * of workgroup memory): the p tile (PT | P, the norm group | PT; PT < P gives several tiles per
 * head), the chunk Q run over LENGTHS (64 = whole chunks, 67 = chunks and a remainder), and
 * whether Q = 32 also fits (then run at L = 131: 4 chunks and 3 tokens).
 */
const CASES: readonly [string, Omit<SsdCase, "S">, 1 | 4, { ptile: number; chunk: number; q32: boolean } | null][] = [
  ["N = 16, G = 1, P = 8, none", { H: 4, P: 8, G: 1, N: 16, epilogue: "none" }, 4, { ptile: 4, chunk: 16, q32: true }],
  ["N = 16, G = 2, P = 4, gate", { H: 6, P: 4, G: 2, N: 16, epilogue: "gate" }, 4, null],
  ["N = 64, G = 2, P = 8, gate_norm (group = P)", { H: 4, P: 8, G: 2, N: 64, epilogue: "gate_norm" }, 4, { ptile: 8, chunk: 16, q32: false }],
  ["N = 128, G = 1, P = 64, gate_norm (group = 16)", { H: 3, P: 64, G: 1, N: 128, epilogue: "gate_norm", group: 16 }, 4, { ptile: 16, chunk: 16, q32: false }],
  ["N = 64, G = 2, P = 64, norm_gate (group = P)", { H: 4, P: 64, G: 2, N: 64, epilogue: "norm_gate" }, 4, { ptile: 64, chunk: 8, q32: false }],
  ["N = 16, G = 1, P = 4, norm_gate (group = 2)", { H: 2, P: 4, G: 1, N: 16, epilogue: "norm_gate", group: 2 }, 4, { ptile: 2, chunk: 16, q32: false }],
  ["N = 128, G = 2, P = 8, gate", { H: 4, P: 8, G: 2, N: 128, epilogue: "gate", chunk: 64 }, 4, null],
  ["N = 6 (scalar), G = 1, P = 4, gate_norm", { H: 2, P: 4, G: 1, N: 6, epilogue: "gate_norm" }, 1, { ptile: 4, chunk: 16, q32: false }],
];

async function check(c: SsdCase, L: number, vec: 1 | 4, schedule?: Record<string, number>): Promise<void> {
  const tg = ssdGraph(c);
  const r = await runNode(tg.graph, tg.node, tg.feed(L, 4000 + L), schedule ? { schedule } : {});
  expect(r.spec.schedule["vec"]).toBe(vec);
  expect(r.spec.schedule["algo"]).toBe(schedule?.["algo"] ?? 0);
  expect(r.spec.bindings.filter((b) => b.access !== "uniform" && b.buffer === "state:layers.0.ssm")).toMatchObject([{ access: "read_write", role: "state" }]);
  expect(r.spec.bindings.filter((b) => b.access !== "uniform").length).toBeLessThanOrEqual(8);
  expect(r.errors[0], "y").toBeLessThanOrEqual(TOL);
  expect(r.errors[1], "state").toBeLessThanOrEqual(TOL);
}

describe("ssd family", () => {
  describe.each(CASES)("%s", (_, c, vec, t) => {
    it.each(LENGTHS)("ssd, L = %i", (L) => check({ ...c, S: "L" }, L, vec));
    it("ssd_state_update (decode)", () => check({ ...c, S: 1 }, 1, vec));
    if (t !== null) {
      it(`chunked algorithm, PT = ${t.ptile}: Q = ${t.chunk} at L = ${LENGTHS.join(", ")}${t.q32 ? ", Q = 32 at L = 131" : ""}`, async () => {
        for (const L of LENGTHS) await check({ ...c, S: "L" }, L, vec, { algo: 1, chunk: t.chunk, ptile: t.ptile });
        if (t.q32) await check({ ...c, S: "L" }, 131, vec, { algo: 1, chunk: 32, ptile: t.ptile });
      });
    }
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

  describe("decode streams the state (each lane group loaded, updated and stored in turn)", () => {
    it("1 row, 4 rows that the grid does not fill (ragged), a looped N = 16, an unrolled N = 128, scalar N = 6", async () => {
      await check({ S: 1, H: 4, P: 8, G: 2, N: 128, epilogue: "gate" }, 1, 4, { rows: 1 });
      // 6 heads of P = 4: 4 rows per invocation, 8 invocations = 32 rows > 24.
      await check({ S: 1, H: 6, P: 4, G: 2, N: 16, epilogue: "gate" }, 1, 4, { rows: 4, workgroup: 8 });
      await check({ S: 1, H: 6, P: 4, G: 2, N: 16, epilogue: "none" }, 1, 4, { rows: 2, workgroup: 4, unroll: 0 });
      await check({ S: 1, H: 2, P: 8, G: 1, N: 128, epilogue: "gate" }, 1, 4, { unroll: 1 });
      await check({ S: 1, H: 2, P: 4, G: 1, N: 6, epilogue: "gate" }, 1, 1, { rows: 2 });
    });
    it("by default: 2 rows per invocation on the flat grid, one head per workgroup for the norms, no state row held", () => {
      for (const epilogue of ["none", "gate", "gate_norm", "norm_gate"] as const) {
        const tg = ssdGraph({ S: 1, H: 24, P: 64, G: 1, N: 128, epilogue });
        const spec = generateKernel(requestFromGraph(tg.graph, tg.node), DEFAULT_LIMITS);
        const norm = epilogue === "gate_norm" || epilogue === "norm_gate";
        expect(spec.schedule).toMatchObject({ algo: 0, vec: 4, perHead: norm ? 1 : 0, rows: norm ? 1 : 2, stage: 0 });
        expect(spec.dispatch).toEqual({ lTile: null, times: norm ? 24 : (24 * 64) / (64 * 2) });
        expect(spec.wgsl).toContain("state streamed in 32 vec4<f32>");
        expect(spec.wgsl).not.toMatch(/var st\w*: array/);
      }
    });
  });

  describe("the prefill walk with several rows per invocation", () => {
    // The defaults: 2 rows of a 128-wide state (private arrays), 16 invocations = half a head, B and C staged.
    it.each([1, 16, 67])("N = 128, P = 64, B and C staged, L = %i", async (L) => {
      const c: SsdCase = { S: "L", H: 2, P: 64, G: 1, N: 128, epilogue: "gate" };
      const r = await runNode(ssdGraph(c).graph, ssdGraph(c).node, ssdGraph(c).feed(L, 4100 + L));
      expect(r.spec.schedule).toMatchObject({ rows: 2, stage: 16, unroll: 0, workgroup: 16 });
      expect(r.spec.wgsl).toContain("var<workgroup> b_rows");
      expect(r.errors[0], "y").toBeLessThanOrEqual(TOL);
      expect(r.errors[1], "state").toBeLessThanOrEqual(TOL);
    });
    it("rows that a grid does not fill (ragged), unstaged (two groups in a workgroup), unrolled", async () => {
      // 6 heads of P = 4 in 2 groups: 4 rows per invocation, 8 invocations = 32 rows > 24.
      await check({ S: "L", H: 6, P: 4, G: 2, N: 16, epilogue: "gate" }, 67, 4, { rows: 4, workgroup: 8, stage: 0 });
      await check({ S: "L", H: 6, P: 4, G: 2, N: 16, epilogue: "none" }, 7, 4, { rows: 2, workgroup: 4, stage: 0 });
    });
    it("staged with short blocks: a stage of 3 tokens over L = 67", () => check({ S: "L", H: 4, P: 8, G: 1, N: 16, epilogue: "gate" }, 67, 4, { rows: 2, workgroup: 4, stage: 3 }));
  });

  it("is generated under the WebGPU default limits, with the norm epilogues one workgroup per head", () => {
    for (const epilogue of ["none", "gate", "gate_norm", "norm_gate"] as const) {
      const tg = ssdGraph({ S: "L", H: 24, P: 64, G: 1, N: 128, epilogue });
      const spec = generateKernel(requestFromGraph(tg.graph, tg.node), DEFAULT_LIMITS);
      const norm = epilogue === "gate_norm" || epilogue === "norm_gate";
      // The flat grid over rows: 2 rows of 128 state values per invocation, 16 invocations, B and C staged 16 tokens at a time.
      expect(spec.schedule).toMatchObject({ algo: 0, vec: 4, perHead: norm ? 1 : 0, unroll: 0, rows: norm ? 1 : 2, stage: norm ? 0 : 16 });
      expect(spec.dispatch).toEqual({ lTile: null, times: norm ? 24 : (24 * 64) / (16 * 2) });
      expect(spec.wgsl).toContain("sequential over t");
      expect(spec.wgsl.includes("storageBarrier")).toBe(norm);
    }
  });

  describe("the chunked algorithm's other schedules", () => {
    it("scalar lanes over N = 16, a workgroup smaller than every tile grid, one p tile of P", async () => {
      await check({ S: "L", H: 3, P: 8, G: 1, N: 16, epilogue: "gate" }, 67, 1, { algo: 1, vec: 1, chunk: 16, ptile: 8 });
      await check({ S: "L", H: 2, P: 64, G: 2, N: 64, epilogue: "gate_norm", group: 8 }, 67, 4, { algo: 1, chunk: 8, ptile: 32, workgroup: 16 });
    });
    it("a chunk of 1 token and a chunk longer than L", async () => {
      await check({ S: "L", H: 2, P: 4, G: 1, N: 16, epilogue: "norm_gate" }, 7, 4, { algo: 1, chunk: 1, ptile: 4 });
      await check({ S: "L", H: 2, P: 4, G: 1, N: 16, epilogue: "none" }, 7, 4, { algo: 1, chunk: 32, ptile: 2 });
    });
    it("{ algo: 1 } alone under the WebGPU default limits: tiles that fit 16 KiB, widest p tile first", async () => {
      // 4 (2 Q N + PT N + Q PT + Q Q + 4 Q) <= 16384: N = 128 fits only Q = 8, PT = 8 (3232 words);
      // N = 64 fits PT = 32 at Q = 8 (3424), not at Q = 16 (4928); N = 16 fits PT = 64 at Q = 16 (2880).
      const tiles = (N: number) => {
        const tg = ssdGraph({ S: "L", H: 24, P: 64, G: 1, N, epilogue: "gate" });
        return generateKernel(requestFromGraph(tg.graph, tg.node), DEFAULT_LIMITS, { algo: 1 }).schedule;
      };
      expect(tiles(128)).toMatchObject({ algo: 1, chunk: 8, ptile: 8, workgroup: 64 });
      expect(tiles(64)).toMatchObject({ algo: 1, chunk: 8, ptile: 32 });
      expect(tiles(16)).toMatchObject({ algo: 1, chunk: 16, ptile: 64 });
      const spec = (() => {
        const tg = ssdGraph({ S: "L", H: 24, P: 64, G: 1, N: 128, epilogue: "gate" });
        return generateKernel(requestFromGraph(tg.graph, tg.node), DEFAULT_LIMITS, { algo: 1 });
      })();
      expect(spec.dispatch).toEqual({ lTile: null, times: 24 * (64 / 8) });
      expect(spec.wgsl).toContain("workgroupBarrier();");
      expect(spec.wgsl).not.toContain("storageBarrier");
      expect(spec.wgsl).toContain("workgroup memory: 12928 bytes");
      // and it runs: the same tiles at H = 2, against interp
      await check({ S: "L", H: 2, P: 64, G: 1, N: 128, epilogue: "gate" }, 67, 4, { algo: 1, chunk: 8, ptile: 8 });
    });
    it("refuses decode, a p tile that splits a norm group or headdim, and tiles over the workgroup memory", () => {
      const gen = (c: SsdCase, schedule: Record<string, number>) => {
        const tg = ssdGraph(c);
        return () => generateKernel(requestFromGraph(tg.graph, tg.node), DEFAULT_LIMITS, schedule);
      };
      const gate = { H: 2, P: 8, G: 1, N: 16, epilogue: "gate" } as const;
      expect(gen({ ...gate, S: 1 }, { algo: 1 })).toThrow(/decode \(S = 1\) runs the sequential algorithm/);
      expect(gen({ ...gate, S: "L" }, { algo: 1, ptile: 3 })).toThrow(/the p tile must divide headdim 8/);
      expect(gen({ ...gate, S: "L", epilogue: "gate_norm", group: 4 }, { algo: 1, ptile: 2 })).toThrow(/the norm group \(4\) must divide the p tile/);
      // 4 (2 * 64 * 128 + 8 * 128 + 64 * 8 + 64 * 64 + 4 * 64) = 89088 bytes
      expect(gen({ ...gate, S: "L", N: 128 }, { algo: 1, chunk: 64, ptile: 8 })).toThrow(/needs 89088 bytes of workgroup memory; the adapter allows 16384/);
      // no p tile fits: norm_gate over whole 64-channel groups with N = 64 needs PT = 64 (Q = 8: 4 * (1024 + 4096 + 512 + 64 + 32 + 512) = 24960 bytes)
      expect(gen({ S: "L", H: 2, P: 64, G: 1, N: 64, epilogue: "norm_gate" }, { algo: 1 })).toThrow(/needs 24960 bytes/);
    });
  });

  it("refuses a state row beyond the 8 KiB of registers WGSL guarantees (d_state 2048 of f32 + 16 is over)", () => {
    const gen = (N: number) => () => {
      const tg = ssdGraph({ S: "L", H: 2, P: 4, G: 1, N, epilogue: "gate" });
      return generateKernel(requestFromGraph(tg.graph, tg.node), DEFAULT_LIMITS);
    };
    expect(gen(2032)).not.toThrow();
    expect(gen(2048)).toThrow(/the state row of d_state = 2048 values in registers takes 8256 bytes of function variables, over the 8192 bytes WGSL guarantees/);
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
      const nodes = g.nodes.filter((n) => n.op === "ssd" || n.op === "ssd_state_update");
      expect(new Set(nodes.map((n) => (n.attrs as { epilogue: string }).epilogue))).toEqual(new Set(["gate", "gate_norm", "norm_gate"]));
      for (const n of nodes) {
        // The chunked kernel on the first (groups 2, gate_norm) and last (norm_gate) layers' views:
        // its compiles are the costly ones on a cold shader cache.
        const chunked = n.op === "ssd" && (n === nodes[0] || n === nodes.at(-1));
        const schedules: Record<string, number>[] = chunked ? [{}, { algo: 1, chunk: 16 }] : [{}];
        for (const schedule of schedules) {
          const r = await runNode(g, n.id, f, { schedule });
          expect(r.spec.bindings.filter((b) => b.access !== "uniform").length).toBeLessThanOrEqual(8);
          if (n.op === "ssd_state_update") {
            // in_proj's output holds z | xBC | dt, read-only here: a vec4 binding (z, x and dt read
            // single components of it), so each B and C lane group is one vec4 load, not four.
            const bc = r.spec.bindings.find((b) => b.access !== "uniform" && b.name.split("_").includes("B"));
            expect(bc, r.spec.name).toMatchObject({ access: "read", lanes: 4 });
            expect(r.spec.wgsl).not.toContain(`vec4<f32>(${bc!.name}[`);
          }
          r.errors.forEach((e, i) => expect(e, `${r.spec.name} ${JSON.stringify(schedule)} result ${i}`).toBeLessThanOrEqual(TOL));
        }
      }
    });
  });
});
