/**
 * The cooperative decode GEMV (wgsl/gemv.ts, a schedule of the linear family) on the adapter
 * against the float64 interpreter: T lanes per output column walking K together (strided and
 * chunked), R slots of TN columns per workgroup, the partial sums reduced in workgroup memory.
 * Odd shapes: K not a multiple of 4 (scalar loads), K = 1 (most lanes idle), K prime and
 * longer than the workgroup, N prime, N smaller than a workgroup's columns; every prologue (the
 * norm staged), bias, residual, activations (swiglu's two weights), several weights side by
 * side, x through a window; f16 weights read packed; a weight bound as row windows; the
 * schedule's fallbacks (workgroup memory, workgroup size); and whole decode steps of tiny
 * models (a CPU build: tiled GEMVs behind a staged norm, cooperative ones elsewhere; a GPU
 * build: all cooperative), logits against the float64 reference.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, type KernelLimits } from "../../compiler/codegen/index.ts";
import { lowerDecode, subgroupsFor, type ResolvedModel } from "../../compiler/index.ts";
import { artifactFor } from "../../compiler/load.ts";
import { relError } from "../../compiler/interp/index.ts";
import { weightLayout, type WeightLayout } from "../../compiler/plan/weights.ts";
import type { Graph } from "../../compiler/ir/graph.ts";
import type { GpuModelMemory, GpuProgram } from "../../runtime/program.ts";
import { halfValues, halfWeights } from "../f16/half.ts";
import { randomTokens, randomWeights, runGraph, zeroState, type State } from "../ir/fixtures.ts";
import { built, programsOf, spec } from "../runtime/built.ts";
import { getDevice } from "../gpu/device.ts";
import { layerLayout, linearGraph, type LinearCase } from "./graphs.ts";
import { runNode, type NodeResult } from "./harness.ts";

const TOL = 1e-5;

/** Cooperative shapes: [label, override]. */
const SHAPES: readonly [string, Record<string, number>][] = [
  ["T4 x R16, 4 columns a slot (the default shape)", { coop: 4, wgCols: 16, tileCols: 4 }],
  ["T8 x R4, 1 column, chunked lanes", { coop: 8, wgCols: 4, tileCols: 1, coopChunked: 1 }],
  ["T32 x R2, 3 columns", { coop: 32, wgCols: 2, tileCols: 3 }],
];

/** [label, decode case without S, expected vector width]. */
const CASES: readonly [string, Omit<LinearCase, "S">, 1 | 4][] = [
  ["plain, K = 16, N = 33", { K: 16, outs: [33], plain: true }, 4],
  ["plain, K = 18 (scalar), N = 19", { K: 18, outs: [19], plain: true }, 1],
  ["plain, K = 1, N = 7", { K: 1, outs: [7], plain: true }, 1],
  ["plain, K = 4, N = 1", { K: 4, outs: [1], plain: true }, 4],
  ["rmsnorm, K = 300 > the workgroup, N = 257 prime", { K: 300, outs: [257], prologue: "rmsnorm" }, 4],
  ["grouped rmsnorm + bias + residual", { K: 32, outs: [24], prologue: "rmsnorm", group: 8, bias: true, residual: true }, 4],
  ["rmsnorm groups of 7, K = 21 (scalar) + residual", { K: 21, outs: [11], prologue: "rmsnorm", group: 7, residual: true }, 1],
  ["layernorm + bias, K = 20", { K: 20, outs: [16], prologue: "layernorm", bias: true }, 4],
  ["layernorm, K = 131 (prime, scalar), N = 37", { K: 131, outs: [37], prologue: "layernorm" }, 1],
  ["x an aligned window + rmsnorm + bias", { K: 16, outs: [10], xWindow: { width: 40, offset: 8 }, prologue: "rmsnorm", bias: true }, 4],
  ["x an unaligned window (scalar) + residual", { K: 16, outs: [10], xWindow: { width: 40, offset: 3 }, residual: true }, 1],
  ["q|k|v side by side + layernorm + bias", { K: 24, outs: [13, 5, 5], prologue: "layernorm", bias: true }, 4],
  ["swiglu gate/up + rmsnorm + bias + residual, N = 29", { K: 16, outs: [29, 29], prologue: "rmsnorm", bias: true, activation: "swiglu", residual: true }, 4],
  ["gelu + bias", { K: 20, outs: [24], bias: true, activation: "gelu" }, 4],
  ["relu2, K = 18 (scalar) + residual", { K: 18, outs: [13], activation: "relu2", residual: true }, 1],
];

async function coop(
  c: Omit<LinearCase, "S">,
  schedule: Record<string, number>,
  seed: number,
  options: { graph?: (g: Graph) => Graph; weights?: (g: Graph) => WeightLayout; limits?: KernelLimits; half?: boolean } = {},
): Promise<NodeResult> {
  const tg = linearGraph({ ...c, S: 1 });
  const g = options.graph ? options.graph(tg.graph) : tg.graph;
  const feed = tg.feed(1, seed);
  return runNode(g, tg.node, options.half ? { ...feed, weights: halfValues(feed.weights) } : feed, {
    schedule,
    ...(options.weights ? { weights: options.weights(g) } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  });
}

const expectAll = (r: NodeResult, tol: number): void => r.errors.forEach((e, i) => expect(e, `result ${i}`).toBeLessThanOrEqual(tol));

describe("cooperative decode GEMV", () => {
  describe.each(SHAPES)("%s", (_, schedule) => {
    it.each(CASES)("%s", async (_, c, vec) => {
      const r = await coop(c, schedule, 7);
      expect(r.spec.schedule).toMatchObject({ ...schedule, vec, tileRows: 1, wgRows: 1, stage: (c.prologue ?? "none") === "none" ? 0 : 1 });
      expect(r.spec.workgroupSize).toBe(schedule["coop"]! * schedule["wgCols"]!);
      expect(r.spec.wgsl).toContain("var<workgroup> part:");
      expectAll(r, TOL);
    });
  });

  describe("f16 weights read packed (two halves per u32)", () => {
    const HALF: readonly [string, Omit<LinearCase, "S">][] = [
      ["plain, K = 16 (vec4 words)", { K: 16, outs: [33], plain: true }],
      ["plain, K = 18 (scalar), N = 19", { K: 18, outs: [19], plain: true }],
      ["layernorm + bias, K = 18 (scalar)", { K: 18, outs: [7], prologue: "layernorm", bias: true }],
      ["swiglu + rmsnorm + bias, N = 29", { K: 16, outs: [29, 29], prologue: "rmsnorm", bias: true, activation: "swiglu" }],
      ["q|k|v + rmsnorm + bias + residual", { K: 32, outs: [12, 7, 7], prologue: "rmsnorm", bias: true, residual: true }],
    ];
    it.each(HALF)("%s", async (_, c) => {
      for (const [, schedule] of SHAPES.slice(0, 2)) {
        const r = await coop(c, schedule, 9, { graph: halfWeights, half: true });
        expect(r.spec.bindings.some((b) => b.access !== "uniform" && b.dtype === "f16" && b.packed === true)).toBe(true);
        expect(r.spec.wgsl).toContain("unpack2x16float(");
        expect(r.spec.schedule["coop"]).toBe(schedule["coop"]);
        expectAll(r, TOL);
      }
    });
  });

  describe("f16 weights read 8 halves per load (schedule `wide`)", () => {
    const WIDE: readonly [string, Omit<LinearCase, "S">][] = [
      ["rmsnorm, K = 40, N = 37 (prime)", { K: 40, outs: [37], prologue: "rmsnorm" }],
      ["layernorm + bias + residual, K = 24, N = 13", { K: 24, outs: [13], prologue: "layernorm", bias: true, residual: true }],
      ["swiglu + grouped rmsnorm + bias, K = 16, N = 29", { K: 16, outs: [29, 29], prologue: "rmsnorm", group: 8, bias: true, activation: "swiglu" }],
    ];
    // (a function: SUBGROUP_SHAPES is declared below this describe's body, which runs at collection)
    // ...and the tiled decode, which stages the norm too (a CPU build's default behind a norm).
    const shapes = (): readonly (readonly [string, Record<string, number>])[] => [...SHAPES, ["subgroup lanes, the default shape", SUBGROUP_SHAPES[0]![1]], ["tiled, staged", { coop: 0 }]];
    it.each(WIDE)("%s: every shape, norm weights and an odd bias in W's binding", async (_, c) => {
      for (const [label, schedule] of shapes()) {
        // The layer's tensors share W's binding: the norm's weights read as half words (unpack_quad8), the bias as single halves.
        const r = await coop(c, schedule, 13, { graph: halfWeights, half: true, weights: layerLayout(1 << 20) });
        expect(r.spec.schedule["wide"], label).toBe(1);
        expect(r.spec.wgsl).toMatch(/var<storage, read> W\w*_norm_w\w*: array<vec4<u32>>;/);
        expect(r.spec.wgsl).toContain("unpack_quad8(");
        expectAll(r, TOL);
      }
    });

    it("K = 20 (vec4, not whole octets) and a plain GEMV (x from storage) read 4 halves per load; `wide: 0` overrides", async () => {
      const odd = await coop({ K: 20, outs: [9], prologue: "rmsnorm" }, SHAPES[0]![1], 5, { graph: halfWeights, half: true });
      expect(odd.spec.schedule).toMatchObject({ vec: 4, wide: 0 });
      expect(odd.spec.wgsl).toContain("array<vec2<u32>>");
      expectAll(odd, TOL);
      const plain = await coop({ K: 32, outs: [9], plain: true }, SHAPES[0]![1], 5, { graph: halfWeights, half: true });
      expect(plain.spec.schedule).toMatchObject({ vec: 4, wide: 0 });
      expectAll(plain, TOL);
      for (const schedule of [{ ...SHAPES[0]![1], wide: 0 }, { coop: 0, wide: 0 }] as Record<string, number>[]) {
        const narrow = await coop(WIDE[0]![1], schedule, 13, { graph: halfWeights, half: true });
        expect(narrow.spec.schedule).toMatchObject(schedule);
        expect(narrow.spec.wgsl).not.toContain("array<vec4<u32>>");
        expectAll(narrow, TOL);
      }
      const tiledOdd = await coop({ K: 20, outs: [9], prologue: "rmsnorm" }, { coop: 0 }, 5, { graph: halfWeights, half: true });
      expect(tiledOdd.spec.schedule).toMatchObject({ coop: 0, stage: 1, vec: 4, wide: 0 });
      expectAll(tiledOdd, TOL);
    });

    it("a W bound as row windows of whole octets", async () => {
      const c: Omit<LinearCase, "S"> = { K: 16, outs: [37], prologue: "rmsnorm", bias: true };
      for (const [label, schedule] of shapes()) {
        const r = await coop(c, schedule, 3, { graph: halfWeights, half: true, weights: layerLayout(512, ["W0"]), limits: { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: 512 } });
        expect(r.spec.schedule["wide"], label).toBe(1);
        expect(r.spec.bindings.filter((b) => b.access !== "uniform" && b.window !== undefined).length, "W0 is bound as windows").toBeGreaterThan(1);
        expect(r.spec.wgsl).toContain("fn W_at(i: u32) -> vec4<u32>");
        expectAll(r, TOL);
      }
    });
  });

  it.each([
    ["f32 vec4 W (37 x 16) in row windows of 8 rows", { K: 16, outs: [37], prologue: "rmsnorm" as const, bias: true }, 512, false],
    ["f32 scalar W (70 x 18) in row windows", { K: 18, outs: [70], residual: true }, 2400, false],
    ["f16 vec4 W (37 x 16) in row windows", { K: 16, outs: [37], prologue: "rmsnorm" as const }, 512, true],
  ])("%s", async (_, c, limitBytes, half) => {
    // W0 and x's table alone (W0 windowed), the rest in one layer buffer.
    const layout = (g: Graph): WeightLayout => {
      const alone = ["W0", "x.table"];
      const inLayer = (name: string): string => (alone.includes(name) ? name : `t.layers.0.${name}`);
      const entries = g.nodes.flatMap((n) =>
        n.op === "weight" ? [{ name: inLayer(n.attrs.name), shape: n.attrs.type.shape as number[], dtype: half ? ("f16" as const) : ("f32" as const) }] : [],
      );
      const l = weightLayout(entries, { maxStorageBufferBindingSize: limitBytes });
      return { ...l, of: (name) => l.of(inLayer(name)) };
    };
    for (const [, schedule] of SHAPES) {
      const r = await coop(c, schedule, 3, {
        weights: layout,
        limits: { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: limitBytes },
        ...(half ? { graph: halfWeights, half: true } : {}),
      });
      expect(r.spec.bindings.filter((b) => b.access !== "uniform" && b.window !== undefined).length, "W0 is bound as windows").toBeGreaterThan(1);
      expect(r.spec.wgsl).toContain("fn W_at(i: u32)");
      expect(r.spec.schedule["coop"]).toBe(schedule["coop"]);
      expectAll(r, TOL);
    }
  });

  it("falls back to the tiled schedule when its workgroup memory does not fit, and shrinks to the adapter's workgroup", async () => {
    // Half of 2 KiB: K = 300 staged needs 4 * (300 + 64 + 64 * 4) bytes.
    const small = await coop({ K: 300, outs: [21], prologue: "rmsnorm" }, { coop: 4, wgCols: 16, tileCols: 4 }, 5, {
      limits: { ...DEFAULT_LIMITS, maxComputeWorkgroupStorageSize: 2048 },
    });
    expect(small.spec.schedule["coop"]).toBe(0); // an override that does not fit stays tiled, as the default does
    expectAll(small, TOL);
    const fallback = await runDefault({ K: 300, outs: [21], prologue: "rmsnorm" }, { ...DEFAULT_LIMITS, maxComputeWorkgroupStorageSize: 2048 });
    expect(fallback.spec.schedule["coop"]).toBe(0); // ...the default falls back
    expectAll(fallback, TOL);
    const narrow = await runDefault(
      { K: 40, outs: [50], prologue: "layernorm", bias: true },
      { ...DEFAULT_LIMITS, maxComputeInvocationsPerWorkgroup: 16, maxComputeWorkgroupSizeX: 16 },
    );
    expect(narrow.spec.workgroupSize).toBeLessThanOrEqual(16);
    expectAll(narrow, TOL);
  });
});

/** Subgroup shapes: [label, override]; a tile's lanes are one subgroup, `coop` x `wgCols` only sizes the workgroup. */
const SUBGROUP_SHAPES: readonly [string, Record<string, number>][] = [
  ["64 invocations, 16 tiles of 4 columns (the default shape)", { coop: 4, wgCols: 16, tileCols: 4, subgroup: 1 }],
  ["32 invocations, 4 tiles of 1 column, chunked lanes", { coop: 8, wgCols: 4, tileCols: 1, coopChunked: 1, subgroup: 1 }],
  ["64 invocations, 2 tiles of 3 columns", { coop: 32, wgCols: 2, tileCols: 3, subgroup: 1 }],
];

describe("decode GEMV with subgroup reductions", () => {
  beforeAll(async () => {
    const device = await getDevice();
    // Mesa's lavapipe (bookworm-backports, what .ci/install installs) has subgroups of 8.
    expect(device.features.has("subgroups"), "the adapter has no `subgroups` feature; these tests need one that has (bash .ci/install installs lavapipe, which does)").toBe(true);
  });

  it.each(CASES)("the default shape: %s", async (_, c, vec) => {
    const schedule = SUBGROUP_SHAPES[0]![1];
    const r = await coop(c, schedule, 7);
    expect(r.spec.schedule).toMatchObject({ ...schedule, vec, tileRows: 1, wgRows: 1, stage: (c.prologue ?? "none") === "none" ? 0 : 1 });
    expect(r.spec.features).toEqual(["subgroups"]);
    expect(r.spec.wgsl).toContain("enable subgroups;");
    expect(r.spec.wgsl).toContain("subgroupAdd(");
    expect(r.spec.wgsl).not.toContain("var<workgroup> part:");
    expectAll(r, TOL);
  });

  describe.each(SUBGROUP_SHAPES.slice(1))("%s", (_, schedule) => {
    it.each(CASES.filter((_, i) => [0, 1, 2, 4, 12].includes(i)))("%s", async (_, c) => {
      const r = await coop(c, schedule, 11);
      expect(r.spec.schedule).toMatchObject(schedule);
      expect(r.spec.workgroupSize).toBe(schedule["coop"]! * schedule["wgCols"]!);
      expectAll(r, TOL);
    });
  });

  it("f16 weights read packed, and a weight bound as row windows", async () => {
    const schedule = SUBGROUP_SHAPES[0]![1];
    const half = await coop({ K: 16, outs: [29, 29], prologue: "rmsnorm", bias: true, activation: "swiglu" }, schedule, 9, { graph: halfWeights, half: true });
    expect(half.spec.wgsl).toContain("unpack2x16float(");
    expectAll(half, TOL);
    const layout = (g: Graph): WeightLayout => {
      const entries = g.nodes.flatMap((n) => (n.op === "weight" ? [{ name: n.attrs.name === "W0" || n.attrs.name === "x.table" ? n.attrs.name : `t.layers.0.${n.attrs.name}`, shape: n.attrs.type.shape as number[], dtype: "f32" as const }] : []));
      const l = weightLayout(entries, { maxStorageBufferBindingSize: 512 });
      return { ...l, of: (name) => l.of(name === "W0" || name === "x.table" ? name : `t.layers.0.${name}`) };
    };
    const windowed = await coop({ K: 16, outs: [37], prologue: "rmsnorm", bias: true }, schedule, 3, { weights: layout, limits: { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: 512 } });
    expect(windowed.spec.wgsl).toContain("fn W_at(i: u32)");
    expectAll(windowed, TOL);
  });

  it("is what a device-bound build uses when the device has the feature (subgroupsFor), unless told not to", async () => {
    const device = await getDevice();
    const s = spec(MODELS[0]![1]);
    expect(subgroupsFor(device)).toBe(true);
    expect(artifactFor(device, s.model, s.source).features).toContain("subgroups");
    expect(artifactFor(device, s.model, s.source, { subgroups: false }).features).not.toContain("subgroups");
  });

  it("is the decode default of a build with subgroups, and 4 decode steps of a hybrid match interp", async () => {
    const s = spec(MODELS[1]![1]);
    const m: ResolvedModel = s.model;
    const { f32, f64 } = weightsOf(m);
    const artifact = await built(s, { subgroups: true });
    expect(artifact.features).toContain("subgroups");
    const { memory, decode, destroy } = await programsOf(artifact, f32, []);
    try {
      const linears = decode.specs.filter((k) => k.op === "linear" || k.op === "fused_linear");
      expect(linears.length).toBeGreaterThan(0);
      // Cooperative GEMVs sum with subgroupAdd; behind a staged norm a CPU build's GEMV is tiled (no lanes to reduce).
      for (const k of linears) expect(k.schedule["subgroup"], k.name).toBe(k.schedule["stage"] === 1 ? 0 : 1);
      expect(linears.some((k) => k.schedule["subgroup"] === 1)).toBe(true);
      await decodeMatchesInterp(m, f64, memory, decode);
    } finally {
      destroy();
    }
  }, 600_000);
});

describe("the default decode shapes spread their tiles evenly", () => {
  it("20 tiles make 2 workgroups of 10 (not 16 + 4), with or without a staged norm (its tree reduction over 40 invocations)", async () => {
    // mamba-130m's x_proj: 1536 -> 80, 4 columns a tile.
    const plain = await coop({ K: 1536, outs: [80], plain: true }, {}, 5);
    expect(plain.spec.schedule).toMatchObject({ coop: 4, wgCols: 10, tileCols: 4 });
    expect(plain.spec.workgroupSize).toBe(40);
    expect(plain.spec.dispatch).toEqual({ lTile: null, times: 2 });
    expectAll(plain, TOL);
    // 9 columns with a bias: 3 tiles, one workgroup of 3 slots.
    const small = await coop({ K: 16, outs: [9], bias: true }, {}, 5);
    expect(small.spec.schedule).toMatchObject({ coop: 4, wgCols: 3 });
    expectAll(small, TOL);
    // Evenly divided already: untouched.
    const even = await coop({ K: 64, outs: [128], plain: true }, {}, 5);
    expect(even.spec.schedule).toMatchObject({ coop: 4, wgCols: 16 });
    expectAll(even, TOL);
    // A norm staged and tree-reduced over a workgroup that is not a power of two (cooperative by
    // request; layernorm: two reductions).
    for (const prologue of ["rmsnorm", "layernorm"] as const) {
      const norm = await coop({ K: 300, outs: [80], prologue, bias: true }, { coop: 4 }, 5);
      expect(norm.spec.schedule).toMatchObject({ coop: 4, wgCols: 10, stage: 1 });
      expect(norm.spec.workgroupSize).toBe(40);
      expect(norm.spec.wgsl).toContain("lid + h < 40u");
      expectAll(norm, TOL);
    }
  });
});

describe("decode accumulators (schedule dotAcc)", () => {
  // Every decode schedule with vec4 loads: each (weight, column) adds a step's dot product to one
  // f32 by default; dotAcc 0 keeps four FMA lanes summed at the end. Both against float64.
  const KINDS: readonly [string, Record<string, number>][] = [
    ["tiled", { coop: 0 }],
    ["cooperative", SHAPES[0]![1]],
    ["subgroup", SUBGROUP_SHAPES[0]![1]],
  ];
  const ACC_CASES: readonly [string, Omit<LinearCase, "S">, boolean][] = [
    ["plain, K = 16, N = 33", CASES[0]![1], false],
    ["rmsnorm, K = 300, N = 257 (prime)", CASES[4]![1], false],
    ["swiglu gate/up + rmsnorm + bias + residual", CASES[12]![1], false],
    ["f16, 8 halves a load: rmsnorm, K = 40, N = 37", { K: 40, outs: [37], prologue: "rmsnorm" }, true],
    ["f16, 4 halves a load: plain, K = 32, N = 9", { K: 32, outs: [9], plain: true }, true],
  ];
  describe.each(KINDS)("%s", (kind, base) => {
    it.each(ACC_CASES)("%s", async (_, c, half) => {
      for (const dotAcc of [1, 0]) {
        const r = await coop(c, dotAcc === 1 ? base : { ...base, dotAcc }, 17, half ? { graph: halfWeights, half: true } : {});
        expect(r.spec.schedule, kind).toMatchObject({ vec: 4, dotAcc });
        // dot products into f32 accumulators, or FMAs into vec4 ones
        expect(/acc\w* \+= dot\(/.test(r.spec.wgsl), kind).toBe(dotAcc === 1);
        expect(/var acc\w* = vec4<f32>\(/.test(r.spec.wgsl), kind).toBe(dotAcc === 0);
        expectAll(r, TOL);
      }
    });
  });

  it("scalar loads and prefill keep vector FMA accumulators", async () => {
    const scalar = await coop(CASES[1]![1], {}, 3);
    expect(scalar.spec.schedule).toMatchObject({ vec: 1, dotAcc: 0 });
    expectAll(scalar, TOL);
    const tg = linearGraph({ K: 16, outs: [9], prologue: "rmsnorm", S: 5 });
    const prefill = await runNode(tg.graph, tg.node, tg.feed(5, 3));
    expect(prefill.spec.schedule).toMatchObject({ vec: 4, tileRows: 4, dotAcc: 0 });
    expectAll(prefill, TOL);
  });
});

describe("a build for a GPU (target `gpu`)", () => {
  it("shapes the decode GEMVs 4 tiles x 32 lanes a workgroup (2 columns a tile, 1 for swiglu), subgroups or not; 4 decode steps of a hybrid match interp", async () => {
    const s = spec(MODELS[1]![1]);
    const m: ResolvedModel = s.model;
    const { f32, f64 } = weightsOf(m);
    for (const subgroups of [false, true]) {
      const artifact = await built(s, { target: "gpu", subgroups });
      const { memory, decode, destroy } = await programsOf(artifact, f32, []);
      try {
        const linears = decode.specs.filter((k) => k.op === "linear" || k.op === "fused_linear");
        expect(linears.length).toBeGreaterThan(0);
        for (const k of linears) {
          const swiglu = k.wgsl.includes("silu(");
          expect(k.schedule, k.name).toMatchObject({ coop: 32, wgCols: 4, tileCols: swiglu ? 1 : 2, subgroup: subgroups ? 1 : 0 });
          expect(k.workgroupSize).toBe(128);
        }
        await decodeMatchesInterp(m, f64, memory, decode);
      } finally {
        destroy();
      }
    }
  }, 600_000);

  it("mamba-130m's in_proj: 384 workgroups instead of a CPU build's 12 (tiled, 4 columns an invocation)", async () => {
    const { readFileSync } = await import("node:fs");
    const s = spec(readFileSync(new URL("../../specs/mamba-130m.hyb", import.meta.url), "utf8"));
    const grid = async (target: "cpu" | "gpu"): Promise<number> => {
      const k = (await built(s, { target })).decode.call.find((c) => c.name === "layers.0.mixer.in_proj+conv1d")!;
      return k.dispatch.times;
    };
    expect(await grid("cpu")).toBe(12);
    expect(await grid("gpu")).toBe(384);
  });
});

/** Random weights of `m` (seed 13) as the GPU gets them (f32) and the same values in float64 for the interpreter. */
function weightsOf(m: ResolvedModel): { f32: Record<string, Float32Array>; f64: Record<string, Float64Array> } {
  const f32: Record<string, Float32Array> = {};
  const f64: Record<string, Float64Array> = {};
  for (const [n, a] of Object.entries(randomWeights(m, 13))) {
    f32[n] = Float32Array.from(a);
    f64[n] = Float64Array.from(f32[n]!);
  }
  return { f32, f64 };
}

/** 4 decode steps from zero state on the GPU against the float64 interpreter of the decode graph. */
async function decodeMatchesInterp(m: ResolvedModel, f64: Record<string, Float64Array>, memory: GpuModelMemory, decode: GpuProgram): Promise<void> {
  memory.resetState();
  const ref = lowerDecode(m);
  let state: State = zeroState(m);
  for (const [i, t] of randomTokens(m, 4, 17).entries()) {
    const g = await decode.run([t], i);
    const d = runGraph(ref, m, f64, [t], i, state);
    state = d.state;
    expect(relError(Float64Array.from(g), d.logits), `decode step ${i}`).toBeLessThanOrEqual(1e-4);
  }
}

async function runDefault(c: Omit<LinearCase, "S">, limits: KernelLimits): Promise<NodeResult> {
  const tg = linearGraph({ ...c, S: 1 });
  return runNode(tg.graph, tg.node, tg.feed(1, 5), { limits });
}

const MODELS: readonly [string, string][] = [
  [
    "mamba-1, tied LM head with the final norm, vocab 97 prime",
    `model gemv_mamba1 {
  vocab = 97
  d_model = 16
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  layers = [ssm, ssm]
}`,
  ],
  [
    "mamba-2 + GQA attention + SwiGLU MLP, untied",
    `model gemv_hybrid {
  vocab = 61
  d_model = 32
  tied = false
  context = 64
  ssm = mamba2(d_state = 16, expand = 2, d_conv = 4, headdim = 16, chunk = 8)
  attn = attention(heads = 4, kv_heads = 2, rope = rope(theta = 10_000))
  ffn = mlp(swiglu, hidden = 48)
  layers = [ssm + ffn, attn + ffn]
}`,
  ],
];

describe.each(MODELS)("decode steps of %s", (_, text) => {
  const s = spec(text);
  const m: ResolvedModel = s.model;
  const { f32, f64 } = weightsOf(m);
  let memory: GpuModelMemory;
  let decode: GpuProgram;

  beforeAll(async () => {
    ({ memory, decode } = await programsOf(await built(s), f32, []));
  }, 600_000);

  it("takes the tiled GEMV behind a staged norm and the cooperative one elsewhere (a CPU build), and 4 decode steps match interp", async () => {
    const linears = decode.specs.filter((k) => k.op === "linear" || k.op === "fused_linear");
    const staged = linears.filter((k) => k.schedule["stage"] === 1);
    expect(staged.length).toBeGreaterThan(0);
    expect(staged.length).toBeLessThan(linears.length);
    for (const k of linears) expect(k.schedule["coop"], k.name).toBe(k.schedule["stage"] === 1 ? 0 : 4);
    await decodeMatchesInterp(m, f64, memory, decode);
  });
});
